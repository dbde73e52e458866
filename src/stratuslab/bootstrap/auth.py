"""Wiring of the auth feature into the cloud (an `AuthFeature`, see bootstrap/wiring.py).

Builds the one authenticator chain every API uses, from [auth] settings: the cloud database's
own token and password links first, then the password file, LDAP, X.509 and VOMS in
`auth.chain` order, with an audit line per decision (logger `stratuslab.audit`).  People
proven by LDAP, certificates or VOMS get a cloud account on first login (services/auth/
provisioning), recorded in `user_origins`.  Adds the classic `/pswd` and `/cert` endpoints
(api/classic middleware) and, when LDAP is configured, the registration form and REST API.
With `[auth.x509] ca_dir`, a worker fetches the CRLs its CAs publish into data_dir/auth-crls (at
start and every `crl_refresh` seconds, services/auth/x509/crlrefresh as for the marketplace); the
chain reads them beside ca_dir and picks up a change without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter
from starlette.middleware import Middleware

from stratuslab.api.classic import ClassicEndpoints, remembered
from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.core.auth import Authenticator, Credentials
from stratuslab.core.directory import Directory
from stratuslab.core.entities import Principal
from stratuslab.services.auth.chain import AuthenticatorChain
from stratuslab.services.auth.x509 import CaDirectory
from stratuslab.services.auth.x509.crlrefresh import CrlRefresher
from stratuslab.services.catalog import Authenticate
from stratuslab.services.identity import TokenAuthenticator
from stratuslab.services.periodic import PeriodicWorker
from stratuslab.settings import Settings, parse_duration

log = logging.getLogger("stratuslab.auth")


@dataclass(frozen=True)
class AuthFeature:
    authenticate: Authenticate  # what every API calls
    chain: AuthenticatorChain
    parts: FeatureParts


def make_directory(settings: Settings) -> Directory | None:
    from stratuslab.drivers.identity.ldap import LdapConfig, LdapDirectory

    ldap = settings.auth.ldap
    if not ldap.url:
        return None
    return LdapDirectory(LdapConfig(
        ldap.url, user_dn_template=ldap.user_dn_template or None,
        search_base=ldap.search_base or None, group_base=ldap.group_base or None,
        bind_dn=ldap.bind_dn or None, bind_password=ldap.bind_password or None,
        timeout=ldap.timeout, ca_file=ldap.ca_file or None, start_tls=ldap.start_tls,
        insecure=ldap.insecure))


def build_chain(core: Core, directory: Directory | None) -> AuthenticatorChain:
    from stratuslab.persistence.auth import UserOriginRepo
    from stratuslab.services.auth.chain import logging_audit
    from stratuslab.services.auth.factory import KNOWN, AuthConfig, build_links
    from stratuslab.services.auth.provisioning import (
        ORIGINS,
        CloudPasswordAuthenticator,
        CloudUsers,
    )
    from stratuslab.services.auth.throttle import DummyCheck, LoginThrottle, ThrottleConfig

    s = core.settings.auth
    t = s.throttle
    core.uow.register(ORIGINS, UserOriginRepo)
    users = CloudUsers(core.uow, core.clock, directory=directory, create=s.create_users,
                       directory_grants_access=not s.ldap.group_base)
    # methods none of whose keys are set are simply not in use (the factory warns about
    # half-configured ones, e.g. vomsdir without ca_dir)
    keys = {"password": s.password_file, "ldap": s.ldap.url, "x509": s.x509.ca_dir,
            "voms": s.voms.vomsdir}
    config = AuthConfig(chain=tuple(n for n in s.chain if keys.get(n, True)),
                        password_file=s.password_file,
                        ca_dir=s.x509.ca_dir, gridmap_file=s.x509.gridmap_file,
                        vomsdir=s.voms.vomsdir, fqan_map=dict(s.voms.fqan_map),
                        crl_required=s.x509.crl_required,
                        crl_dir=str(crl_dir(core.settings)))
    configured = build_links(config, resolve_user=users.resolver("password"),
                             directory=directory,
                             resolvers={name: users.resolver(name) for name in KNOWN})
    # the cloud database's own links first: API tokens, then its passwords (which also
    # provision the people the directory knows)
    local: list[Authenticator] = [TokenAuthenticator(core.identity),
                                  CloudPasswordAuthenticator(core.identity, core.uow)]
    chain = AuthenticatorChain([*local, *configured], logging_audit(),
                               throttle=LoginThrottle(time.monotonic, ThrottleConfig(
                                   t.user_failures, t.address_failures, t.first_pause,
                                   t.longest_pause)),
                               dummy_check=DummyCheck())
    log.info("authentication methods: %s", ", ".join(chain.methods))
    return chain


def crl_dir(settings: Settings) -> Path:
    """Where the server keeps the CRLs it fetched for the login chain's CAs."""
    return settings.data_dir / "auth-crls"


