"""Wiring of the marketplace feature into the cloud.

- serves the marketplace app under `/marketplace` (`[marketplace] serve`, on by default: the
  all-in-one server), built by `marketplace_server.open_registry` exactly as the standalone
  `stratus-marketplace` builds it (same settings keys), its engine disposed of at exit;
- the cloud side (`MarketplaceImages`): metadata from `[marketplace] endpoint` (default: this
  server's own marketplace, read in process), trust from `ca_dir`, policy from `[policy]`,
  downloads into `cache_dir`; the `image-import` job handler; the REST routes
  /api/v1/images/marketplace/...; and the launch check extension (policy re-checked at every
  launch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stratuslab.api.marketplace import create_app
from stratuslab.api.rest import routes_marketplace
from stratuslab.bootstrap.images import url_fetcher
from stratuslab.bootstrap.marketplace_server import load_trust, open_registry, policy_lists
from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.core.errors import InvalidInput
from stratuslab.drivers.storage.marketfetch import (
    ExpansionLimits,
    MarketplaceFetcher,
    MetadataClient,
)
from stratuslab.services.marketplace import ImageGate, MarketplaceService, TrustPolicy
from stratuslab.services.marketplace.cloud import (
    IMPORT_JOB,
    LocalMetadataSource,
    MarketplaceImages,
    MetadataSource,
)
from stratuslab.services.marketplace.extension import MarketplaceLaunchCheck
from stratuslab.services.marketplace.trust import TrustStore


@dataclass(frozen=True)
class MarketplaceFeature:
    images: MarketplaceImages
    registry: MarketplaceService | None  # the marketplace this server serves, if it serves one
    parts: FeatureParts


def _anchors(ca_dir: str) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(sorted((p.name, st.st_mtime_ns, st.st_size) for p in Path(ca_dir).iterdir()
                            if (st := p.stat()) and p.is_file()))
    except OSError:
        return ()


def trust_watch(ca_dir: str) -> Callable[[], TrustStore | None]:
    """A file watch on `ca_dir`: a new TrustStore when its files changed since the last look
    (added, removed, rewritten), else None; a stat of the directory per launch."""
    seen = [_anchors(ca_dir)]

    def reload() -> TrustStore | None:
        now = _anchors(ca_dir)
        if now == seen[0]:
            return None
        seen[0] = now
        return load_trust(ca_dir)

    return reload


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
    gate = ImageGate(load_trust(mp.ca_dir), TrustPolicy(policy_lists(settings)),
                     reload_trust=trust_watch(mp.ca_dir))
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
        closers=tuple(closers),
    )
    return MarketplaceFeature(images, registry, parts)
