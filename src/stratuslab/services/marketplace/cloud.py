"""Cloud side of the marketplace: boot images by marketplace identifier.

`MarketplaceImages` turns a 27-character identifier into a registered cloud image:
`request_import` verifies the metadata and the site policy at once (a refusal creates nothing)
and queues an `image-import` job; `run_import` (the job's handler) verifies again, downloads
through the node's fetcher with the progress written into the job (`step`, `params.progress`),
and registers one public `Image` with `marketplace_id`, reused by later launches.  `judge` is
what every launch calls (the policy is re-checked each time, not only on a cache miss) and
`explain` is `stratus policy-image`.  Metadata comes from a `MetadataSource` (an HTTP
marketplace client, or this server's own marketplace service); bytes from an `ImageFetcher`.
Imports core and sibling service modules only; never drivers, persistence, api or settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from stratuslab.core.entities import Image, ImageState, Job, JobState, Principal
from stratuslab.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from stratuslab.core.marketplace import (
    EntryNotFound,
    EntryQuery,
    EntryStatus,
    InvalidMetadata,
    MetadataEntry,
    Verdict,
    identifier_to_sha1,
)
from stratuslab.core.ports import Clock, UnitOfWorkFactory
from stratuslab.services.common import record_step
from stratuslab.services.marketplace.service import ImageGate, MarketplaceService
from stratuslab.services.marketplace.trust import certificate_emails, dn
from stratuslab.services.marketplace.xmldsig import embedded_signer, verify_document

IMPORT_JOB = "image-import"
PROGRESS_EVERY_S = 0.25


class MetadataSource(Protocol):
    def documents(self, identifier: str) -> list[bytes]:
        """Signed originals of the latest entry of each endorser (empty if none)."""
        ...


class ImageFetcher(Protocol):
    def fetch(self, entry: MetadataEntry, progress: Callable[[int, int | None], None] | None = None,
              *, allow_files: bool = False) -> Path:
        """`allow_files`: read `file:` locations too (only for imports an admin asked for)."""
        ...

    def cached_path(self, entry: MetadataEntry) -> Path: ...

    def checked(self, entry: MetadataEntry, *, allow_files: bool = False) -> tuple[Path, str | None]:
        """The cached file checked against the signed checksums (moved aside and fetched again
        when it does not match): (path, why it was fetched again, or None)."""
        ...


class LocalMetadataSource:
    """This server's own marketplace, read in process (what `<endpoint>/marketplace` serves)."""

    def __init__(self, service: MarketplaceService) -> None:
        self.service = service

    def documents(self, identifier: str) -> list[bytes]:
        page = self.service.search(
            EntryQuery(status=EntryStatus.LATEST, identifier=identifier, limit=1000))
        return [s.raw for s in page.entries]


def _claimed_signer(raw: bytes) -> tuple[str, str]:
    """(email, subject DN) of the certificate a document carries, read without trusting it, so
    that `policy-image` names who signed even when the chain or signature fails; ("?", "")
    when the document carries none that can be read."""
    try:
        cert = embedded_signer(raw)
    except (InvalidMetadata, ValueError):
        return "?", ""
    emails = certificate_emails(cert)
    return (emails[0] if emails else "?"), dn(cert.subject)


def check_identifier(identifier: str) -> str:
    identifier_to_sha1(identifier)  # raises InvalidMetadata naming the problem
    return identifier


