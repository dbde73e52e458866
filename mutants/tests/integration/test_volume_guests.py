"""A persistent iSCSI volume between two real guests: hot-plugged into the first, which makes a
filesystem and writes a file; refused to the second while the first holds it; hot-unplugged;
then hot-plugged into the second guest, which reads the file back.

Two tiny guests boot in parallel under TCG (the only guests of the volume tests); tgtd, QEMU and
the instance directories are all removed at teardown, even on failure.
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.hypervisor import BootSpec, VmHandle, VmSpec
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.core.volumes import CreateVolume, VolumeAttached, iqn_for
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.volumes import IscsiBackend, build_backend
from stratuslab.services.storage.hotplug import VolumeHotplug
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.service import VolumeService

pytestmark = pytest.mark.integration

READY = re.compile(rb"^stratuslab-ready hostname=(\S+)", re.MULTILINE)
BOOT_TIMEOUT = 240.0
ALICE = Principal("alice", 1, groups=("physics",))


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Guest:
    handle: VmHandle
    driver: QemuHypervisor

    def sh(self, command: str, timeout: float = 120) -> str:
        rc, out = run_in_guest(str(self.handle.data["agent_socket"]), command, timeout=timeout)
        assert rc == 0, f"{command}: {out}"
        return out

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not READY.search(self.driver.console_log(self.handle)):
            log = self.driver.console_log(self.handle)[-2000:].decode(errors="replace")
            assert time.monotonic() < deadline, log
            time.sleep(0.2)

    def wait_block(self, name: str, *, present: bool) -> None:
        deadline = time.monotonic() + 60
        while (name in self.sh("ls /sys/block").split()) != present:
            assert time.monotonic() < deadline, f"{name} present={not present} in the guest"
            time.sleep(0.2)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def san(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IscsiBackend]:
    root = tmp_path_factory.mktemp("volume-san")
    control = random.choice(
        [p for p in range(21000, 21999) if not os.path.exists(f"/var/run/tgtd/socket.{p}")]
    )
    table = {
        "backend": "iscsi",
        "path": str(root / "san"),
        "portal": f"127.0.0.1:{free_tcp_port()}",
        "control_port": control,
    }
    backend = build_backend("san", table, data_dir=str(root))
    assert isinstance(backend, IscsiBackend)
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture(scope="module")
def guests(
    tiny_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Guest, Guest]]:
    root = tmp_path_factory.mktemp("volume-guests")
    storage = FileInstanceStorage(str(root / "instances"), str(root / "quarantine"))
    driver = QemuHypervisor(root / "run", accel="tcg", machine="pc")
    boot = BootSpec(tiny_image.kernel, tiny_image.initrd, tiny_image.cmdline)
    started: list[Guest] = []
    try:
        for vm_id, name in ((21, "wren"), (22, "finch")):
            prepared = storage.prepare(PrologRequest(
                vm_id=vm_id, name=name, image_path=tiny_image.path,
                image_format=tiny_image.format, boot=boot,
                context=ContextSpec(instance_id=f"vm-{vm_id}", hostname=name),
            ))  # fmt: skip
            spec = VmSpec(
                vm_id=vm_id, name=name, vcpu=1, memory_mib=128,
                instance_dir=prepared.instance_dir, disks=prepared.disks, boot=prepared.boot,
            )  # fmt: skip
            started.append(Guest(driver.start(spec), driver))
        for g in started:
            g.wait_ready()
        yield started[0], started[1]
    finally:
        for g in started:
            driver.kill(g.handle)
        driver.close()


def test_file_written_by_one_guest_is_read_by_another_after_hot_unplug(
    san: IscsiBackend, guests: tuple[Guest, Guest]
) -> None:
    first, second = guests
    svc = VolumeService(
        InMemoryStorageUnitOfWork(), {"san": san}, clock=Clock(), default_pool="san"
    )
    hotplug = VolumeHotplug(svc)
    vol = svc.create(ALICE, CreateVolume(size_gb=1, tag="shared-notes"))

    plugged = hotplug.attach(ALICE, vol.uuid, first.driver, first.handle)
    iqn = iqn_for(vol.uuid)
    assert iqn in san.tgt.targets()
    first.wait_block(plugged.device, present=True)
    dev = plugged.device
    first.sh(
        f"mke2fs -q /dev/{dev} && mkdir -p /mnt/v && mount /dev/{dev} /mnt/v && "
        "echo 'written by wren' > /mnt/v/note.txt && umount /mnt/v && sync"
    )

    with pytest.raises(VolumeAttached) as refused:
        hotplug.attach(ALICE, vol.uuid, second.driver, second.handle)
    assert f"attached to VM {first.handle.vm_id}; detach it first" in refused.value.full_message

    hotplug.detach(ALICE, vol.uuid, first.driver, first.handle)
    assert dev not in first.sh("ls /sys/block").split()
    assert iqn not in san.tgt.targets()

    plugged2 = hotplug.attach(ALICE, vol.uuid, second.driver, second.handle)
    second.wait_block(plugged2.device, present=True)
    out = second.sh(
        f"mkdir -p /mnt/v && mount -o ro /dev/{plugged2.device} /mnt/v && cat /mnt/v/note.txt"
    )
    assert out.strip() == "written by wren"
    second.sh("umount /mnt/v")
    hotplug.detach(ALICE, vol.uuid, second.driver, second.handle)
    svc.delete(ALICE, vol.uuid)
    assert san.tgt.targets() == {} and san.list() == []
