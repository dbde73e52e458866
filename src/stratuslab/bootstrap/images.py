"""Wiring of images: the image store (with the SSRF-safe URL fetcher and its limits from
`[images]`), the image service, and the `image-url-import` job handler."""

from __future__ import annotations

from stratuslab.bootstrap.wiring import Wiring
from stratuslab.core.imagebuild import ImageBuilderPort
from stratuslab.drivers.storage.imagestore import FileImageStore
from stratuslab.drivers.storage.urlfetch import FetchLimits, UrlFetcher
from stratuslab.services.imageimport import URL_IMPORT_JOB
from stratuslab.services.images import ImageService
from stratuslab.settings import Settings, parse_duration


def url_fetcher(settings: Settings) -> UrlFetcher:
    """The SSRF-safe fetcher of user-supplied URLs (image import, marketplace locations)."""
    conf = settings.images
    return UrlFetcher(FetchLimits(
        allow_hosts=tuple(conf.url_allow_hosts), max_bytes=conf.url_max_bytes,
        max_seconds=parse_duration(conf.url_timeout, key="images.url_timeout")))


def wire(w: Wiring, builder: ImageBuilderPort) -> ImageService:
    store = FileImageStore(w.settings.data_dir / "images", fetcher=url_fetcher(w.settings))

    def wake() -> None:
        runner = w.services.get("runner")
        if runner is not None:
            runner.wake()

    images = ImageService(w.uow, store, w.clock, builder=builder, wake=wake)
    w.job_handlers[URL_IMPORT_JOB] = images.url_imports.run
    return images
