"""Builds the authenticator chain from plain values (bootstrap reads the settings).

`build_chain(AuthConfig(...), resolve_user=..., directory=..., extra_links=...)` returns an
AuthenticatorChain whose links follow `config.chain` order.  Links that need something not
configured (no password file, no LDAP directory, no CA directory) are skipped with a warning
so a small install starts with what it has.  Imports only core and this package.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stratuslab.core.auth import Authenticator
from stratuslab.core.directory import Directory
from stratuslab.core.errors import InvalidInput
from stratuslab.services.auth.certificates import (
    DirectoryDnMapper,
    DnMapper,
    FirstMapper,
    GridmapFile,
    VomsAuthenticator,
    X509Authenticator,
)
from stratuslab.services.auth.chain import AuditSink, AuthenticatorChain
from stratuslab.services.auth.common import Clock, UserResolver, utcnow
from stratuslab.services.auth.ldap import LdapAuthenticator
from stratuslab.services.auth.passwordfile import PasswordFileAuthenticator
from stratuslab.services.auth.x509 import CaDirectory, FqanMap, VomsVerifier

KNOWN = ("password", "token", "ldap", "x509", "voms")
log = logging.getLogger("stratuslab.auth")


@dataclass(frozen=True)
class AuthConfig:
    """Mirror of the [auth], [auth.x509] and [auth.voms] settings."""

    chain: Sequence[str] = ("password", "token", "ldap", "x509", "voms")
    password_file: str = ""
    ca_dir: str = ""  # e.g. /etc/grid-security/certificates
    gridmap_file: str = ""
    vomsdir: str = ""  # e.g. /etc/grid-security/vomsdir
    fqan_map: Mapping[str, Sequence[str]] = field(default_factory=dict)
    crl_required: bool = False  # the server's setting defaults to true
    crl_dir: str = ""  # CRLs the server fetched from the CAs' distribution points


def _dn_mapper(config: AuthConfig, directory: Directory | None) -> DnMapper:
    mappers: list[DnMapper] = []
    if config.gridmap_file:
        mappers.append(GridmapFile(config.gridmap_file))
    if directory is not None:
        mappers.append(DirectoryDnMapper(directory))
    return FirstMapper(mappers)


def build_links(config: AuthConfig, *, resolve_user: UserResolver,
                directory: Directory | None = None,
                extra_links: Mapping[str, Authenticator] | None = None,
                clock: Clock = utcnow,
                resolvers: Mapping[str, UserResolver] | None = None) -> list[Authenticator]:
    """`extra_links` supplies links built elsewhere, e.g. {"token": identity's authenticator};
    `resolvers` overrides `resolve_user` per method (e.g. to record where a user came from)."""
    unknown = [name for name in config.chain if name not in KNOWN
               and name not in (extra_links or {})]
    if unknown:
        raise InvalidInput(f"setting auth.chain names unknown methods {unknown}",
                           hint=f"choose from {', '.join(KNOWN)}")
    default_resolver = resolve_user
    ca_dir = CaDirectory(config.ca_dir, require_crl=config.crl_required,
                         crl_dirs=[config.crl_dir] if config.crl_dir else []) \
        if config.ca_dir else None
    mapper = _dn_mapper(config, directory)
    links: list[Authenticator] = []
    for name in config.chain:
        resolve_user = (resolvers or {}).get(name, default_resolver)
        link: Authenticator | None = None
        if extra_links and name in extra_links:
            link = extra_links[name]
        elif name == "password" and config.password_file:
            link = PasswordFileAuthenticator(config.password_file, resolve_user)
        elif name == "ldap" and directory is not None:
            link = LdapAuthenticator(directory, resolve_user)
        elif name == "x509" and ca_dir is not None:
            link = X509Authenticator(ca_dir, mapper, resolve_user, clock=clock,
                                     defer_voms="voms" in config.chain and bool(config.vomsdir))
        elif name == "voms" and ca_dir is not None and config.vomsdir:
            link = VomsAuthenticator(ca_dir, VomsVerifier(config.vomsdir),
                                     FqanMap(config.fqan_map), resolve_user,
                                     dn_mapper=mapper, clock=clock)
        if link is None:
            log.warning("authentication method %s is listed in auth.chain but not configured;"
                        " skipped", name)
        else:
            links.append(link)
    return links


def build_chain(config: AuthConfig, *, resolve_user: UserResolver,
                directory: Directory | None = None,
                extra_links: Mapping[str, Authenticator] | None = None,
                audit: AuditSink | None = None) -> AuthenticatorChain:
    links = build_links(config, resolve_user=resolve_user, directory=directory,
                        extra_links=extra_links)
    return AuthenticatorChain(links, audit)
