"""The sections of the settings file: frozen dataclasses whose fields carry their own documentation.

Each field is declared with `setting(...)`: its description, unit, allowed choices, lower bound
and an example live next to its default, so that validation (`loader`) and the configuration
reference (`reference`, docs/configuration.md) are both derived from this one place.  Standard
library and `core` only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field
from typing import Any

from stratuslab.core.entities import DEFAULT_INSTANCE_TYPE, DEFAULT_INSTANCE_TYPES

#: units the loader checks by shape (besides numbers' `minimum`)
DURATION = "duration"  # "30s", "15m", "48h", "2d" or a number of seconds
HOSTPORT = "HOST:PORT"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def setting(default: Any = MISSING, *, doc: str, unit: str = "", example: str = "",
            choices: tuple[str, ...] = (), minimum: float | None = None,
            factory: Callable[[], Any] | None = None) -> Any:
    """A documented field: what `loader` validates and `reference` prints."""
    meta = {"doc": doc, "unit": unit, "example": example, "choices": choices, "minimum": minimum}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return os.path.join(base, "stratuslab")


@dataclass(frozen=True)
class ServerSettings:
    listen: str = setting("127.0.0.1:8080", unit=HOSTPORT, example="0.0.0.0:8080",
                          doc="address of the HTTP listener (all APIs); port 0 picks a free port "
                          "and the server prints the one it got")
    data_dir: str = setting(factory=default_data_dir, example="/var/lib/stratuslab",
                            doc="database (SQLite), images, instances, quarantine; default "
                            "$XDG_DATA_HOME/stratuslab or ~/.local/share/stratuslab")
    database_url: str = setting("", example="postgresql://stratus:pw@db.example.org/stratuslab",
                                doc="empty: SQLite in data_dir/stratuslab.db; or sqlite:///PATH, "
                                "postgresql://USER:PASSWORD@HOST/DB")
    admin_password: str = setting("", doc="password of the bootstrap user 'admin'; empty: generated "
                                  "and printed once (also STRATUSLAB_ADMIN_PASSWORD)")
    job_workers: int = setting(4, minimum=1, doc="threads that run jobs (deploys, stops, ...)")
    job_stale_after: str = setting("10s", unit=DURATION,
                                   doc="a running job whose runner has not sent a heartbeat for "
                                   "this long is taken over by another runner (heartbeats every "
                                   "2 s; keep it well above that)")
    log_level: str = setting("info", choices=LOG_LEVELS, doc="least severe level logged")
    log_format: str = setting("text", choices=("text", "json"),
                              doc="text lines, or one JSON object per line (time, level, logger, "
                              "message, request_id)")
    log_file: str = setting("", example="/var/log/stratuslab/server.log",
                            doc="empty: standard error (the journal under systemd); else a file "
                            "rotated at log_max_bytes")
    log_max_bytes: int = setting(50 * 1024 * 1024, unit="bytes", minimum=0,
                                 doc="size at which log_file is rotated; 0: never")
    log_backups: int = setting(5, minimum=0, doc="rotated log files kept (server.log.1 ...)")
    node_name: str = setting("localhost", doc="name of the embedded node (the host in listings)")
    max_body: int = setting(4 * 1024 * 1024, unit="bytes", minimum=1,
                            doc="largest request body on every API (REST, XML-RPC, OCCI, pdisk, "
                            "registration), refused with 413 before it is read; the marketplace "
                            "upload has its own limit (marketplace.max_body)")
    trusted_origins: list[str] = setting(
        factory=list, example='["https://portal.example.org"]',
        doc="origins (scheme://host[:port]) of other sites whose pages may call the API from a "
        "browser; requests a browser sends for any other site are refused (403)")


@dataclass(frozen=True)
class HypervisorSettings:
    driver: str = setting("qemu", example="libvirt",
                          doc="hypervisor driver of the embedded node: qemu, libvirt, simulated "
                          "or an installed package's (entry point group stratuslab.hypervisors); "
                          "a name nobody installed is refused at start, listing the installed ones")
    simulated_boot_delay: float = setting(0.0, unit="seconds", minimum=0,
                                          doc="simulated driver only: time a VM takes to boot")
    simulated_fail: str = setting("", example="start,stop",
                                  doc="simulated driver only: actions (comma separated) it fails")
    shutdown_timeout: float = setting(30.0, unit="seconds", minimum=0,
                                      doc="ACPI shutdown allowed before a hard stop")
    instance_storage: str = setting(
        "", example="file",
        doc="instance-storage driver of the embedded node (entry point group "
            "stratuslab.instance_storage: file, simulated, or an installed package's); empty: "
            "simulated with the simulated hypervisor, else file")
    capacity_cpu: int = setting(0, minimum=0, doc="vCPUs the node's VMs may have together "
                                "(every VM not done or failed counts); 0: unlimited")
    capacity_memory_mib: int = setting(0, unit="MiB", minimum=0,
                                       doc="memory the node's VMs may have together; 0: the "
                                       "machine's physical memory (qemu, libvirt) or unlimited "
                                       "(simulated).  A VM that does not fit is refused at once")


@dataclass(frozen=True)
class QuotaSettings:
    """Defaults for users and groups without limits of their own (`stratus quota set`)."""

    user_max_vms: int = setting(0, minimum=0, doc="VMs a user holds at once; 0: unlimited")
    user_max_cpu: int = setting(0, minimum=0, doc="vCPUs of a user's VMs together; 0: unlimited")
    user_max_memory_mib: int = setting(0, unit="MiB", minimum=0,
                                       doc="memory of a user's VMs together; 0: unlimited")
    user_max_disk_gb: int = setting(0, unit="GiB", minimum=0,
                                    doc="root images (rounded up) and volatile disks of a user's "
                                    "VMs together; 0: unlimited")
    group_max_vms: int = setting(0, minimum=0, doc="VMs a group's members hold; 0: unlimited")
    group_max_cpu: int = setting(0, minimum=0, doc="vCPUs of a group's VMs; 0: unlimited")
    group_max_memory_mib: int = setting(0, unit="MiB", minimum=0,
                                        doc="memory of a group's VMs; 0: unlimited")
    group_max_disk_gb: int = setting(0, unit="GiB", minimum=0,
                                     doc="disk of a group's VMs; 0: unlimited")


@dataclass(frozen=True)
class InstanceTypeSettings:
    default: str = setting(DEFAULT_INSTANCE_TYPE, doc="instance type of run-instance without -t")
    types: Mapping[str, list[int]] = setting(
        factory=lambda: {t.name: [t.cpu, t.ram_mib, t.swap_mib] for t in DEFAULT_INSTANCE_TYPES},
        example='{ "m1.small" = [1, 1536, 1536], "tiny" = [1, 128, 0] }',
        doc="name = [cpu, ram MiB, swap MiB]; replaces StratusLab's classic types",
    )


@dataclass(frozen=True)
class QuarantineSettings:
    period: str = setting("48h", unit=DURATION, doc="how long a killed VM's disks are kept")
    purge_interval: str = setting("5m", unit=DURATION,
                                  doc="how often expired quarantine entries are removed")


@dataclass(frozen=True)
class QemuSettings:
    accel: str = setting("auto", choices=("auto", "kvm", "tcg"),
                         doc="auto: KVM when /dev/kvm works, else TCG (emulation)")
    machine: str = setting("pc", choices=("pc", "q35", "microvm"),
                           doc="QEMU machine type (pc has PCI hot-plug)")
    binary: str = setting("qemu-system-x86_64", example="/usr/bin/qemu-system-x86_64",
                          doc="QEMU executable (a name looked up in PATH, or a path)")
    console_log_max_bytes: int = setting(
        1024 * 1024, unit="bytes", minimum=4096,
        doc="bound of a VM's serial console log: past it the newest half is kept in "
        "console.log.1 and console.log starts again (checked every second)")


@dataclass(frozen=True)
class LibvirtSettings:
    uri: str = setting("", example="qemu:///system",
                       doc="libvirt connection URI; empty: the node runs its own libvirtd "
                           "(sockets, state and logs under data_dir/run/libvirtd, inside the "
                           "data-plane namespace)")
    machine: str = setting("pc", choices=("pc", "q35"), doc="machine type of the domains")
    domain_type: str = setting("qemu", choices=("qemu", "kvm"),
                               doc="qemu: TCG emulation; kvm: hardware virtualisation")
    domain_prefix: str = setting("stratuslab-", doc="domain names are PREFIX<vm id>; give each "
                                 "cloud sharing one libvirtd its own prefix")


@dataclass(frozen=True)
class CdmiSettings:
    enabled: bool = setting(True, doc="serve CDMI file storage under /cdmi/")
    backend: str = setting("fs", choices=("fs",), doc="where object bytes live: fs = files "
                           "under `directory` (written crash-safely)")
    directory: str = setting("", doc="blob directory of the fs backend; empty: data_dir/objects")
    quota_bytes: int = setting(10 * 1024**3, unit="bytes", minimum=0,
                               doc="stored bytes per user (0: no limit); reported by "
                                   "GET /cdmi/cdmi_capabilities/")


@dataclass(frozen=True)
class ImageSettings:
    build_cache: str = setting("", doc="cache of `stratus image build`; empty: data_dir/build-cache")
    url_allow_hosts: list[str] = setting(
        factory=list, example='["images.intranet.example.org", "10.0.0.5"]',
        doc="hosts (names or addresses, as written in URLs) that image URLs may name although "
        "they resolve to loopback, private, link-local or other non-public addresses; empty: "
        "image downloads reach public addresses only")
    url_max_bytes: int = setting(16 * 1024**3, unit="bytes", minimum=1,
                                 doc="largest image (or kernel, initrd) downloaded from a URL")
    url_timeout: str = setting("1h", unit=DURATION,
                               doc="longest time one image download from a URL may take")


@dataclass(frozen=True)
class XmlRpcSettings:
    one_version: str = setting("3.2.0", doc="the OpenNebula line /RPC2 and /xmlrpc answer as "
                               "(one.system.version and the XML shapes); /one/3.2/RPC2 and "
                               "/one/7.4/RPC2 pin a line")


@dataclass(frozen=True)
class OcciSettings:
    default_image: int = setting(0, doc="image id an OCCI compute created without an os_tpl "
                                 "mixin boots (its rendering names it); 0: os_tpl is required")


@dataclass(frozen=True)
class NetworkSettings:
    driver: str = setting("", example="bridge",
                          doc="network driver of the embedded node: bridge, simulated or an "
                          "installed package's (entry point group stratuslab.network_drivers); "
                          "empty: simulated with the simulated hypervisor, else bridge")
    netns: str = setting("", doc='all-in-one data-plane namespace; empty: "sl-" + a hash of '
                         "the data dir")
    host_netns: str = setting("", doc="namespace holding the host end of the uplink veth; "
                              "empty: the host")
    segment_kind: str = setting("vxlan", choices=("vxlan", "vlan"),
                                doc="what networks created without a segment id get")
    segment_pool: str = setting("100-4000", doc="segment ids handed out to new networks")
    default_network: str = setting("public", doc="the NIC a VM gets when run-instance names none")
    lease_quota: int = setting(0, minimum=0,
                               doc="addresses (leases + reservations) per user; 0: unlimited")
    lease_time: str = setting("1h", unit=DURATION, doc="DHCP lease time announced by dnsmasq")
    user_max_networks: int = setting(3, minimum=0,
                                     doc="networks of their own (class tenant) each user may "
                                     "create; 0: only administrators create networks")
    classes: Mapping[str, Mapping[str, Any]] = setting(
        factory=dict, example='{ public = { subnet = "10.254.1.0/24", gateway = "10.254.1.1" } }',
        doc="name = {subnet, ranges, gateway, dns, ipv6_prefix, ipv6_mode, mac_prefix, "
        "segment_id, address_class}; empty: public 10.254.1.0/24, local 10.254.2.0/24, "
        "private 10.254.3.0/24 (dual stack)",
    )


@dataclass(frozen=True)
class StorageSettings:
    default_pool: str = setting("default", doc="pool of volumes created without --pool")
    user_max_volumes: int = setting(0, minimum=0, doc="volumes per user; 0: unlimited")
    user_max_gb: int = setting(0, minimum=0, unit="GiB", doc="GiB per user; 0: unlimited")
    group_max_volumes: int = setting(0, minimum=0, doc="volumes per group; 0: unlimited")
    group_max_gb: int = setting(0, minimum=0, unit="GiB", doc="GiB per group; 0: unlimited")
    pools: Mapping[str, Mapping[str, Any]] = setting(
        factory=dict, example='{ default = { backend = "file", path = "/srv/volumes" } }',
        doc="name = {backend = file | iscsi | simulated | an installed package's (entry point "
        "group stratuslab.volume_backends), path, portal, control_port, netns, "
        "initiators, manage_daemon, chap (default true)}; empty: one pool 'default' (simulated with the simulated "
        "hypervisor, else file) in data_dir/volumes/default",
    )


@dataclass(frozen=True)
class SchedulerSettings:
    policy: str = setting("pack", choices=("pack", "stripe", "load"),
                          doc="where new VMs go unless a VM names its own policy (--rank): pack "
                          "fills the fullest host that fits, stripe spreads onto the emptiest, "
                          "load picks the host with the lowest load average")
    interval: str = setting("5s", unit=DURATION,
                            doc="how often the leader front end places the VMs left pending "
                            "because no host could take them (in one batch)")
    batch_limit: int = setting(1000, minimum=1,
                               doc="most pending VMs placed in one decision")
    host_timeout: str = setting("60s", unit=DURATION,
                                doc="a host whose heartbeat is older than this goes to error and "
                                "its running VMs to unknown (never poweroff: they may still run)")
    fence_command: list[str] = setting(
        factory=list, example='["/usr/local/sbin/fence-ipmi", "{host}"]',
        doc="argv run (no shell) to power a failed host off before any of its VMs is restarted "
        "elsewhere; {host} is replaced by the host's name; a host's own FENCE_COMMAND attribute "
        "(a list) wins; empty: nothing is ever restarted elsewhere")
    fence_timeout: str = setting("60s", unit=DURATION,
                                 doc="how long a fencing command may run before it counts as "
                                 "failed")