def ca_directory(settings: Settings) -> CaDirectory:
    x = settings.auth.x509
    return CaDirectory(x.ca_dir, require_crl=x.crl_required, crl_dirs=[crl_dir(settings)])


def crl_workers(settings: Settings) -> tuple[PeriodicWorker, ...]:
    """The worker fetching the CRLs of `[auth.x509] ca_dir`'s CAs (none without a ca_dir)."""
    from stratuslab.drivers.identity.crlfetch import HttpCrlFetcher

    if not settings.auth.x509.ca_dir:
        return ()
    refresher = CrlRefresher(ca_directory(settings), HttpCrlFetcher(), crl_dir(settings))
    return (refresher.worker("auth-crls", settings.auth.x509.crl_refresh),)


def wire(core: Core) -> AuthFeature:
    directory = make_directory(core.settings)
    chain = build_chain(core, directory)

    def authenticate(credentials: Credentials) -> Principal:
        principal = remembered(credentials)  # already verified at /pswd or /cert
        return principal if principal is not None else chain.authenticate(credentials)

    routers = []
    if directory is not None and core.settings.registration.enabled:
        routers.append(registration_router(core, directory))
    parts = FeatureParts(
        routers=tuple(routers),
        middlewares=(Middleware(ClassicEndpoints, authenticate=chain.authenticate),),
        workers=crl_workers(core.settings),
    )
    return AuthFeature(authenticate, chain, parts)


def _account_exists(core: Core) -> Callable[[str], bool]:
    def exists(name: str) -> bool:
        with core.uow(readonly=True) as uow:
            return uow.users.by_name(name) is not None

    return exists


def registration_router(core: Core, directory: Directory) -> APIRouter:
    from stratuslab.api.registration import make_router
    from stratuslab.api.rest.deps import current_principal
    from stratuslab.drivers.identity.mail import SmtpConfig, SmtpMailer
    from stratuslab.services.auth.certificates import CertificateProof
    from stratuslab.services.auth.registration import (
        RateLimiter,
        RegistrationConfig,
        RegistrationService,
    )

    settings = core.settings
    proof = CertificateProof(ca_directory(settings)).dn_of if settings.auth.x509.ca_dir else None
    reg, mail = settings.registration, settings.mail
    mailer = SmtpMailer(SmtpConfig(mail.host, mail.port, mail.sender, mail.username or None,
                                   mail.password or None, mail.starttls, mail.timeout,
                                   ca_file=mail.ca_file or None, insecure=mail.insecure))
    limiter = RateLimiter(reg.rate_limit, parse_duration(reg.rate_window), time.monotonic)
    service = RegistrationService(
        directory, mailer,
        RegistrationConfig(reg.admin_email, cloud_name=reg.cloud_name, base_url=reg.base_url),
        limiter=limiter, account_exists=_account_exists(core), prove_certificate=proof)
    return make_router(service, admin=current_principal)
