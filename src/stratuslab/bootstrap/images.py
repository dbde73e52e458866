"""Wiring of images: the image store (with the SSRF-safe URL fetcher and its limits from
`[images]`), the image service, and the `image-url-import` job handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stratuslab.bootstrap.wiring import FeatureParts
from stratuslab.core.imagebuild import ImageBuilderPort
from stratuslab.drivers.storage.imagestore import FileImageStore
from stratuslab.drivers.storage.urlfetch import FetchLimits, UrlFetcher
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.common import SystemClock
from stratuslab.services.imageimport import URL_IMPORT_JOB
from stratuslab.services.images import ImageService
from stratuslab.settings import Settings, parse_duration


def url_fetcher(settings: Settings) -> UrlFetcher:
    """The SSRF-safe fetcher of user-supplied URLs (image import, marketplace locations)."""
    conf = settings.images
    return UrlFetcher(FetchLimits(
        allow_hosts=tuple(conf.url_allow_hosts), max_bytes=conf.url_max_bytes,
        max_seconds=parse_duration(conf.url_timeout, key="images.url_timeout")))


@dataclass(frozen=True)
class ImagesFeature:
    service: ImageService
    parts: FeatureParts


def wire(settings: Settings, uow: SqlUnitOfWorkFactory, clock: SystemClock, *,
         builder: ImageBuilderPort, wake: Callable[[], None]) -> ImagesFeature:
    store = FileImageStore(settings.data_dir / "images", fetcher=url_fetcher(settings))
    images = ImageService(uow, store, clock, builder=builder, wake=wake)
    return ImagesFeature(images, FeatureParts(job_handlers={URL_IMPORT_JOB: images.url_imports.run}))
