"""Slow, opt-in: a standard Debian 12 cloud image (systemd, real cloud-init) reads our NoCloud seed.

Run with `STRATUSLAB_SLOW_TESTS=1 .venv/bin/pytest -m slow tests/integration/test_cloud_image.py`
(as root; measured here: ≈80 s with a cached image, of which ≈68 s boot to cloud-init's final
line under TCG; the first build adds ≈2-4 minutes of mmdebstrap).

The image is built from Debian packages only, with no loop devices: `mmdebstrap` (systemd,
cloud-init, openssh-server, linux-image-amd64 and its initramfs) into a directory, then
`mkfs.ext4 -d` and `qemu-img convert -O qcow2`.  No boot loader can be installed without a loop
device, so the image is registered with its own /boot/vmlinuz and /boot/initrd.img as kernel and
initrd.  It is cached under $STRATUSLAB_TEST_CACHE/images/cloud-debian12-<key>/ (the key hashes the
recipe and the candidate versions of the packages), like the tiny image.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.servers import Server, free_port, wait_console

pytestmark = [
    pytest.mark.slow, pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(1800),
    pytest.mark.skipif(os.environ.get("STRATUSLAB_SLOW_TESTS") != "1",
                       reason="slow real-cloud-image test (≈1.5 min, ≈4 min on a first build): run it with "
                              "STRATUSLAB_SLOW_TESTS=1 .venv/bin/pytest -m slow "
                              "tests/integration/test_cloud_image.py"),
]

CACHE = Path(os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")) / "images"
PACKAGES = ["systemd", "systemd-sysv", "udev", "cloud-init", "openssh-server", "linux-image-amd64",
            "initramfs-tools", "ifupdown", "isc-dhcp-client", "sudo"]
MIRRORS = ["deb http://deb.debian.org/debian bookworm main",
           "deb http://deb.debian.org/debian bookworm-updates main",
           "deb http://deb.debian.org/debian-security bookworm-security main"]
EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"]
LABEL = "cloudroot"
FSTAB = f"LABEL={LABEL} / ext4 defaults 0 0\n"
CMDLINE = f"root=LABEL={LABEL} rw console=ttyS0 panic=-1"
RECIPE = json.dumps([PACKAGES, MIRRORS, EXCLUDES, FSTAB, CMDLINE, 1])


def sh(*argv: str, timeout: float = 1800) -> str:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr[-3000:]}")
    return res.stdout


def candidates() -> str:
    """Candidate versions of the packages (and of the kernel the meta-package names)."""
    kernel = [line.split()[-1] for line in sh("apt-cache", "depends", "linux-image-amd64").splitlines()
              if "Depends:" in line and "linux-image-" in line]
    out = sh("apt-cache", "policy", *PACKAGES, *kernel)
    return "\n".join(line.strip() for line in out.splitlines()
                     if not line.startswith(" ") or "Candidate:" in line)


def build_cloud_image() -> Path:
    """The cached image directory: root.qcow2, vmlinuz, initrd.img (built on first use)."""
    if shutil.which("mmdebstrap") is None:
        sh("apt-get", "install", "-y", "mmdebstrap")
    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256((RECIPE + candidates()).encode()).hexdigest()[:16]
    final = CACHE / f"cloud-debian12-{key}"
    with open(CACHE / "cloud-debian12.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "image.json").exists():
            return final
        scratch = CACHE / f".cloud-debian12-{key}.tmp"
        shutil.rmtree(scratch, ignore_errors=True)
        root = scratch / "root"
        scratch.mkdir()
        try:
            _debootstrap(root)
            _pack(root, scratch)
            shutil.rmtree(root)
            os.rename(scratch, final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return final


def _debootstrap(root: Path) -> None:
    hooks = [f'printf "%s" "{FSTAB}" > "$1/etc/fstab"', 'rm -f "$1/etc/hostname"',
             'rm -f "$1/etc/machine-id" && touch "$1/etc/machine-id"']
    sh("mmdebstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
       *[f"--dpkgopt=path-exclude={e}" for e in EXCLUDES],
       *[f"--customize-hook={h}" for h in hooks], "bookworm", str(root), *MIRRORS)


def _pack(root: Path, out: Path) -> None:
    [vmlinuz] = sorted((root / "boot").glob("vmlinuz-*"))
    [initrd] = sorted((root / "boot").glob("initrd.img-*"))
    shutil.copyfile(vmlinuz, out / "vmlinuz")
    shutil.copyfile(initrd, out / "initrd.img")
    used = int(sh("du", "-sb", str(root)).split()[0])
    size_mib = used * 13 // 10 // 2**20 + 512
    raw = out / "root.raw"
    sh("mkfs.ext4", "-q", "-F", "-L", LABEL, "-E", "root_owner=0:0", "-d", str(root), str(raw),
       f"{size_mib}M")
    sh("qemu-img", "convert", "-O", "qcow2", str(raw), str(out / "root.qcow2"))
    raw.unlink()
    (out / "image.json").write_text(json.dumps({"cmdline": CMDLINE, "size_mib": size_mib}))


@pytest.fixture(scope="module")
def cloud_image() -> Path:
    started = time.monotonic()
    path = build_cloud_image()
    print(f"cloud image ready in {time.monotonic() - started:.1f} s: {path}")
    return path


@pytest.fixture(scope="module")
def cloud_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

    base = tmp_path_factory.mktemp("cloudimg")
    # the host end of the data plane lives in a namespace of this test, not on the real host
    host, plane = (f"slt{os.getpid() % 100000}-ci{role}" for role in ("host", "dp"))
    create_netns(host)
    cfg = base / "cfg.toml"
    cfg.write_text('[qemu]\naccel = "tcg"\n[hypervisor]\nshutdown_timeout = 10\n'
                   f'[network]\nhost_netns = "{host}"\nnetns = "{plane}"\n')
    srv = Server(base / "data", free_port(), args=["--config", str(cfg)])
    try:
        srv.start()
        yield srv, plane
        for vm in srv.cli_json("describe-instance"):
            srv.cli("kill-instance", str(vm["id"]), check=False)
    finally:
        srv.stop()
        srv.reap()
        for ns in (plane, host):
            delete_netns(ns)


def ssh_hostname(plane: str, key: Path, ip: str, timeout: float = 120) -> str:
    """`hostname` run over SSH as cloud-init's default user `debian`, from the data-plane netns."""
    argv = ["ip", "netns", "exec", plane, "ssh", "-i", str(key), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=5", f"debian@{ip}", "hostname"]
    deadline = time.monotonic() + timeout
    res = None
    while time.monotonic() < deadline:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if res.returncode == 0:
            return res.stdout.strip()
        time.sleep(2)
    raise AssertionError(f"no SSH to {ip} in {plane}: {res.stderr if res else ''}")


def test_debian_cloud_image_takes_hostname_and_key_from_the_nocloud_seed(
    cloud_image: Path, cloud_server: tuple[Server, str], tmp_path: Path
) -> None:
    srv, plane = cloud_server
    image = srv.cli("image", "register", "debian12-cloud", str(cloud_image / "root.qcow2"),
                    "--kernel", str(cloud_image / "vmlinuz"),
                    "--initrd", str(cloud_image / "initrd.img"),
                    "--cmdline", CMDLINE, "--inbound-port", "22").stdout.strip()
    key = tmp_path / "id_ed25519"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cloud-image-test", "-f", str(key))
    started = time.monotonic()
    [vm] = srv.cli_json("run-instance", image, "--vm-name", "cloudy", "-k", f"{key}.pub",
                        "--ram", "512")
    assert vm["state"] == "running"
    # cloud-init's final line names the data source that answered: our seed CD
    wait_console(srv, vm["id"], r"Cloud-init v\. \S+ finished at .*DataSourceNoCloud", timeout=420)
    print(f"boot to cloud-init finished: {time.monotonic() - started:.1f} s")
    wait_console(srv, vm["id"], r"^cloudy login:", timeout=60)
    assert ssh_hostname(plane, key, vm["ip"]) == "cloudy"
    print(f"SSH with the injected key: {time.monotonic() - started:.1f} s")
    srv.cli("kill-instance", str(vm["id"]))
