"""Settings: one frozen object loaded from a TOML file plus STRATUSLAB_* environment variables.

Values are validated at start-up and the offending key is named in the error; the reference in
docs/configuration.md is generated from the same declarations (`reference`).  Only the
composition root (`bootstrap`, `__main__`, `ops`) imports this package.
"""

from stratuslab.settings.loader import load_settings, read_toml
from stratuslab.settings.model import Settings, SettingsError, parse_duration, parse_listen
from stratuslab.settings.sections import (
    CdmiSettings,
    HypervisorSettings,
    ImageSettings,
    InstanceTypeSettings,
    LibvirtSettings,
    NetworkSettings,
    QemuSettings,
    QuarantineSettings,
    SchedulerSettings,
    ServerSettings,
    StorageSettings,
    XmlRpcSettings,
    default_data_dir,
)
from stratuslab.settings.sections_access import (
    AuthSettings,
    LdapAuthSettings,
    MailSettings,
    MarketplaceSettings,
    PolicySettings,
    RegistrationSettings,
    TlsSettings,
    VomsAuthSettings,
    X509AuthSettings,
)

__all__ = [
    "AuthSettings", "CdmiSettings", "HypervisorSettings", "ImageSettings", "InstanceTypeSettings",
    "LdapAuthSettings", "MailSettings", "MarketplaceSettings", "NetworkSettings",
    "LibvirtSettings", "PolicySettings", "QemuSettings", "QuarantineSettings", "RegistrationSettings",
    "SchedulerSettings", "ServerSettings", "Settings", "SettingsError", "StorageSettings", "TlsSettings",
    "VomsAuthSettings", "X509AuthSettings", "XmlRpcSettings", "default_data_dir",
    "load_settings", "parse_duration", "parse_listen", "read_toml",
]