class MarketplaceImages:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gate: ImageGate,
                 source: MetadataSource, fetcher: ImageFetcher, *,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.uow = uow
        self.clock = clock
        self.gate = gate
        self.source = source
        self.fetcher = fetcher
        self.wake = wake

    # -- verdicts ---------------------------------------------------------------------------
    def judge(self, identifier: str) -> tuple[MetadataEntry, Verdict]:
        """Fetch, verify and apply the policy; raises EntryNotFound / InvalidMetadata /
        PolicyRefused with the reasons."""
        check_identifier(identifier)
        documents = self.source.documents(identifier)
        if not documents:
            raise EntryNotFound(identifier)
        return self.gate.admit(identifier, documents)

    def explain(self, identifier: str) -> list[dict[str, Any]]:
        """Per document: who endorsed it and the policy's verdict, or why it does not verify."""
        check_identifier(identifier)
        documents = self.source.documents(identifier)
        if not documents:
            raise EntryNotFound(identifier)
        now = self.gate.clock()
        out: list[dict[str, Any]] = []
        for raw in documents:
            try:
                verified = verify_document(raw, self.gate.refresh(), now=now)
            except InvalidMetadata as exc:
                email, signer = _claimed_signer(raw)
                out.append({"email": email, "signer": signer, "verified": False,
                            "allowed": False, "reasons": [exc.reason]})
                continue
            entry, signer = verified.entry, dn(verified.signer.subject)
            if entry.identifier != identifier:
                out.append({"email": entry.email, "signer": signer, "verified": True,
                            "allowed": False,
                            "reasons": [f"document describes {entry.identifier}, not {identifier}"]})
                continue
            v = self.gate.policy.explain(entry, now)
            out.append({"email": v.email, "signer": signer, "verified": True,
                        "allowed": v.allowed, "reasons": list(v.reasons)})
        return out

    # -- import -----------------------------------------------------------------------------
    def registered(self, identifier: str) -> Image | None:
        """The newest ready image of `identifier` whose cached bytes are still on this node."""
        with self.uow(readonly=True) as uow:
            found = [i for i in uow.images.list(None)
                     if i.marketplace_id == identifier and i.state == ImageState.READY.value]
        for image in sorted(found, key=lambda i: i.id or 0, reverse=True):
            if Path(image.path).is_file():
                return image
        return None

    def request_import(self, principal: Principal, identifier: str, *,
                       kernel_image: int | None = None) -> tuple[Image | None, Job | None]:
        """(image, None) when this node has it already, else (None, queued import job).

        The metadata and the policy are checked first, so a refusal creates nothing."""
        entry, _verdict = self.judge(identifier)
        if kernel_image is not None:
            self._boot_files(principal, kernel_image)
        image = self.registered(identifier)
        if image is not None and kernel_image is None:
            return image, None
        now = self.clock.now()
        job = Job(None, IMPORT_JOB, principal.user, step="queued", created_at=now, updated_at=now,
                  params={"identifier": identifier, "kernel_image": kernel_image,
                          "allow_files": principal.is_admin,
                          "group": principal.groups[0] if principal.groups else "users",
                          "progress": {"done": 0, "total": entry.bytes}})
        with self.uow() as uow:
            uow.jobs.add(job)
            uow.commit()
        self.wake()
        return None, job

    def import_now(self, principal: Principal, identifier: str, *, timeout_s: float = 900,
                   poll_s: float = 0.2) -> Image:
        """The cloud image of `identifier`, imported first if this node lacks it: for clients
        that name the image in the VM template (XML-RPC DISK/SOURCE) and expect a VM id back.

        Verification and policy come first (`request_import`); the download runs as the usual
        `image-import` job, whose end this waits for (bounded by `timeout_s`)."""
        image, job = self.request_import(principal, identifier)
        if image is not None:
            return image
        assert job is not None and job.id is not None
        deadline = time.monotonic() + timeout_s
        while True:
            with self.uow(readonly=True) as uow:
                current = uow.jobs.get(job.id)
                found = None
                if current is not None and current.params.get("image_id") is not None:
                    found = uow.images.get(int(current.params["image_id"]))
            if current is None:
                raise NotFound("job", job.id, "stratus job list")
            if current.state == JobState.DONE.value and found is not None:
                return found
            if current.state == JobState.FAILED.value:
                raise InvalidInput(f"marketplace image {identifier} was not imported: "
                                   f"{current.error or 'the import job failed'}",
                                   hint=f"see job {job.id}: stratus job {job.id}")
            if time.monotonic() > deadline:
                raise Unavailable(f"marketplace image {identifier} is still being imported "
                                  f"(job {job.id})", hint="try again when the job is done")
            time.sleep(poll_s)

    def _boot_files(self, principal: Principal, image_id: int) -> Image:
        with self.uow(readonly=True) as uow:
            image = uow.images.get(image_id)
        if image is None or image.state != ImageState.READY.value or not (
                principal.is_admin or image.public or image.owner == principal.user):
            raise NotFound("image", image_id, "stratus image list")
        if not image.kernel:
            raise InvalidInput(f"image {image_id} has no kernel to boot another disk with",
                               hint="give an image built for direct kernel boot (stratus image build)")
        return image

    def run_import(self, job: Job) -> None:
        """Job handler of `image-import`; idempotent (a rerun finds the cached file and row)."""
        identifier = str(job.params["identifier"])
        self._step(job, "verifying metadata")
        entry, verdict = self.judge(identifier)
        self._step(job, "downloading", {"done": 0, "total": entry.bytes})
        last = [0.0]

        def progress(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                self._step(job, "downloading", {"done": done, "total": total or entry.bytes})

        path = self.fetcher.fetch(entry, progress, allow_files=bool(job.params.get("allow_files")))
        self._step(job, "registering", {"done": entry.bytes, "total": entry.bytes})
        image = self._register(job, entry, path)
        self._step(job, "done", {"done": entry.bytes, "total": entry.bytes},
                   image_id=image.id, endorser=verdict.email)

    def _register(self, job: Job, entry: MetadataEntry, path: Path) -> Image:
        kernel_id = job.params.get("kernel_image")
        boot = None
        with self.uow() as uow:
            if kernel_id is not None:
                boot = uow.images.get(int(kernel_id))
                if boot is None or not boot.kernel:
                    raise Conflict(f"image {kernel_id} (kernel for {entry.identifier}) is gone")
            for existing in uow.images.list(None):
                if (existing.marketplace_id == entry.identifier and existing.path == str(path)
                        and existing.state == ImageState.READY.value
                        and (boot is None or existing.kernel == boot.kernel)):
                    return existing
            image = Image(
                None, (entry.title or entry.identifier)[:128], job.owner,
                str(job.params.get("group") or "users"), str(path), entry.format or "raw",
                path.stat().st_size, entry.sha1, public=True,
                source=entry.locations[0] if entry.locations else None,
                kernel=boot.kernel if boot else None, initrd=boot.initrd if boot else None,
                cmdline=boot.cmdline if boot else None, marketplace_id=entry.identifier,
                created_at=self.clock.now(),
                inbound_ports=sorted({p for p in entry.inbound_ports if 1 <= p <= 65535}),
            )
            uow.images.add(image)
            uow.commit()
        return image

    def _step(self, job: Job, step: str, progress: dict[str, Any] | None = None,
              **params: Any) -> None:
        record_step(self.uow, self.clock, job.id, step, progress, **params)

