"""QEMU's own iSCSI client (qemu-io) against a volume's export, logging in with the volume's
CHAP credentials when given (the password through a secret object, as the qemu driver does)."""

from __future__ import annotations

from urllib.parse import urlsplit

from stratuslab.core.hypervisor import DiskAuth
from stratuslab.drivers import _process


def qemu_io(source: str, command: str, *, auth: DiskAuth | None = None,
            netns: str | None = None) -> str:
    if auth is None:
        argv = ["qemu-io", "-f", "raw", source, "-c", command]
    else:
        parts = urlsplit(source)
        iqn, lun = parts.path.strip("/").split("/")
        opts = (f"driver=raw,file.driver=iscsi,file.transport=tcp,file.portal={parts.netloc},"
                f"file.target={iqn},file.lun={lun},file.user={auth.user},"
                "file.password-secret=chap0")
        argv = ["qemu-io", "--object", f"secret,id=chap0,data={auth.password}",
                "--image-opts", opts, "-c", command]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return _process.run(argv, timeout=60).stdout
