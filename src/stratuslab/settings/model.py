"""The Settings object, its error and the parsers of value syntaxes (durations, HOST:PORT):
the module below both `loader` and `validate`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from stratuslab.core.errors import InvalidInput
from stratuslab.settings.sections import (
    CdmiSettings,
    HypervisorSettings,
    ImageSettings,
    InstanceTypeSettings,
    LibvirtSettings,
    NetworkSettings,
    OcciSettings,
    QemuSettings,
    QuarantineSettings,
    QuotaSettings,
    SchedulerSettings,
    ServerSettings,
    StorageSettings,
    XmlRpcSettings,
)
from stratuslab.settings.sections_access import (
    AuthSettings,
    MailSettings,
    MarketplaceSettings,
    PolicySettings,
    RegistrationSettings,
    TlsSettings,
)


class SettingsError(InvalidInput):
    """A refused setting; `key` is its dotted name (what `config check` finds the line of)."""

    def __init__(self, message: str, *, key: str = "", hint: str | None = None) -> None:
        if not key:
            m = re.match(r"settings? ([A-Za-z0-9_.\-]+)", message)
            key = m.group(1).rstrip(".:,") if m else ""
        self.key = key
        super().__init__(message, hint=hint)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str | int | float, *, key: str = "duration") -> float:
    """'15m', '48h', '2d', '30s' or a number of seconds -> seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    m = _DURATION.match(str(text))
    if not m:
        raise SettingsError(f"setting {key}: {text!r} is not a duration",
                            hint="write e.g. 30s, 15m, 48h or 2d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def parse_listen(text: str, *, key: str = "listen") -> tuple[str, int]:
    """'HOST:PORT' (IPv6 hosts in brackets) -> (host, port); port 0 means 'any free port'."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"setting {key}: {text!r} is not HOST:PORT with a port of 0-65535",
                            hint="write e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    hypervisor: HypervisorSettings = field(default_factory=HypervisorSettings)
    instance_types: InstanceTypeSettings = field(default_factory=InstanceTypeSettings)
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    qemu: QemuSettings = field(default_factory=QemuSettings)
    libvirt: LibvirtSettings = field(default_factory=LibvirtSettings)
    images: ImageSettings = field(default_factory=ImageSettings)
    cdmi: CdmiSettings = field(default_factory=CdmiSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    xmlrpc: XmlRpcSettings = field(default_factory=XmlRpcSettings)
    occi: OcciSettings = field(default_factory=OcciSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    marketplace: MarketplaceSettings = field(default_factory=MarketplaceSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)

    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir)

    @property
    def database_url(self) -> str:
        return self.server.database_url or f"sqlite:///{self.data_dir / 'stratuslab.db'}"
