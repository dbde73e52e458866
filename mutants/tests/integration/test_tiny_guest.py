"""The tiny guest image boots from an instance directory and honours its context.

Two real guests (TCG) boot at once: one contextualized through the NoCloud seed, one through the
OpenNebula context CD with hostile values.  Each is plain qemu-system-x86_64 with no network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratuslab.core.hypervisor import BootSpec
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.instance import ContextSpec, PreparedInstance, PrologRequest
from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.tinyimage import TinyImageBuilder

pytestmark = pytest.mark.integration

READY = re.compile(r"^stratuslab-ready hostname=(\S*) ipv4=(\S*) ipv6=(\S*)\s*$", re.MULTILINE)
HOSTILE = "$(touch /PWNED) `touch /PWNED`; touch /PWNED '\" #"
BOOT_TIMEOUT = 120.0


def sha1(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


@dataclass
class Guest:
    prepared: PreparedInstance
    process: subprocess.Popen[bytes]
    console: Path
    agent: str

    def wait_ready(self) -> re.Match[str]:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            text = self.console.read_text(errors="replace") if self.console.exists() else ""
            found = READY.search(text)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"no ready line; console so far:\n{text[-3000:]}")


def qemu_argv(prepared: PreparedInstance, console: Path, agent: str) -> list[str]:
    boot = prepared.boot
    assert boot.kernel and boot.initrd and boot.cmdline
    argv = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-machine", "pc",
            "-accel", "tcg", "-m", "128", "-smp", "1", "-display", "none", "-vga", "none",
            "-no-reboot", "-nic", "none", "-serial", f"file:{console}",
            "-kernel", boot.kernel, "-initrd", boot.initrd, "-append", boot.cmdline,
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent0,path={agent},server=on,wait=off",
            "-device", "virtserialport,chardev=agent0,name=agent.0"]
    cds = 0
    for n, disk in enumerate(prepared.disks):
        ro = ",read-only=on" if disk.readonly else ""
        argv += ["-blockdev", f"driver=file,filename={disk.source},node-name=f{n}{ro}",
                 "-blockdev", f"driver={disk.format},file=f{n},node-name=d{n}{ro}"]
        if disk.kind == "cdrom":
            argv += ["-device", f"ide-cd,drive=d{n},bus=ide.{cds // 2},unit={cds % 2}"]
            cds += 1
        else:
            argv += ["-device", f"virtio-blk-pci,drive=d{n}"]
    return argv


def request(vm_id: int, image: BuiltImage, context: ContextSpec, **kw: object) -> PrologRequest:
    boot = BootSpec(kernel=image.kernel, initrd=image.initrd, cmdline=image.cmdline)
    return PrologRequest(vm_id=vm_id, name=context.hostname, image_path=image.path,
                         image_format=image.format, boot=boot, context=context, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def guests(tiny_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Guest]]:
    root = tmp_path_factory.mktemp("tiny")
    storage = FileInstanceStorage(str(root / "instances"), str(root / "quarantine"))
    contexts = {
        "alpha": request(1, tiny_image, ContextSpec(
            instance_id="vm-1", hostname="alpha", ssh_keys=("ssh-ed25519 AAAAalpha a@b",)),
            volatile_gb=(1,), swap_mib=16),
        "beta": request(2, tiny_image, ContextSpec(
            instance_id="vm-2", hostname="beta", method="one",
            ssh_keys=(f"ssh-ed25519 AAAAbeta {HOSTILE}",), extra={"note": HOSTILE})),
    }
    started: dict[str, Guest] = {}
    try:
        for name, req in contexts.items():
            prepared = storage.prepare(req)
            console = Path(prepared.instance_dir) / "console.log"
            agent = os.path.join(prepared.instance_dir, "agent.sock")
            proc = _process.spawn(qemu_argv(prepared, console, agent),
                                  stderr_path=os.path.join(prepared.instance_dir, "qemu.err"))
            started[name] = Guest(prepared, proc, console, agent)
        yield started
    finally:
        for guest in started.values():
            guest.process.kill()
            guest.process.wait(timeout=30)


def test_guest_prints_ready_line_with_its_contextualized_hostname(guests: dict[str, Guest]) -> None:
    for name, guest in guests.items():
        ready = guest.wait_ready()
        assert ready.group(1) == name
        assert ready.group(2) == "" and ready.group(3) == ""  # no NIC: no address claimed


def test_agent_runs_commands_in_the_guest(guests: dict[str, Guest]) -> None:
    guest = guests["alpha"]
    guest.wait_ready()
    rc, out = run_in_guest(guest.agent, "cat /proc/uptime", timeout=30)
    assert rc == 0 and re.match(r"^\d+\.\d+ \d+\.\d+\n$", out)
    rc, out = run_in_guest(guest.agent, "echo oops >&2; exit 3", timeout=30)
    assert (rc, out) == (3, "oops\n")


def test_guest_root_is_the_overlay_and_keys_are_installed(
    guests: dict[str, Guest], tiny_image: BuiltImage
) -> None:
    guest = guests["alpha"]
    guest.wait_ready()
    rc, out = run_in_guest(guest.agent, "grep ' / ' /proc/mounts; cat /root/.ssh/authorized_keys; "
                           "cat /proc/swaps | wc -l; ls /sys/block", timeout=30)
    assert rc == 0
    assert out.startswith("/dev/vda / ext4 rw")
    assert "ssh-ed25519 AAAAalpha a@b\n" in out
    assert "vdb" in out and "vdc" in out  # swap and the volatile disk
    root = guest.prepared.disks[0]
    info = json.loads(_process.run(["qemu-img", "info", "-U", "--output=json", root.source],
                                   timeout=30).stdout)
    assert info["backing-filename"] == tiny_image.path
    assert sha1(tiny_image.path) == tiny_image.sha1  # the guest wrote into its overlay only


def test_hostile_context_values_are_inert_in_the_guest(guests: dict[str, Guest]) -> None:
    guest = guests["beta"]
    guest.wait_ready()
    rc, out = run_in_guest(guest.agent, "ls /PWNED /tmp/PWNED 2>&1; cat /root/.ssh/authorized_keys",
                           timeout=30)
    assert "No such file" in out
    assert out.endswith(f"ssh-ed25519 AAAAbeta {HOSTILE}\n")


def test_second_build_returns_the_cached_image(
    tiny_image: BuiltImage, tiny_image_builder: TinyImageBuilder
) -> None:
    steps: list[str] = []
    again = tiny_image_builder.build("tiny", progress=lambda step, _f: steps.append(step))
    assert again == tiny_image
    assert sha1(again.path) == tiny_image.sha1
    assert steps == ["resolving package versions", "cached"]
