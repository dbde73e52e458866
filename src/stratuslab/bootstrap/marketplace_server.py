"""Composition root of the standalone `stratus-marketplace`: Settings -> database -> service ->
FastAPI app -> uvicorn, beside the worker that fetches the trusted CAs' CRLs.

It reads the same settings file as stratus-server (`[server] data_dir`, `[marketplace]`,
`[policy]`, STRATUSLAB_* variables), so one configuration describes a marketplace whether it runs
alone or inside the all-in-one server (bootstrap/marketplace.py builds it the same way, through
`open_registry`).  The cloud-side keys (`serve`, `endpoint`, `cache_dir`) are not used here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import click
from fastapi import FastAPI
from sqlalchemy import Engine

from stratuslab.api.marketplace import create_app
from stratuslab.core.errors import CloudError
from stratuslab.drivers.identity.crlfetch import HttpCrlFetcher
from stratuslab.persistence.marketplace import SqlMarketplaceRepository, open_database, sqlite_url
from stratuslab.services.auth.x509.crlrefresh import CrlRefresher
from stratuslab.services.marketplace import MarketplaceService, PolicyLists, TrustPolicy, TrustStore
from stratuslab.services.periodic import PeriodicWorker
from stratuslab.settings import Settings, load_settings, parse_listen

DEFAULT_CA_DIR = "/etc/grid-security/certificates"


def policy_lists(settings: Settings) -> PolicyLists:
    pol = settings.policy
    return PolicyLists.of(
        endorsers_whitelist=list(pol.endorsers_whitelist),
        endorsers_blacklist=list(pol.endorsers_blacklist),
        images_whitelist=list(pol.images_whitelist),
        images_blacklist=list(pol.images_blacklist),
        checksums_whitelist=list(pol.checksums_whitelist),
        checksums_blacklist=list(pol.checksums_blacklist),
    )


def crl_dir(settings: Settings) -> Path:
    """Where the server keeps the CRLs it fetched from the trusted CAs' distribution points."""
    return settings.data_dir / "marketplace-crls"


def load_trust(ca_dir: str, *, crl_dirs: Sequence[Path] = (),
               crl_required: bool = False) -> TrustStore:
    """The CAs of `ca_dir` with their CRLs; the default directory may be absent (then nothing is
    trusted yet and uploads are refused with a hint to set [marketplace] ca_dir); a configured
    one must exist."""
    if ca_dir == DEFAULT_CA_DIR and not Path(ca_dir).is_dir():
        return TrustStore()
    return TrustStore.from_directory(ca_dir, crl_dirs=crl_dirs, crl_required=crl_required)


def settings_trust(settings: Settings) -> TrustStore:
    mp = settings.marketplace
    return load_trust(mp.ca_dir, crl_dirs=(crl_dir(settings),), crl_required=mp.crl_required)


def _stamps(dirs: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    found: list[tuple[str, int, int]] = []
    for d in dirs:
        try:
            found += [(str(p), st.st_mtime_ns, st.st_size) for p in d.iterdir()
                      if (st := p.stat()) and p.is_file()]
        except OSError:
            continue
    return tuple(sorted(found))


def trust_watch(settings: Settings) -> Callable[[], TrustStore | None]:
    """A file watch on `ca_dir` and the fetched-CRL directory: a new TrustStore when their files
    changed since the last look (added, removed, rewritten), else None; a stat per look."""
    dirs = (Path(settings.marketplace.ca_dir), crl_dir(settings))
    seen = [_stamps(dirs)]

    def reload() -> TrustStore | None:
        now = _stamps(dirs)
        if now == seen[0]:
            return None
        seen[0] = now
        return settings_trust(settings)

    return reload


def crl_refresher(settings: Settings,
                  trust: Callable[[], TrustStore]) -> tuple[CrlRefresher, PeriodicWorker]:
    """The CRL refresher of the trusted CAs and the worker that runs it at start and every
    `[marketplace] crl_refresh` seconds (all-in-one server and standalone marketplace alike)."""
    refresher = CrlRefresher(trust, HttpCrlFetcher(), crl_dir(settings))
    return refresher, refresher.worker("marketplace-crls", settings.marketplace.crl_refresh)


def open_registry(settings: Settings) -> tuple[MarketplaceService, Engine]:
    """The marketplace service over its own database, and that database's engine (to dispose
    of at exit)."""
    mp = settings.marketplace
    engine = open_database(mp.database_url or sqlite_url(settings.data_dir))
    service = MarketplaceService(
        SqlMarketplaceRepository(engine),
        settings_trust(settings),
        policy=TrustPolicy(policy_lists(settings)),
        require_email=mp.require_email,
        reload_trust=trust_watch(settings),
    )
    return service, engine


def make_app(settings: Settings) -> FastAPI:
    from stratuslab.api.guard import HttpGuard

    service, _engine = open_registry(settings)
    app = create_app(service, max_body=settings.marketplace.max_body)
    # the upload's own limit at /metadata, the server's one (server.max_body) for the rest
    app.add_middleware(HttpGuard, max_body=settings.server.max_body,
                       body_limits=[("/metadata", settings.marketplace.max_body,
                                     "marketplace.max_body")],
                       trusted_origins=settings.server.trusted_origins,
                       server="StratusLab Marketplace")
    return app


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="TOML settings file ([server] data_dir, [marketplace], [policy])")
@click.option("--data-dir", help="directory of the marketplace database")
@click.option("--listen", help="HOST:PORT to listen on (default 127.0.0.1:9204)")
@click.option("--ca-dir", help="directory of trusted CA certificates")
def main(config: str | None, data_dir: str | None, listen: str | None,
         ca_dir: str | None) -> None:
    """StratusLab Marketplace: signed image metadata registry."""
    try:
        settings = load_settings(config, env=dict(os.environ), overrides={
            "server": {"data_dir": data_dir},
            "marketplace": {"listen": listen, "ca_dir": ca_dir},
        })
        host, port = parse_listen(settings.marketplace.listen, key="marketplace.listen")
        app = make_app(settings)
    except CloudError as exc:
        click.echo(f"Error: {exc.full_message}", err=True)
        raise SystemExit(2) from None
    import uvicorn  # only when serving

    _refresher, crls = crl_refresher(settings, lambda: settings_trust(settings))
    crls.start()
    try:
        uvicorn.run(app, host=host or "127.0.0.1", port=port, log_level="info",
                    server_header=False)  # api/guard sends the one Server header
    finally:
        crls.stop()

