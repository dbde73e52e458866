#!/usr/bin/env bash
# Install StratusLab for a site (Debian 12, as root):
#   /opt/stratuslab                      a Python environment with the wheel and the stratus-* commands
#   /etc/stratuslab/stratuslab.toml      site settings (kept when it exists)
#   /var/lib/stratuslab, /var/log/stratuslab   data and logs, owned by the system user 'stratuslab'
#   /etc/systemd/system/stratus-{server,server@,node,marketplace}.service   hardened units
# then creates the database (SQLite) as that user and reloads systemd.  Nothing is started.
#
# Options:
#   --wheel FILE     install this wheel (default: build one with python -m build into dist/)
#   --destdir DIR    lay everything out under DIR instead of / (also DESTDIR=DIR): to look at or
#                    test the layout; the Python environment in it runs from where it is
#   --prefix DIR     where the Python environment goes (default /opt/stratuslab; the units name it)
#   --postgres       also install the PostgreSQL driver (psycopg)
set -euo pipefail
cd "$(dirname "$0")/.."

DESTDIR=${DESTDIR:-}
PREFIX=/opt/stratuslab
WHEEL=""
EXTRAS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) WHEEL=$(realpath -m "$2"); shift 2 ;;
    --destdir) DESTDIR=$(realpath -m "$2"); shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --postgres) EXTRAS="[postgres]"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: installing into / needs root (or give --destdir DIR to try the layout)" >&2
  exit 1
fi
if [ "$PREFIX" != /opt/stratuslab ]; then
  echo "install.sh: note: the units name /opt/stratuslab; with --prefix $PREFIX edit their ExecStart="
fi
for tool in systemd-sysusers systemd-tmpfiles; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool is missing (Debian package systemd)" >&2; exit 1; }
done
# the system's Python (a service must not depend on a user's own interpreter under /root or ~)
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
root=${DESTDIR:-}

echo "install.sh: 1/6 the wheel"
if [ -z "$WHEEL" ]; then
  builder=$PY
  if [ -x .venv/bin/python ]; then builder=.venv/bin/python; fi
  if ! "$builder" -c 'import build' 2>/dev/null; then
    echo "install.sh: python -m build is missing: run scripts/setup.sh, or pip install build, or give --wheel FILE" >&2
    exit 1
  fi
  "$builder" -m build --wheel --outdir dist . >/dev/null
  WHEEL=$(ls -t dist/stratuslab-*.whl | head -n 1)
fi
[ -f "$WHEEL" ] || { echo "install.sh: no wheel at $WHEEL" >&2; exit 1; }

echo "install.sh: 2/6 the Python environment in $root$PREFIX ($(basename "$WHEEL"))"
mkdir -p "$root$PREFIX"
[ -x "$root$PREFIX/bin/python" ] || "$PY" -m venv "$root$PREFIX"
"$root$PREFIX/bin/python" -m pip install -q --upgrade "$WHEEL$EXTRAS" 2>&1 | grep -v '^WARNING: Location' || true
"$root$PREFIX/bin/stratus-server" --version >/dev/null
install -d -m 0755 "$root$PREFIX/share/doc/stratuslab"
install -m 0644 README.md docs/*.md "$root$PREFIX/share/doc/stratuslab/"

echo "install.sh: 3/6 the system user 'stratuslab'"
install -d -m 0755 "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc"
install -m 0644 packaging/sysusers.d/stratuslab.conf "$root/usr/lib/sysusers.d/stratuslab.conf"
install -m 0644 packaging/tmpfiles.d/stratuslab.conf "$root/usr/lib/tmpfiles.d/stratuslab.conf"
systemd-sysusers --root="${root:-/}" "$root/usr/lib/sysusers.d/stratuslab.conf"

echo "install.sh: 4/6 /etc/stratuslab, /var/lib/stratuslab, /var/log/stratuslab"
systemd-tmpfiles --root="${root:-/}" --create "$root/usr/lib/tmpfiles.d/stratuslab.conf"
if [ ! -e "$root/etc/stratuslab/stratuslab.toml" ]; then
  install -m 0640 packaging/stratuslab.toml "$root/etc/stratuslab/stratuslab.toml"
  chgrp --reference="$root/etc/stratuslab" "$root/etc/stratuslab/stratuslab.toml"
else
  echo "install.sh: keeping $root/etc/stratuslab/stratuslab.toml"
fi

echo "install.sh: 5/6 systemd units"
install -d -m 0755 "$root/etc/systemd/system" "$root$PREFIX/share/stratuslab/systemd"
install -m 0644 packaging/systemd/*.service "$root/etc/systemd/system/"
install -m 0644 packaging/systemd/stratus-server.service.d/all-in-one.conf "$root$PREFIX/share/stratuslab/systemd/"

echo "install.sh: 6/6 the database"
if [ -n "$DESTDIR" ]; then
  echo "install.sh: (under --destdir: not creating the database nor reloading systemd)"
else
  runuser -u stratuslab -- "$PREFIX/bin/stratus-server" db upgrade --create --config /etc/stratuslab/stratuslab.toml
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi
cat <<MSG

StratusLab is installed in $root$PREFIX. Next:
  edit $root/etc/stratuslab/stratuslab.toml, then: $PREFIX/bin/stratus-server config check /etc/stratuslab/stratuslab.toml
  systemctl enable --now stratus-server          # or stratus-server@8081 ... for several front ends
  systemctl enable --now stratus-marketplace     # optional: a marketplace of your own
  $PREFIX/bin/stratus-server preflight --config /etc/stratuslab/stratuslab.toml   # what this host lacks
MSG
