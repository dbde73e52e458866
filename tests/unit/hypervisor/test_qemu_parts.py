"""The qemu driver's pure parts: its command line, disk naming, accelerator checks, pid trust."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hypervisor import BootSpec, DiskSpec, NicSpec, ObservedState, VmSpec
from stratuslab.drivers.hypervisor.qemu import cmdline, hotplug, layout
from stratuslab.drivers.hypervisor.qemu.accel import AccelChooser, static_kvm_verdict
from stratuslab.drivers.hypervisor.qemu.records import exit_meaning as _exit_meaning
from stratuslab.drivers.hypervisor.qemu.watcher import Exit


def spec(**kw: object) -> VmSpec:
    base: dict[str, object] = dict(vm_id=4, name="web, 1", vcpu=2, memory_mib=256,
                                   instance_dir="/srv/i/4")
    base.update(kw)
    return VmSpec(**base)  # type: ignore[arg-type]


def devices(argv: list[str], flag: str) -> list[dict[str, object]]:
    return [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == flag
            and argv[i + 1].startswith("{")]


def test_disks_keep_their_order_with_root_first_as_virtio_and_cdrom_on_ide() -> None:
    disks = (DiskSpec("root", "/d/root.qcow2"), DiskSpec("swap", "/d/swap.img", format="raw"),
             DiskSpec("context", "/d/seed.iso", format="raw", kind="cdrom"),
             DiskSpec("vol-1", "/d/v.qcow2", readonly=True))
    argv = cmdline.build_argv(spec(disks=disks), qemu_binary="qemu", accel="tcg", machine="pc")
    blocks = devices(argv, "-blockdev")
    assert [b["node-name"] for b in blocks] == ["d-root", "d-swap", "d-context", "d-vol-1"]
    assert [b["read-only"] for b in blocks] == [False, False, True, True]
    devs = [d for d in devices(argv, "-device") if d.get("drive")]
    assert [d["driver"] for d in devs] == ["virtio-blk-pci", "virtio-blk-pci", "ide-cd",
                                           "virtio-blk-pci"]
    assert devs[0]["bootindex"] == 0 and devs[0]["addr"] == hex(cmdline.FIRST_DISK_SLOT)
    assert hotplug.initial_targets(list(disks)) == {"root": "vda", "swap": "vdb", "vol-1": "vdc"}


def test_kernel_boot_uses_absolute_paths_and_no_disk_bootindex() -> None:
    argv = cmdline.build_argv(
        spec(boot=BootSpec("k", "i", "console=ttyS0 x=1"), disks=(DiskSpec("root", "r"),)),
        qemu_binary="qemu", accel="tcg", machine="pc")
    assert argv[argv.index("-kernel") + 1] == os.path.abspath("k")
    assert argv[argv.index("-append") + 1] == "console=ttyS0 x=1"
    assert "bootindex" not in devices(argv, "-device")[-1]


def test_no_nic_means_no_network_and_a_tap_nic_uses_it() -> None:
    bare = cmdline.build_argv(spec(), qemu_binary="q", accel="tcg", machine="pc")
    assert "-netdev" not in bare and "-nic" not in bare
    argv = cmdline.build_argv(spec(nics=(NicSpec("52:54:00:00:00:01", tap="tap4"),)),
                              qemu_binary="q", accel="kvm", machine="pc")
    assert argv[argv.index("-netdev") + 1] == "tap,id=net0,ifname=tap4,script=no,downscript=no"
    assert argv[argv.index("-cpu") + 1] == "host"


def test_iscsi_source_goes_to_qemus_iscsi_driver() -> None:
    node = cmdline.blockdev(DiskSpec("vol-2", "iscsi://127.0.0.1:3261/iqn.2026-01.eu.x:v2/1",
                                     format="raw"), "d-vol-2")
    assert node["file"] == {"driver": "iscsi", "transport": "tcp", "portal": "127.0.0.1:3261",
                            "target": "iqn.2026-01.eu.x:v2", "lun": 1, "node-name": "d-vol-2-f",
                            "read-only": False}
    with pytest.raises(InvalidInput):
        cmdline.blockdev(DiskSpec("x", "iscsi://host/no-lun", format="raw"), "d-x")


def test_name_with_commas_and_incoming_state() -> None:
    argv = cmdline.build_argv(spec(), qemu_binary="q", accel="tcg", machine="pc",
                              incoming="exec:cat saved-state.bin")
    assert argv[argv.index("-name") + 1] == "guest=stratuslab-4-web__1"
    assert argv[-3:] == ["-S", "-incoming", "exec:cat saved-state.bin"]


def test_node_names_fit_qemus_31_characters_and_long_names_do_not_collide() -> None:
    assert cmdline.node_name("root") == "d-root"
    uuid_a = "vol-3f2a0c1e-0000-4000-8000-000000000001"
    uuid_b = "vol-3f2a0c1e-0000-4000-8000-000000000002"
    names = {cmdline.node_name(uuid_a), cmdline.node_name(uuid_b)}
    assert len(names) == 2
    for disk_name in (uuid_a, "x" * 27, "x" * 28, "a,b c" * 20):
        node = cmdline.node_name(disk_name)
        tree = cmdline.blockdev(DiskSpec(disk_name, "/tmp/d.qcow2"), node)
        assert len(tree["node-name"]) <= 31 and len(tree["file"]["node-name"]) <= 31
        assert node == cmdline.node_name(disk_name)  # stable: a restored VM finds its disks
    assert cmdline.node_name("x" * 27) == "d-" + "x" * 27  # names that always fitted keep their id


def test_guest_disk_names_follow_the_kernels_lowest_free_index() -> None:
    assert [hotplug.guest_name(i) for i in (0, 25, 26)] == ["vda", "vdz", "vdaa"]


def test_static_verdict_refuses_kvm_without_vmx_or_with_kvm_pvm(tmp_path: Path) -> None:
    dev = tmp_path / "kvm"
    dev.write_text("")
    cpu = tmp_path / "cpuinfo"
    cpu.write_text("flags\t\t: fpu sse2 hypervisor\n")
    mods = tmp_path / "mod"
    (mods / "kvm_pvm").mkdir(parents=True)
    assert static_kvm_verdict(str(dev), str(cpu), str(mods))[0] is False
    cpu.write_text("flags\t\t: fpu vmx\n")
    assert static_kvm_verdict(str(dev), str(cpu), str(mods))[0] is False
    (mods / "kvm_pvm").rmdir()
    assert static_kvm_verdict(str(dev), str(cpu), str(mods))[0] is True
    assert static_kvm_verdict(str(tmp_path / "none"), str(cpu), str(mods))[0] is False


def test_forced_accelerator_is_used_as_given_and_unknown_one_refused(tmp_path: Path) -> None:
    assert AccelChooser("tcg", tmp_path, "q").resolve("/no/kernel") == "tcg"
    with pytest.raises(InvalidInput):
        AccelChooser("xen", tmp_path, "q")


def test_a_pid_that_is_not_this_vms_qemu_is_not_believed(tmp_path: Path) -> None:
    assert not layout.qemu_pid_alive(os.getpid(), tmp_path)  # alive, but python, elsewhere
    assert not layout.qemu_pid_alive(None, tmp_path)
    assert not layout.qemu_pid_alive(2**22 + 1, tmp_path)


def test_exit_meaning_tells_guest_poweroff_from_crash() -> None:
    assert _exit_meaning(Exit(1, 10, {"guest": True, "reason": "guest-shutdown"}, 0))[0] \
        is ObservedState.SHUTOFF
    assert _exit_meaning(Exit(1, 10, None, -9)) == (ObservedState.CRASHED,
                                                     "QEMU was killed by signal 9")
    assert _exit_meaning(Exit(1, 10, None, None))[0] is ObservedState.CRASHED
