"""Image registration from URLs, as a job: the request records the image (`importing`) and an
`image-url-import` job in one transaction and returns at once; the job downloads through the
image store (SSRF rules, byte and time caps: drivers/storage/urlfetch.py), writes its progress
into the job, and makes the image `ready` — or `failed`, the job's error saying why.

No request thread ever waits for a download.  The handler is idempotent: a job re-run after a
restart finds the image still `importing` and downloads again; one that finds it `ready` or gone
does nothing.  Imports core and sibling service modules only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from stratuslab.core.entities import Image, ImageState, Job
from stratuslab.core.errors import CloudError
from stratuslab.core.ports import Clock, ImageStorePort, UnitOfWorkFactory
from stratuslab.services.common import record_step

URL_IMPORT_JOB = "image-url-import"
PROGRESS_EVERY_S = 0.5


class UrlImports:
    def __init__(self, uow: UnitOfWorkFactory, store: ImageStorePort, clock: Clock, *,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.uow = uow
        self.store = store
        self.clock = clock
        self.wake = wake

    def queue(self, image: Image, *, sha1: str | None, kernel: str | None,
              initrd: str | None) -> tuple[Image, Job]:
        """Record `image` (state importing) and its download job together."""
        now = self.clock.now()
        image.state = ImageState.IMPORTING.value
        with self.uow() as uow:
            uow.images.add(image)
            job = Job(None, URL_IMPORT_JOB, image.owner, step="queued", created_at=now,
                      updated_at=now, params={
                          "image_id": image.id, "source": image.source, "sha1": sha1,
                          "kernel": kernel, "initrd": initrd,
                          "progress": {"done": 0, "total": None}})
            uow.jobs.add(job)
            uow.commit()
        self.wake()
        return image, job

    def run(self, job: Job) -> None:
        """Handler of `image-url-import` jobs."""
        image_id = int(job.params["image_id"])
        with self.uow(readonly=True) as uow:
            image = uow.images.get(image_id)
        if image is None or image.state != ImageState.IMPORTING.value:
            return  # done by an earlier run, or deleted meanwhile
        try:
            self._download(job, image)
        except CloudError:
            self._set_state(image_id, ImageState.FAILED)
            raise

    def give_up(self, job: Job, reason: str) -> None:
        """The job runner abandons the download: the image becomes `failed`."""
        self._set_state(int(job.params["image_id"]), ImageState.FAILED)

    def _download(self, job: Job, image: Image) -> None:
        p = job.params
        last = [0.0]

        def progress(done: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                self._step(job, "downloading", {"done": done, "total": None})

        self._step(job, "downloading", {"done": 0, "total": None})
        stored = self.store.import_image(str(p["source"]), expected_sha1=p.get("sha1"),
                                         name=image.name, progress=progress)
        boot: dict[str, str] = {}
        for label in ("kernel", "initrd"):
            if p.get(label):
                self._step(job, f"downloading {label}")
                boot[label] = self.store.import_image(
                    str(p[label]), expected_sha1=None, name=f"{image.name} {label}").path
        with self.uow() as uow:
            current = uow.images.get(image.id or 0)
            if current is None or current.state != ImageState.IMPORTING.value:
                return
            current.path, current.format = stored.path, stored.format
            current.size_bytes, current.sha1 = stored.size_bytes, stored.sha1
            current.kernel, current.initrd = boot.get("kernel"), boot.get("initrd")
            current.state = ImageState.READY.value
            uow.images.update(current)
            uow.commit()
        self._step(job, "done", {"done": stored.size_bytes, "total": stored.size_bytes})

    def _set_state(self, image_id: int, state: ImageState) -> None:
        with self.uow() as uow:
            current = uow.images.get(image_id)
            if current is not None and current.state == ImageState.IMPORTING.value:
                current.state = state.value
                uow.images.update(current)
                uow.commit()

    def _step(self, job: Job, step: str, progress: dict[str, Any] | None = None) -> None:
        record_step(self.uow, self.clock, job.id, step, progress)
