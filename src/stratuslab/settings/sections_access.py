"""Sections about who may come in and what they may bring: auth, TLS, registration, mail,
marketplace and image policy (see `sections` for the `setting(...)` convention)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stratuslab.settings.sections import DURATION, HOSTPORT, setting

AUTH_LINKS = ("password", "ldap", "x509", "voms")


@dataclass(frozen=True)
class LdapAuthSettings:
    url: str = setting("", example="ldap://ldap.example.org", doc="LDAP server; empty: no LDAP")
    user_dn_template: str = setting("", example="uid={user},ou=users,dc=example,dc=org",
                                    doc="DN a user binds as; or leave empty and set search_base")
    search_base: str = setting("", doc="where people are searched for without a template")
    group_base: str = setting("", doc="where groups (cloud-access, ...) are read")
    bind_dn: str = setting("", doc="service account for searches and registration writes")
    bind_password: str = setting("", doc="its password")
    timeout: float = setting(5.0, unit="seconds", minimum=0, doc="connect and operation timeout")
    ca_file: str = setting("", example="/etc/ssl/ldap-ca.pem",
                           doc="CA bundle (PEM) the server certificate must chain to, for "
                           "ldaps:// and StartTLS (host name checked too); empty: the system's")
    start_tls: bool = setting(False, doc="upgrade an ldap:// connection with StartTLS before "
                              "any bind (clear-text ldap:// is accepted only to loopback)")
    insecure: bool = setting(False, doc="accept an unverified server certificate or clear text "
                             "to a remote server (passwords then go to whoever answers); "
                             "refused at start-up unless set, logged as an error when set")


@dataclass(frozen=True)
class ThrottleSettings:
    user_failures: int = setting(5, minimum=1, doc="failed password logins that pause a user "
                                 "name, on every API at once")
    address_failures: int = setting(20, minimum=1, doc="failed password logins that pause a "
                                    "client address (people may share one)")
    first_pause: float = setting(1.0, unit="seconds", minimum=0,
                                 doc="first pause; doubles at each further failure")
    longest_pause: float = setting(900.0, unit="seconds", minimum=0, doc="longest pause")


@dataclass(frozen=True)
class X509AuthSettings:
    ca_dir: str = setting("", example="/etc/grid-security/certificates",
                          doc="trusted CAs (grid hashed layout); empty: no certificate login")
    gridmap_file: str = setting("", doc='\'"<DN>" user\' lines (also login-cert.properties)')
    crl_required: bool = setting(True, doc="certificate logins fail closed when the issuing "
                                 "CA has no CRL at hand (in ca_dir or fetched) or only one past "
                                 "its nextUpdate; false accepts them (a certificate a known CRL "
                                 "lists is refused either way)")
    crl_refresh: int = setting(
        3600, unit="seconds", minimum=1,
        doc="how often the server fetches the CRLs the CAs of ca_dir publish (cRLDistributionPoints "
        "or a <hash>.crl_url file; also once at start) into data_dir/auth-crls")


@dataclass(frozen=True)
class VomsAuthSettings:
    vomsdir: str = setting("", example="/etc/grid-security/vomsdir",
                           doc="VOMS servers' .lsc files (<vo>/<host>.lsc)")
    fqan_map: Mapping[str, list[str]] = setting(
        factory=dict, example='{ "/vo.example.org/*" = ["group:vo", "role:user"] }',
        doc='FQAN = ["group:<name>", "role:<name>"]; a key ending in /* matches below it',
    )


@dataclass(frozen=True)
class AuthSettings:
    chain: list[str] = setting(factory=lambda: list(AUTH_LINKS), choices=AUTH_LINKS,
                               doc="authenticators tried after the cloud's own tokens and passwords")
    password_file: str = setting("", doc="login-pswd.properties style file; empty: none")
    create_users: bool = setting(True, doc="the first login of a directory or certificate user "
                                 "creates the account")
    ldap: LdapAuthSettings = setting(factory=LdapAuthSettings, doc="LDAP bind")
    x509: X509AuthSettings = setting(factory=X509AuthSettings, doc="X.509 client certificates")
    voms: VomsAuthSettings = setting(factory=VomsAuthSettings, doc="VOMS proxies")
    throttle: ThrottleSettings = setting(factory=ThrottleSettings,
                                         doc="backoff on failed password logins")


@dataclass(frozen=True)
class TlsSettings:
    listen: str = setting("", unit=HOSTPORT, example="0.0.0.0:8443",
                          doc="HTTPS listener asking for client certificates; empty: none")
    cert: str = setting("", doc="server certificate (PEM)")
    key: str = setting("", doc="its private key (PEM)")


@dataclass(frozen=True)
class RegistrationSettings:
    enabled: bool = setting(True, doc="serve /register when [auth.ldap] is configured")
    admin_email: str = setting("", doc="who is told about new applications")
    cloud_name: str = setting("StratusLab", doc="name used in mails and pages")
    base_url: str = setting("", example="https://cloud.example.org",
                            doc="public URL of this server, quoted in the admin's mail")
    rate_limit: int = setting(5, minimum=1, doc="applications per source address per rate_window")
    rate_window: str = setting("1h", unit=DURATION, doc="window of rate_limit")


@dataclass(frozen=True)
class MailSettings:
    host: str = setting("localhost", doc="SMTP server")
    port: int = setting(25, minimum=1, doc="SMTP port")
    sender: str = setting("stratuslab@localhost", doc="From: address")
    username: str = setting("", doc="SMTP login; empty: none")
    password: str = setting("", doc="SMTP password")
    starttls: bool = setting(False, doc="upgrade the connection with STARTTLS")
    timeout: float = setting(10.0, unit="seconds", minimum=0, doc="SMTP timeout")
    ca_file: str = setting("", doc="CA bundle for the server certificate under STARTTLS "
                           "(name checked too); empty: the system's")
    insecure: bool = setting(False, doc="accept an unverified server certificate, or a "
                             "password login in clear text to a remote server (refused at "
                             "start-up unless set); logged as an error")


@dataclass(frozen=True)
class MarketplaceSettings:
    serve: bool = setting(True, doc="mount the marketplace under /marketplace (all-in-one)")
    ca_dir: str = setting("/etc/grid-security/certificates",
                          doc="CAs trusted to sign metadata (hashed grid layout or PEM files)")
    max_body: int = setting(10 * 1024 * 1024, unit="bytes", minimum=1,
                            doc="largest metadata upload")
    database_url: str = setting("", doc="empty: SQLite in data_dir/marketplace.db")
    require_email: bool = setting(True, doc="the signing certificate must carry an email")
    endpoint: str = setting("", example="https://marketplace.example.org",
                            doc="marketplace the cloud boots images from; empty: its own")
    cache_dir: str = setting("", doc="node cache of downloaded images; empty: "
                             "data_dir/marketplace-cache")
    max_expanded_bytes: int = setting(
        64 * 1024**3, unit="bytes", minimum=1,
        doc="largest image after decompression (gz/bz2/xz locations); past it the download "
        "is refused as a decompression bomb")
    max_expansion_ratio: int = setting(
        1000, minimum=1, doc="most an image may expand over its compressed size (checked once "
        "past 64 MiB); past it the download is refused as a decompression bomb")
    rehash_after: int = setting(
        7 * 86400, unit="seconds", minimum=1,
        doc="a cached image unchanged since it was last verified (same inode, size, mtime, ctime) "
        "is only stat-ed at boot; past this age its bytes are hashed again against the signed "
        "checksums")
    crl_required: bool = setting(
        True, doc="refuse metadata whose signer's CA publishes a CRL (cRLDistributionPoints or a "
        ".crl_url file) when that CRL is missing or past its nextUpdate; false accepts it (a "
        "certificate a known CRL lists is refused either way)")
    crl_refresh: int = setting(
        3600, unit="seconds", minimum=1,
        doc="how often the server fetches the CRLs the trusted CAs publish (also once at start) "
        "into data_dir/marketplace-crls")
    listen: str = setting("127.0.0.1:9204", unit=HOSTPORT, example="0.0.0.0:9204",
                          doc="address of the standalone stratus-marketplace (not the all-in-one "
                              "server, which serves it under /marketplace)")


@dataclass(frozen=True)
class PolicySettings:
    """Site image policy; an empty whitelist admits every trusted endorser / image / checksum."""

    endorsers_whitelist: list[str] = setting(factory=list, doc="endorser emails admitted")
    endorsers_blacklist: list[str] = setting(factory=list, doc="endorser emails refused")
    images_whitelist: list[str] = setting(factory=list, doc="image identifiers admitted")
    images_blacklist: list[str] = setting(factory=list, doc="image identifiers refused")
    checksums_whitelist: list[str] = setting(factory=list, doc="image checksums admitted")
    checksums_blacklist: list[str] = setting(factory=list, doc="image checksums refused")
