"""Wiring of the marketplace feature into the cloud (see bootstrap.cloud.Wiring).

- serves the marketplace app under `/marketplace` (`[marketplace] serve`, on by default: the
  all-in-one server), its service in `w.services["marketplace"]`, its engine closed at exit;
- the cloud side (`w.services["marketplace_images"]`): metadata from `[marketplace] endpoint`
  (default: this server's own marketplace, read in process), trust from `ca_dir`, policy from
  `[policy]`, downloads into `cache_dir`; the `image-import` job handler; the REST routes
  /api/v1/images/marketplace/...; and the launch check extension (policy re-checked at every
  launch).  The `[marketplace]`/`[policy]` sections become a `MarketplaceConfig`, so the
  standalone `stratus-marketplace` and this server read the same keys the same way.
"""

from __future__ import annotations

from typing import Any

from stratuslab.api.marketplace import create_app
from stratuslab.api.rest import routes_marketplace
from stratuslab.bootstrap.images import url_fetcher
from stratuslab.bootstrap.wiring import Wiring
from stratuslab.bootstrap_marketplace import (
    POLICY_KEYS,
    MarketplaceConfig,
    load_trust,
    open_service,
)
from stratuslab.core.errors import InvalidInput
from stratuslab.drivers.storage.marketfetch import (
    ExpansionLimits,
    MarketplaceFetcher,
    MetadataClient,
)
from stratuslab.services.marketplace import ImageGate, TrustPolicy
from stratuslab.services.marketplace.cloud import (
    IMPORT_JOB,
    LocalMetadataSource,
    MarketplaceImages,
    MetadataSource,
)
from stratuslab.services.marketplace.extension import MarketplaceLaunchCheck


def config_from(settings: Any) -> MarketplaceConfig:
    """`[marketplace]` and `[policy]` of the server's settings as the marketplace's own config."""
    mp, pol = settings.marketplace, settings.policy
    return MarketplaceConfig(
        data_dir=str(settings.data_dir), database_url=mp.database_url, ca_dir=mp.ca_dir,
        max_body=mp.max_body, require_email=mp.require_email, listen=settings.server.listen,
        policy={k: tuple(getattr(pol, k)) for k in POLICY_KEYS},
    )


def wire(w: Wiring) -> None:
    mp = w.settings.marketplace
    config = config_from(w.settings)
    source: MetadataSource | None = (
        MetadataClient(mp.endpoint, max_bytes=mp.max_body) if mp.endpoint else None)
    if mp.serve:
        service, engine = open_service(config)
        w.mounts.append(("/marketplace", create_app(service, max_body=config.max_body)))
        w.closers.append(engine.dispose)
        w.services["marketplace"] = service
        source = source or LocalMetadataSource(service)
    if source is None:
        raise InvalidInput(
            "setting marketplace.endpoint is empty and marketplace.serve is false",
            hint="set [marketplace] endpoint to the marketplace this cloud boots images from",
        )
    gate = ImageGate(load_trust(config.ca_dir), TrustPolicy(config.policy_lists()))
    fetcher = MarketplaceFetcher(
        mp.cache_dir or w.settings.data_dir / "marketplace-cache",
        url_fetcher=url_fetcher(w.settings),
        expansion=ExpansionLimits(max_bytes=mp.max_expanded_bytes,
                                  max_ratio=mp.max_expansion_ratio))

    def wake() -> None:
        runner = w.services.get("runner")
        if runner is not None:
            runner.wake()

    images = MarketplaceImages(w.uow, w.clock, gate, source, fetcher, wake=wake)
    w.services["marketplace_images"] = images
    w.routers.append(routes_marketplace.router)
    w.extensions.append(MarketplaceLaunchCheck(w.uow, images))
    w.job_handlers[IMPORT_JOB] = images.run_import
