"""Wiring of the marketplace feature into the cloud.

- serves the marketplace app under `/marketplace` (`[marketplace] serve`, on by default: the
  all-in-one server), built by `marketplace_server.open_registry` exactly as the standalone
  `stratus-marketplace` builds it (same settings keys), its engine disposed of at exit;
- the cloud side (`MarketplaceImages`): metadata from `[marketplace] endpoint` (default: this
  server's own marketplace, read in process), trust from `ca_dir`, policy from `[policy]`,
  downloads into `cache_dir`; the CRLs the trusted CAs publish, fetched at start and every
  `crl_refresh` seconds (a `PeriodicWorker`); the `image-import` job handler; the REST routes
  /api/v1/images/marketplace/...; and the launch check extension (policy re-checked at every
  launch).
"""

from __future__ import annotations

from dataclasses import dataclass

from stratuslab.api.marketplace import create_app
from stratuslab.api.rest import routes_marketplace
from stratuslab.bootstrap.images import url_fetcher
from stratuslab.bootstrap.marketplace_server import (
    crl_refresher,
    open_registry,
    policy_lists,
    settings_trust,
    trust_watch,
)
from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.core.errors import InvalidInput
from stratuslab.drivers.storage.marketfetch import (
    ExpansionLimits,
    MarketplaceFetcher,
    MetadataClient,
)
from stratuslab.services.auth.x509.crlrefresh import CrlRefresher
from stratuslab.services.marketplace import ImageGate, MarketplaceService, TrustPolicy
from stratuslab.services.marketplace.cloud import (
    IMPORT_JOB,
    LocalMetadataSource,
    MarketplaceImages,
    MetadataSource,
)
from stratuslab.services.marketplace.extension import MarketplaceLaunchCheck
from stratuslab.settings import Settings


@dataclass(frozen=True)
class MarketplaceFeature:
    images: MarketplaceImages
    registry: MarketplaceService | None  # the marketplace this server serves, if it serves one
    crls: CrlRefresher
    parts: FeatureParts

    def reload(self, settings: Settings) -> str:
        """Take the `[policy]` lists and the trust store (CAs, CRLs) from `settings` now, in the
        launch check and the served marketplace alike; what is now in force, for the log."""
        policy = TrustPolicy(policy_lists(settings))
        trust = settings_trust(settings)
        for holder in (self.images.gate, self.registry):
            if holder is not None:  # the watch follows a changed ca_dir, never the old one
                holder.policy, holder.trust = policy, trust
                holder.reload_trust = trust_watch(settings)
        lists = policy.lists
        return (f"[policy] reloaded: {len(lists.endorsers_blacklist)} endorser(s), "
                f"{len(lists.images_blacklist)} image(s), {len(lists.checksums_blacklist)} "
                f"checksum(s) blacklisted; whitelists of {len(lists.endorsers_whitelist)} "
                f"endorser(s), {len(lists.images_whitelist)} image(s), "
                f"{len(lists.checksums_whitelist)} checksum(s); {len(trust.cas)} trusted CA(s)")


def wire(core: Core) -> MarketplaceFeature:
    settings = core.settings
    mp = settings.marketplace
    source: MetadataSource | None = (
        MetadataClient(mp.endpoint, max_bytes=mp.max_body) if mp.endpoint else None)
    registry: MarketplaceService | None = None
    mounts, closers = [], []
    if mp.serve:
        registry, engine = open_registry(settings)
        mounts.append(("/marketplace", create_app(registry, max_body=mp.max_body)))
        closers.append(engine.dispose)
        source = source or LocalMetadataSource(registry)
    if source is None:
        raise InvalidInput(
            "setting marketplace.endpoint is empty and marketplace.serve is false",
            hint="set [marketplace] endpoint to the marketplace this cloud boots images from",
        )
    gate = ImageGate(settings_trust(settings), TrustPolicy(policy_lists(settings)),
                     reload_trust=trust_watch(settings))
    crls, crl_worker = crl_refresher(settings, gate.refresh)
    fetcher = MarketplaceFetcher(
        mp.cache_dir or settings.data_dir / "marketplace-cache",
        url_fetcher=url_fetcher(settings),
        expansion=ExpansionLimits(max_bytes=mp.max_expanded_bytes,
                                  max_ratio=mp.max_expansion_ratio),
        rehash_after_s=mp.rehash_after)
    images = MarketplaceImages(core.uow, core.clock, gate, source, fetcher, wake=core.wake_jobs)
    parts = FeatureParts(
        extensions=(MarketplaceLaunchCheck(core.uow, images),),
        routers=(routes_marketplace.router,),
        mounts=tuple(mounts),
        job_handlers={IMPORT_JOB: images.run_import},
        workers=(crl_worker,),
        closers=tuple(closers),
    )
    return MarketplaceFeature(images, registry, crls, parts)
