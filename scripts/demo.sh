#!/usr/bin/env bash
# The main job: install what is missing, start an all-in-one StratusLab cloud (SQLite, QEMU) in the
# background, build the tiny guest image from Debian packages, boot a real VM and show it running.
# Re-running it restarts the demo cloud.  Settings: STRATUSLAB_DEMO_DIR, STRATUSLAB_DEMO_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
# Root is needed (apt-get, network namespaces). As root, go on; otherwise elevate once with sudo.
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    echo "$(basename "$0"): not root; re-running with sudo"
    exec sudo --preserve-env=STRATUSLAB_DEMO_DIR,STRATUSLAB_DEMO_PORT,STRATUSLAB_SLOW_TESTS,CI "$0" "$@"
  fi
  echo "$(basename "$0"): needs root (apt-get, network namespaces) and sudo is not installed; run it as root" >&2
  exit 1
fi
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

DIR=${STRATUSLAB_DEMO_DIR:-/var/tmp/stratuslab-demo}
PORT=${STRATUSLAB_DEMO_PORT:-8080}
ENDPOINT="http://127.0.0.1:$PORT"
mkdir -p "$DIR"

if [ -f "$DIR/server.pid" ] && kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then
  echo "demo: stopping the previous demo server (pid $(cat "$DIR/server.pid"))"
  kill "$(cat "$DIR/server.pid")"; sleep 2
fi
if [ ! -s "$DIR/admin-password" ]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(12))' > "$DIR/admin-password"
  chmod 600 "$DIR/admin-password"
fi
PASSWORD=$(cat "$DIR/admin-password")

echo "demo: starting stratus-server --all-in-one on $ENDPOINT (data in $DIR/data, log in $DIR/server.log)"
STRATUSLAB_ADMIN_PASSWORD="$PASSWORD" nohup stratus-server --all-in-one --data-dir "$DIR/data" \
  --listen "127.0.0.1:$PORT" >"$DIR/server.log" 2>&1 &
echo $! > "$DIR/server.pid"
for _ in $(seq 1 100); do
  curl -fs "$ENDPOINT/api/v1/openapi.json" >/dev/null 2>&1 && break
  kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null || { cat "$DIR/server.log"; exit 1; }
  sleep 0.2
done

S=(stratus --endpoint "$ENDPOINT" -u admin -p "$PASSWORD")
echo "demo: building the tiny guest image from Debian packages (cached after the first time)"
IMAGE=$("${S[@]}" image build tiny)
echo "demo: image $IMAGE; booting a VM named 'demo'"
VM=$("${S[@]}" run-instance "$IMAGE" --vm-name demo -t t1.micro -q | cut -d, -f1)

echo -n "demo: waiting for the guest's ready line"
for _ in $(seq 1 180); do
  if "${S[@]}" console "$VM" 2>/dev/null | grep -q '^stratuslab-ready'; then break; fi
  echo -n "."; sleep 1
done
echo
"${S[@]}" describe-instance "$VM"
echo
echo "serial console of VM $VM:"
"${S[@]}" console "$VM" | grep '^stratuslab-ready' || { echo "the guest did not report ready"; exit 1; }
cat <<MSG

The cloud runs in the background (pid $(cat "$DIR/server.pid")). To look around:
  export PATH=$PWD/.venv/bin:\$PATH
  stratus --endpoint $ENDPOINT -u admin -p \$(cat $DIR/admin-password) describe-instance -v $VM
  stratus --endpoint $ENDPOINT -u admin -p \$(cat $DIR/admin-password) console $VM
  REST API: $ENDPOINT/api/v1/docs
To stop everything:
  stratus --endpoint $ENDPOINT -u admin -p \$(cat $DIR/admin-password) kill-instance $VM
  kill \$(cat $DIR/server.pid)          # guests and their network outlive the server by design
  $PWD/.venv/bin/stratus-server remove-data-plane --data-dir $DIR/data   # then remove the network namespace
MSG
