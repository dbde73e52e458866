"""Wiring of CDMI file storage (`[cdmi] enabled`): the objects repository, the blob store,
ObjectService and the /cdmi/ routes behind the server's one authenticator chain."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from stratuslab.api.cdmi import create_router
from stratuslab.api.credentials import credentials_from_scope
from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.core.entities import Principal
from stratuslab.drivers.objectstore.fs import FsBlobStore
from stratuslab.persistence.objects import ObjectRepo
from stratuslab.services.catalog import Authenticate
from stratuslab.services.objects import REPO, ObjectService


@dataclass(frozen=True)
class CdmiFeature:
    service: ObjectService | None  # None: [cdmi] enabled = false
    parts: FeatureParts


def wire(core: Core, authenticate: Authenticate) -> CdmiFeature:
    cfg = core.settings.cdmi
    if not cfg.enabled:
        return CdmiFeature(None, FeatureParts())
    core.uow.register(REPO, ObjectRepo)
    blobs = FsBlobStore(cfg.directory or core.settings.data_dir / "objects")
    service = ObjectService(core.uow, core.clock, blobs, quota_bytes=cfg.quota_bytes)

    def principal(request: Request) -> Principal:
        return authenticate(credentials_from_scope(request.scope))

    return CdmiFeature(service, FeatureParts(
        routers=(create_router(service, principal, prefix="/cdmi"),)))
