"""Settings: one frozen object loaded from a TOML file plus STRATUSLAB_* environment variables.

Sections are frozen dataclasses; `[section] key = value` in TOML, and the environment variable
`STRATUSLAB_<SECTION>_<KEY>` (dots in nested section names become underscores) overrides it.
Values are validated at start-up and the offending key is named in the error.  Only `bootstrap`
and `__main__` import this module.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratuslab.core.entities import DEFAULT_INSTANCE_TYPE, DEFAULT_INSTANCE_TYPES
from stratuslab.core.errors import InvalidInput


class SettingsError(InvalidInput):
    pass


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return os.path.join(base, "stratuslab")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str | int | float, *, key: str = "duration") -> float:
    """'15m', '48h', '2d', '30s' or a number of seconds -> seconds."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise SettingsError(f"setting {key}: {text!r} is not a duration", hint="write e.g. 15m, 48h or 2d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


@dataclass(frozen=True)
class ServerSettings:
    listen: str = "127.0.0.1:8080"
    data_dir: str = field(default_factory=default_data_dir)
    database_url: str = ""  # empty: sqlite in data_dir
    admin_password: str = ""  # empty: generate and print once
    job_workers: int = 4
    log_level: str = "info"
    node_name: str = "localhost"


@dataclass(frozen=True)
class HypervisorSettings:
    driver: str = "qemu"
    simulated_boot_delay: float = 0.0
    simulated_fail: str = ""  # action names, comma separated, that the simulated driver fails
    shutdown_timeout: float = 30.0


@dataclass(frozen=True)
class InstanceTypeSettings:
    default: str = DEFAULT_INSTANCE_TYPE
    #: name -> [cpu, ram MiB, swap MiB]; overrides or adds to StratusLab's defaults
    types: Mapping[str, list[int]] = field(
        default_factory=lambda: {t.name: [t.cpu, t.ram_mib, t.swap_mib] for t in DEFAULT_INSTANCE_TYPES}
    )


@dataclass(frozen=True)
class QuarantineSettings:
    period: str = "48h"
    purge_interval: str = "5m"


@dataclass(frozen=True)
class QemuSettings:
    accel: str = "auto"  # auto | kvm | tcg
    machine: str = "pc"  # pc (PCI hot-plug) | q35 | microvm
    binary: str = "qemu-system-x86_64"


@dataclass(frozen=True)
class ImageSettings:
    build_cache: str = ""  # empty: DATA_DIR/build-cache


@dataclass(frozen=True)
class XmlRpcSettings:
    one_version: str = "3.2.0"  # what one.system.version answers (the OpenNebula line shipped)


@dataclass(frozen=True)
class LdapAuthSettings:
    url: str = ""  # e.g. "ldap://ldap.example.org"; empty: no LDAP
    user_dn_template: str = ""  # e.g. "uid={user},ou=users,dc=example,dc=org"
    search_base: str = ""  # where people are searched for without a template
    group_base: str = ""  # where groups (cloud-access, ...) are read
    bind_dn: str = ""  # service account for searches and registration writes
    bind_password: str = ""
    timeout: float = 5.0


@dataclass(frozen=True)
class X509AuthSettings:
    ca_dir: str = ""  # /etc/grid-security/certificates layout; empty: no certificate login
    gridmap_file: str = ""  # '"<DN>" user' lines (also login-cert.properties)


@dataclass(frozen=True)
class VomsAuthSettings:
    vomsdir: str = ""  # /etc/grid-security/vomsdir layout (<vo>/<host>.lsc)
    #: FQAN -> ["group:<name>", "role:<name>"]; a key ending in /* matches below it
    fqan_map: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthSettings:
    #: after the cloud database's own token and password: password (file), ldap, x509, voms
    chain: list[str] = field(default_factory=lambda: ["password", "ldap", "x509", "voms"])
    password_file: str = ""  # login-pswd.properties style; empty: none
    create_users: bool = True  # first login of a directory/certificate user creates the account
    ldap: LdapAuthSettings = field(default_factory=LdapAuthSettings)
    x509: X509AuthSettings = field(default_factory=X509AuthSettings)
    voms: VomsAuthSettings = field(default_factory=VomsAuthSettings)


@dataclass(frozen=True)
class TlsSettings:
    listen: str = ""  # HOST:PORT of the HTTPS listener (client certificates); empty: none
    cert: str = ""  # server certificate (PEM)
    key: str = ""  # its private key (PEM)


