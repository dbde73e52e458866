"""A site installation, end to end: `python -m build` makes a wheel and an sdist that carry what
they must; `scripts/install.sh --destdir` lays out /opt, /etc, /var/lib, /var/log, the system
user and the units in a throwaway root; `systemd-analyze verify` finds the units clean; and each
unit's commands run the way systemd would start them (as the unit's user and group, with its
environment and umask) -- the server answers HTTP, the marketplace too, the node placeholder
explains itself.

Paths the units name (/opt/stratuslab, /etc/stratuslab, /var/...) are mapped into the throwaway
root; nothing is installed on the host.
"""

from __future__ import annotations

import configparser
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.helpers.net import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UNITS = ("stratus-server.service", "stratus-server@.service", "stratus-node.service",
         "stratus-marketplace.service")
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    return out


@pytest.fixture(scope="module")
def root(dist: Path) -> Iterator[Path]:
    """The throwaway root, world-traversable so that the service user reaches its files."""
    base = Path(tempfile.mkdtemp(prefix="stratuslab-root-", dir="/var/tmp"))
    base.chmod(0o755)
    (base / "etc").mkdir()
    for name in ("passwd", "group"):  # new system ids must not clash with the host's
        shutil.copy(f"/etc/{name}", base / "etc" / name)
    [wheel] = dist.glob("*.whl")
    res = subprocess.run([str(REPO / "scripts" / "install.sh"), "--destdir", str(base),
                          "--wheel", str(wheel)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_wheel_and_sdist_carry_package_data_units_and_docs(dist: Path) -> None:
    [wheel] = dist.glob("stratuslab-*.whl")
    [sdist] = dist.glob("stratuslab-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    src = REPO / "src"
    data = [p.relative_to(src).as_posix() for p in (src / "stratuslab").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data and [d for d in data if d not in names] == []
    assert any(n.endswith("migrations/versions/0001_initial_schema.py") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for command in ("stratus-server", "stratus-node", "stratus-marketplace", "stratus"):
        assert f"\n{command} = " in scripts
    top = sdist.name.removesuffix(".tar.gz")
    members = set(tarfile.open(sdist).getnames())
    for path in ("scripts/install.sh", "docs/configuration.md", "packaging/stratuslab.toml",
                 *(f"packaging/systemd/{u}" for u in UNITS)):
        assert f"{top}/{path}" in members


def _account(root: Path, name: str) -> tuple[int, int, str]:
    for line in (root / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3]), fields[5]
    raise AssertionError(f"no user {name} in {root}/etc/passwd")


def test_install_lays_out_a_site_with_a_system_user(root: Path) -> None:
    uid, gid, home = _account(root, "stratuslab")
    assert uid < 1000 and home == "/var/lib/stratuslab"
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)  # created in the throwaway root only
    for path, mode, owner in (("etc/stratuslab", 0o750, (0, gid)),
                              ("etc/stratuslab/stratuslab.toml", 0o640, (0, gid)),
                              ("var/lib/stratuslab", 0o750, (uid, gid)),
                              ("var/log/stratuslab", 0o750, (uid, gid))):
        st = (root / path).stat()
        assert (stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)) == (mode, owner), path
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).is_file()
    assert (root / "opt/stratuslab/share/doc/stratuslab/configuration.md").is_file()
    again = subprocess.run([str(REPO / "scripts" / "install.sh"), "--destdir", str(root),
                            "--wheel", str(root / "missing.whl")],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and f"no wheel at {root}/missing.whl" in again.stderr


def test_units_are_clean_for_systemd_analyze_verify(root: Path) -> None:
    # verify resolves units and commands inside --root: give it the host's own system units
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system",
                    dirs_exist_ok=True, symlinks=True)
    res = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                          "stratus-server.service", "stratus-server@8081.service",
                          "stratus-node.service", "stratus-marketplace.service"],
                         capture_output=True, text=True, timeout=120, cwd=root)
    assert (res.returncode, res.stdout + res.stderr) == (0, "")
    # the all-in-one drop-in (real guests on one host today) is clean too
    dropin = root / "etc/systemd/system/stratus-server.service.d"
    dropin.mkdir()
    shutil.copy(root / "opt/stratuslab/share/stratuslab/systemd/all-in-one.conf", dropin)
    try:
        res = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                              "stratus-server.service"], capture_output=True, text=True,
                             timeout=120, cwd=root)
        assert (res.returncode, res.stdout + res.stderr) == (0, "")
    finally:
        shutil.rmtree(dropin)
    for unit in ("stratus-server.service", "stratus-marketplace.service"):
        res = subprocess.run(["systemd-analyze", "security", f"--root={root}", "--offline=yes",
                              "--threshold=40", unit], capture_output=True, text=True,
                             timeout=120, cwd=root)
        assert res.returncode == 0, res.stdout[-1500:]


