"""The libvirt driver's domain XML: formats always explicit, names escaped, iSCSI as network disks."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hypervisor import BootSpec, DiskSpec, NicSpec, VmSpec
from stratuslab.drivers.hypervisor.libvirt import domxml


def spec(**kw: object) -> VmSpec:
    base: dict = dict(
        vm_id=7, name="web", vcpu=2, memory_mib=256, instance_dir="/srv/i/7",
        disks=(DiskSpec("root", "/srv/i/7/root.qcow2"),
               DiskSpec("swap", "/srv/i/7/swap.img", format="raw"),
               DiskSpec("context", "/srv/i/7/seed.iso", format="raw", kind="cdrom"),
               DiskSpec("vol-1", "iscsi://10.0.0.5:3261/iqn.2026-12.org.example:v1/1", format="raw")),
        nics=(NicSpec(mac="02:00:0a:00:00:01", tap="sl7n0"),),
        boot=BootSpec("/k/vmlinux", "/k/initrd", "console=ttyS0"),
    )
    base.update(kw)
    return VmSpec(**base)


def test_every_disk_names_its_format_so_nothing_is_probed() -> None:
    root = ET.fromstring(domxml.domain_xml(spec(), name="sl-7", machine="pc"))
    drivers = [(d.find("target").get("dev"), d.find("driver").get("type"))  # type: ignore[union-attr]
               for d in root.iterfind("./devices/disk")]
    assert drivers == [("vda", "qcow2"), ("vdb", "raw"), ("hdc", "raw"), ("vdc", "raw")]


def test_iscsi_volume_is_a_network_disk_with_its_portal_and_lun() -> None:
    root = ET.fromstring(domxml.domain_xml(spec(), name="sl-7", machine="pc"))
    [net] = [d for d in root.iterfind("./devices/disk") if d.get("type") == "network"]
    source = net.find("source")
    assert source is not None and source.get("protocol") == "iscsi"
    assert source.get("name") == "iqn.2026-12.org.example:v1/1"
    host = source.find("host")
    assert host is not None and (host.get("name"), host.get("port")) == ("10.0.0.5", "3261")


def test_cdrom_is_ide_on_pc_and_sata_on_q35_and_read_only() -> None:
    for machine, bus, dev in (("pc", "ide", "hdc"), ("q35", "sata", "sda")):
        root = ET.fromstring(domxml.domain_xml(spec(), name="sl-7", machine=machine))
        [cd] = [d for d in root.iterfind("./devices/disk") if d.get("device") == "cdrom"]
        target = cd.find("target")
        assert target is not None and (target.get("bus"), target.get("dev")) == (bus, dev)
        assert cd.find("readonly") is not None


def test_nic_uses_the_network_drivers_tap_unmanaged() -> None:
    root = ET.fromstring(domxml.domain_xml(spec(), name="sl-7", machine="pc"))
    [iface] = root.iterfind("./devices/interface")
    target = iface.find("target")
    assert iface.get("type") == "ethernet"
    assert target is not None and (target.get("dev"), target.get("managed")) == ("sl7n0", "no")


def test_hostile_names_and_paths_stay_text_in_the_xml() -> None:
    evil = "x'/><devices><hostdev/></devices><name>"
    xml = domxml.domain_xml(spec(name=evil, instance_dir="/srv/<i>&7",
                                 disks=(DiskSpec(evil, "/srv/i/7/a&b<c>.qcow2"),)),
                            name="sl-7", machine="pc")
    root = ET.fromstring(xml)
    assert root.find("./devices/hostdev") is None
    [disk] = root.iterfind("./devices/disk")
    assert disk.find("source").get("file") == "/srv/i/7/a&b<c>.qcow2"  # type: ignore[union-attr]


@pytest.mark.parametrize("disk", [
    DiskSpec("root", "/x.vmdk", format="vmdk"),
    DiskSpec("root", "http://example.org/x.qcow2"),
    DiskSpec("root", "iscsi://host/only-iqn", format="raw"),
])
def test_unsupported_formats_and_sources_are_refused(disk: DiskSpec) -> None:
    with pytest.raises(InvalidInput):
        domxml.domain_xml(spec(disks=(disk,)), name="sl-7", machine="pc")


def test_virtio_names_go_past_z() -> None:
    assert [domxml.target_name(i) for i in (0, 25, 26, 27, 701)] == ["vda", "vdz", "vdaa", "vdab", "vdzz"]


def test_iscsi_disk_with_chap_credentials_is_refused_naming_the_way_out() -> None:
    from stratuslab.core.hypervisor import DiskAuth

    disk = DiskSpec("vol-1", "iscsi://127.0.0.1:3260/iqn.2026-11.org.stratuslab:x/1",
                    format="raw", auth=DiskAuth("sl-x", "secret"))
    with pytest.raises(InvalidInput, match="requires CHAP") as err:
        domxml.disk_element(disk, "vdb")
    assert "chap = false" in err.value.full_message and "secret" not in err.value.full_message