@dataclass(frozen=True)
class RegistrationSettings:
    enabled: bool = True  # served when [auth.ldap] is configured
    admin_email: str = ""  # who is told about new applications
    cloud_name: str = "StratusLab"
    base_url: str = ""  # public URL of this server, quoted in the admin's mail
    rate_limit: int = 5  # applications per source address per rate_window
    rate_window: str = "1h"


@dataclass(frozen=True)
class MailSettings:
    host: str = "localhost"
    port: int = 25
    sender: str = "stratuslab@localhost"
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class MarketplaceSettings:
    serve: bool = True  # mount the marketplace under /marketplace (all-in-one)
    ca_dir: str = "/etc/grid-security/certificates"  # trusted CAs (hashed grid layout or PEM files)
    max_body: int = 10 * 1024 * 1024  # largest metadata upload, bytes
    database_url: str = ""  # empty: sqlite in data_dir/marketplace.db
    require_email: bool = True  # the signing certificate must carry the endorser's email
    endpoint: str = ""  # marketplace the cloud boots from; empty: this server's own
    cache_dir: str = ""  # node cache of downloaded images; empty: data_dir/marketplace-cache


@dataclass(frozen=True)
class PolicySettings:
    """Site image policy; an empty whitelist admits every trusted endorser / image / checksum."""

    endorsers_whitelist: list[str] = field(default_factory=list)
    endorsers_blacklist: list[str] = field(default_factory=list)
    images_whitelist: list[str] = field(default_factory=list)
    images_blacklist: list[str] = field(default_factory=list)
    checksums_whitelist: list[str] = field(default_factory=list)
    checksums_blacklist: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NetworkSettings:
    driver: str = ""  # bridge | simulated; empty: simulated with the simulated hypervisor, else bridge
    netns: str = ""  # all-in-one data-plane namespace; empty: "sl-" + a hash of the data dir
    host_netns: str = ""  # namespace holding the host end of the uplink veth; empty: the host
    segment_kind: str = "vxlan"  # vxlan | vlan: what networks created without a segment id get
    segment_pool: str = "100-4000"  # segment ids handed out to new networks
    default_network: str = "public"  # the NIC a VM gets when run-instance names none
    lease_quota: int = 0  # addresses (VM leases + reservations) per user; 0: unlimited
    lease_time: str = "1h"  # DHCP lease time announced by dnsmasq
    #: name -> {subnet, ranges, gateway, dns, ipv6_prefix, ipv6_mode, mac_prefix, segment_id...};
    #: empty: public 10.254.1.0/24, local 10.254.2.0/24, private 10.254.3.0/24 (dual stack)
    classes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageSettings:
    default_pool: str = "default"  # pool of volumes created without --pool
    user_max_volumes: int = 0  # volumes per user (persistent + volatile); 0: unlimited
    user_max_gb: int = 0  # GiB per user; 0: unlimited
    group_max_volumes: int = 0  # volumes per group; 0: unlimited
    group_max_gb: int = 0  # GiB per group; 0: unlimited
    #: name -> {backend = "file" | "iscsi" | "simulated", path, portal, control_port, netns,
    #: initiators, manage_daemon}; empty: one pool "default" (simulated with the simulated
    #: hypervisor, else file) in data_dir/volumes/default
    pools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    hypervisor: HypervisorSettings = field(default_factory=HypervisorSettings)
    instance_types: InstanceTypeSettings = field(default_factory=InstanceTypeSettings)
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    qemu: QemuSettings = field(default_factory=QemuSettings)
    images: ImageSettings = field(default_factory=ImageSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    xmlrpc: XmlRpcSettings = field(default_factory=XmlRpcSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    marketplace: MarketplaceSettings = field(default_factory=MarketplaceSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    storage: StorageSettings = field(default_factory=StorageSettings)

    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir)

    @property
    def database_url(self) -> str:
        return self.server.database_url or f"sqlite:///{self.data_dir / 'stratuslab.db'}"


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise SettingsError(f"setting {key}: {value!r} is not a boolean", hint="use true or false")
    if typ in (int, float):
        try:
            return typ(value)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {key}: {value!r} is not a number") from None
    if typ is str:
        if not isinstance(value, str | int | float):
            raise SettingsError(f"setting {key}: expected a string, got {type(value).__name__}")
        return str(value)
    if origin in (list, tuple) or typ in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise SettingsError(f"setting {key}: expected a list")
        return tuple(value) if origin is tuple else list(value)
    if origin in (Mapping, dict) or typ is dict:
        if not isinstance(value, Mapping):
            raise SettingsError(f"setting {key}: expected a table")
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        return value
    return value


def _build(cls: type[Any], table: Mapping[str, Any], env: Mapping[str, str], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(table) - known
    if unknown:
        name = sorted(unknown)[0]
        raise SettingsError(
            f"setting {prefix}{name} is unknown",
            hint=f"known keys of [{prefix.rstrip('.') or 'top'}]: {', '.join(sorted(known))}",
        )
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        typ = hints[f.name]
        env_name = "STRATUSLAB_" + key.upper().replace(".", "_")
        if dataclasses.is_dataclass(typ):
            sub = table.get(f.name, {})
            if not isinstance(sub, Mapping):
                raise SettingsError(f"setting {key} must be a table [{key}]")
            kwargs[f.name] = _build(typ, sub, env, f"{key}.")  # type: ignore[arg-type]
        elif env_name in env:
            kwargs[f.name] = _coerce(env[env_name], typ, key)
        elif f.name in table:
            kwargs[f.name] = _coerce(table[f.name], typ, key)
    return cls(**kwargs)


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read TOML `path` (optional), apply the environment, then `overrides` (command-line flags)."""
    table: dict[str, Any] = {}
    if path:
        try:
            table = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SettingsError(f"settings file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
    for section, values in (overrides or {}).items():
        table.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    settings: Settings = _build(Settings, table, os.environ if env is None else env, "")
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.server.job_workers < 1:
        raise SettingsError("setting server.job_workers must be at least 1")
    parse_duration(s.quarantine.period, key="quarantine.period")
    parse_duration(s.quarantine.purge_interval, key="quarantine.purge_interval")
    if s.qemu.accel not in ("auto", "kvm", "tcg"):
        raise SettingsError(f"setting qemu.accel: {s.qemu.accel!r} is not auto, kvm or tcg")
    if s.hypervisor.driver not in ("qemu", "simulated", "libvirt"):
        raise SettingsError(
            f"setting hypervisor.driver: {s.hypervisor.driver!r} is unknown", hint="use qemu or simulated"
        )
    for name, values in s.instance_types.types.items():
        if len(values) not in (2, 3) or any(not isinstance(v, int) or v < 0 for v in values):
            raise SettingsError(
                f"setting instance_types.types.{name}: expected [cpu, ram_mib, swap_mib]"
            )
    _validate_auth(s)
    if s.network.driver not in ("", "bridge", "simulated"):
        raise SettingsError(f"setting network.driver: {s.network.driver!r} is unknown",
                            hint="use bridge or simulated (or leave it empty)")
    _validate_storage(s)
    if s.marketplace.max_body < 1:
        raise SettingsError("setting marketplace.max_body must be a positive number of bytes")
    if s.instance_types.default not in s.instance_types.types:
        raise SettingsError(
            f"setting instance_types.default: {s.instance_types.default!r} is not a defined type"
        )


def _validate_storage(s: Settings) -> None:
    st = s.storage
    for key in ("user_max_volumes", "user_max_gb", "group_max_volumes", "group_max_gb"):
        if getattr(st, key) < 0:
            raise SettingsError(f"setting storage.{key} must be 0 (unlimited) or more")
    for name, table in st.pools.items():
        if not isinstance(table, Mapping):
            raise SettingsError(f"setting storage.pools.{name} must be a table")
        if table.get("backend", "file") not in ("file", "iscsi", "simulated"):
            raise SettingsError(f"setting storage.pools.{name}.backend: "
                                f"{table.get('backend')!r} is unknown",
                                hint="use file, iscsi or simulated")
    if st.pools and st.default_pool not in st.pools:
        raise SettingsError(f"setting storage.default_pool: {st.default_pool!r} is not a pool",
                            hint=f"define [storage.pools.{st.default_pool}] or choose one of "
                            f"{', '.join(sorted(st.pools))}")


def _validate_auth(s: Settings) -> None:
    known = ("password", "ldap", "x509", "voms")
    for name in s.auth.chain:
        if name not in known:
            raise SettingsError(f"setting auth.chain: {name!r} is unknown",
                                hint=f"choose from {', '.join(known)}")
    if s.auth.ldap.url and not (s.auth.ldap.user_dn_template or s.auth.ldap.search_base):
        raise SettingsError("setting auth.ldap.url is set without user_dn_template or search_base",
                            hint='add e.g. user_dn_template = "uid={user},ou=users,dc=example,dc=org"')
    tls = s.tls
    if any((tls.listen, tls.cert, tls.key)) and not all((tls.listen, tls.cert, tls.key)):
        raise SettingsError("settings tls.listen, tls.cert and tls.key go together",
                            hint="set all three to serve HTTPS with client certificates")
    parse_duration(s.registration.rate_window, key="registration.rate_window")