class Unit:
    """A unit's [Service] as systemd would run it, its paths mapped into the throwaway root."""

    def __init__(self, root: Path, name: str, instance: str = "") -> None:
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(root / "etc/systemd/system" / name)
        self.root, self.service = root, parser["Service"]
        self.instance = instance

    def argv(self, key: str) -> list[str]:
        line = self.service[key].replace("%i", self.instance)
        return [self._map(a) for a in shlex.split(line)]

    def _map(self, arg: str) -> str:
        for top in ("/opt/stratuslab", "/etc/stratuslab", "/var/lib/stratuslab",
                    "/var/log/stratuslab"):
            if arg.startswith(top):
                return str(self.root) + arg
        return arg

    def run(self, key: str, **extra_env: str) -> subprocess.Popen[str]:
        user = self.service.get("User")
        uid, gid, home = _account(self.root, user) if user else (0, 0, "/root")
        env = {"PATH": SYSTEMD_PATH, "HOME": self._map(home), "LANG": "C.UTF-8"}
        if user:
            env.update(USER=user, LOGNAME=user)
        for assignment in shlex.split(self.service.get("Environment", "")):
            k, _, v = assignment.partition("=")
            env[k] = self._map(v)
        env.update(extra_env)
        return subprocess.Popen(self.argv(key), user=uid, group=gid, extra_groups=[],
                                umask=int(self.service.get("UMask", "0022"), 8), env=env,
                                cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)


def _site_config(root: Path) -> None:
    """The installed settings, with their /var paths inside the throwaway root."""
    cfg = root / "etc/stratuslab/stratuslab.toml"
    cfg.write_text(cfg.read_text().replace('"/var/', f'"{root}/var/'))


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    return out + err


def _wait_http(url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the service exited: {_stop(proc)[-3000:]}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 180 s: {_stop(proc)[-3000:]}")


def test_units_start_as_their_user_with_their_environment(root: Path) -> None:
    _site_config(root)
    uid, gid, _home = _account(root, "stratuslab")
    server = Unit(root, "stratus-server@.service", instance=str(free_port()))
    check = server.run("ExecStartPre")
    assert check.wait(120) == 0 and "stratuslab.toml: ok" in _stop(check)
    create = subprocess.run(
        [str(root / "opt/stratuslab/bin/stratus-server"), "db", "upgrade", "--create", "--config",
         str(root / "etc/stratuslab/stratuslab.toml")],
        user=uid, group=gid, extra_groups=[], umask=0o027, capture_output=True, text=True,
        timeout=300, env={"PATH": SYSTEMD_PATH})  # what install.sh does on a real root
    assert create.returncode == 0, create.stderr
    proc = server.run("ExecStart")
    port = server.instance
    res = _wait_http(f"http://127.0.0.1:{port}/api/v1/openapi.json", proc)
    assert res.status_code == 200 and res.headers["x-request-id"].startswith("req-")
    log = _stop(proc)
    assert f"listening on http://127.0.0.1:{port}" in log
    data = root / "var/lib/stratuslab"
    made = [p for p in data.rglob("*")]
    assert made and all(p.stat().st_uid == uid for p in made)
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o007 == 0 for p in made)  # UMask=0027
    assert (root / "var/log/stratuslab/server.log").stat().st_uid == uid

    market = Unit(root, "stratus-marketplace.service")
    (root / "var/lib/stratuslab/marketplace").mkdir(mode=0o750)  # StateDirectory=
    os.chown(root / "var/lib/stratuslab/marketplace", uid, gid)
    mport = free_port()
    market.service["ExecStart"] = market.service["ExecStart"].replace(":9204", f":{mport}")
    proc = market.run("ExecStart")
    res = _wait_http(f"http://127.0.0.1:{mport}/", proc)
    assert res.status_code < 500
    _stop(proc)
    assert (root / "var/lib/stratuslab/marketplace/marketplace.db").stat().st_uid == uid

    node = Unit(root, "stratus-node.service")
    proc = node.run("ExecStart")  # the agent starts once the host is enrolled, and says so
    assert proc.wait(120) != 0 and "stratus-node enroll" in _stop(proc)
