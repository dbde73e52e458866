"""Wiring of CDMI file storage: the objects repository, the blob store, ObjectService and the
/cdmi/ routes behind the server's one authenticator chain."""

from __future__ import annotations

from fastapi import Request

from stratuslab.api.cdmi import create_router
from stratuslab.api.credentials import credentials_from_scope
from stratuslab.bootstrap.wiring import Wiring
from stratuslab.core.entities import Principal
from stratuslab.drivers.objectstore.fs import FsBlobStore
from stratuslab.persistence.objects import ObjectRepo
from stratuslab.services.objects import REPO, ObjectService


def wire(w: Wiring) -> None:
    cfg = w.settings.cdmi
    if not cfg.enabled:
        return
    w.uow.register(REPO, ObjectRepo)
    blobs = FsBlobStore(cfg.directory or w.settings.data_dir / "objects")
    service = ObjectService(w.uow, w.clock, blobs, quota_bytes=cfg.quota_bytes)
    w.services["objects"] = service

    def authenticate(request: Request) -> Principal:
        assert w.authenticate is not None
        return w.authenticate(credentials_from_scope(request.scope))  # type: ignore[no-any-return]

    w.routers.append(create_router(service, authenticate, prefix="/cdmi"))
