"""File storage (CDMI) use cases: containers and data objects, who may see them, and quotas.

Every object belongs to the user who made it; the owner and admins see and change it, anyone
else gets "does not exist" (no existence leak).  A data object's bytes stream into a new blob
first; only then is the row switched to it, in a transaction that checks the owner's quota
again, so a failed or over-quota upload leaves nothing visible and the old bytes intact.
Imports core only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, cast

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Conflict, Forbidden, InvalidInput, NotFound, QuotaExceeded
from stratuslab.core.objects import (
    MAX_METADATA,
    BlobStore,
    ObjectKind,
    ObjectRepository,
    StoredObject,
    check_name,
    new_object_id,
)
from stratuslab.core.ports import Clock, UnitOfWork, UnitOfWorkFactory

REPO = "objects"
LISTING = "stratus storage ls"
SYSTEM_PREFIX = "cdmi_"


def _repo(uow: UnitOfWork) -> ObjectRepository:
    return cast(ObjectRepository, uow.repo(REPO))


def check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise InvalidInput("metadata must be a JSON object with string keys")
    reserved = sorted(k for k in metadata if k.startswith(SYSTEM_PREFIX))
    if reserved:
        raise InvalidInput(f"metadata keys {', '.join(reserved)} are the system's own",
                           hint="user metadata keys must not start with 'cdmi_'")
    if len(json.dumps(metadata)) > MAX_METADATA:
        raise InvalidInput(f"metadata is larger than {MAX_METADATA} bytes")
    return dict(metadata)


class ObjectService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, blobs: BlobStore, *,
                 quota_bytes: int) -> None:
        self.uow = uow
        self.clock = clock
        self.blobs = blobs
        self.quota_bytes = quota_bytes  # per user; 0 = no limit

    # -- finding ----------------------------------------------------------------------------
    @staticmethod
    def _visible(principal: Principal, obj: StoredObject) -> bool:
        return principal.is_admin or obj.owner == principal.user

    def resolve(self, principal: Principal, parts: list[str]) -> StoredObject:
        """The object at a path; "does not exist" for what the caller may not see."""
        if not parts:
            raise InvalidInput("the root container has no object of its own")
        with self.uow(readonly=True) as uow:
            parent, obj = "", None
            for name in parts:
                obj = _repo(uow).child(parent, name)
                if obj is None or not self._visible(principal, obj):
                    raise NotFound("object", "/" + "/".join(parts), LISTING)
                parent = obj.object_id
        assert obj is not None
        return obj

    def by_id(self, principal: Principal, object_id: str) -> StoredObject:
        with self.uow(readonly=True) as uow:
            obj = _repo(uow).get(object_id)
        if obj is None or not self._visible(principal, obj):
            raise NotFound("object ID", object_id, LISTING)
        return obj

    def top_level(self, principal: Principal) -> list[StoredObject]:
        with self.uow(readonly=True) as uow:
            return _repo(uow).top_level(None if principal.is_admin else principal.user)

    def children(self, obj: StoredObject, start: int, end: int | None
                 ) -> tuple[list[StoredObject], int]:
        """Children start..end (inclusive, CDMI ranges) and how many there are in all."""
        with self.uow(readonly=True) as uow:
            total = _repo(uow).count_children(obj.object_id)
            last = total - 1 if end is None else min(end, total - 1)
            if start > last:
                return [], total
            return _repo(uow).children(obj.object_id, start, last - start + 1), total

    def path_of(self, obj: StoredObject) -> str:
        """'/a/b/' for a container, '/a/b/c' for a data object ('' for one made by POST)."""
        names: list[str] = []
        with self.uow(readonly=True) as uow:
            cur: StoredObject | None = obj
            while cur is not None:
                if cur.name is None:
                    return ""
                names.append(cur.name)
                cur = _repo(uow).get(cur.parent) if cur.parent else None
        path = "/" + "/".join(reversed(names))
        return path + "/" if obj.kind == ObjectKind.CONTAINER.value else path

    def usage(self, principal: Principal) -> tuple[int, int]:
        with self.uow(readonly=True) as uow:
            return _repo(uow).used_bytes(principal.user), self.quota_bytes

    # -- changing ---------------------------------------------------------------------------
    def _parent_for_write(self, principal: Principal, parts: list[str]) -> str:
        if len(parts) == 1:
            return ""
        try:
            parent = self.resolve(principal, parts[:-1])
        except NotFound:  # named by the object asked for, as for any object that is not there
            raise NotFound("container of object", "/" + "/".join(parts), LISTING) from None
        if parent.kind != ObjectKind.CONTAINER.value:
            raise InvalidInput(f"/{'/'.join(parts[:-1])} is a data object, not a container")
        if parent.owner != principal.user and not principal.is_admin:
            raise Forbidden(f"container {self.path_of(parent)} belongs to {parent.owner}")
        return parent.object_id

    def make_container(self, principal: Principal, parts: list[str],
                       metadata: dict[str, Any] | None) -> tuple[StoredObject, bool]:
        """Create the container, or update its metadata if it exists; (object, created)."""
        metadata = check_metadata(metadata)
        parent = self._parent_for_write(principal, [check_name(p) for p in parts])
        now = self.clock.now()
        with self.uow() as uow:
            found = _repo(uow).child(parent, parts[-1])
            if found is not None:
                if not self._visible(principal, found):
                    raise Conflict(f"the name /{'/'.join(parts)} is taken",
                                   hint="choose another name")
                if found.kind != ObjectKind.CONTAINER.value:
                    raise Conflict(f"/{'/'.join(parts)} is a data object, not a container")
                if metadata:
                    found.metadata = metadata
                    found.updated_at = now
                    _repo(uow).update(found)
                    uow.commit()
                return found, False
            obj = StoredObject(None, new_object_id(), parent, parts[-1],
                               ObjectKind.CONTAINER.value, principal.user,
                               "application/cdmi-container", 0, metadata, None, "", now, now)
            _repo(uow).add(obj)
            uow.commit()
        return obj, True

    def put_data(self, principal: Principal, parts: list[str], chunks: Iterable[bytes], *,
                 mimetype: str, metadata: dict[str, Any] | None) -> tuple[StoredObject, bool]:
        """Create or replace the data object at a path with the streamed bytes."""
        metadata = check_metadata(metadata)
        parent = self._parent_for_write(principal, [check_name(p) for p in parts])
        return self._store(principal, parent, parts[-1], chunks, mimetype, metadata)

    def post_data(self, principal: Principal, container: StoredObject, chunks: Iterable[bytes],
                  *, mimetype: str, metadata: dict[str, Any] | None) -> StoredObject:
        """A data object in `container` with no name, reachable by its ID only."""
        if container.kind != ObjectKind.CONTAINER.value:
            raise InvalidInput("POST creates objects in containers only")
        if container.owner != principal.user and not principal.is_admin:
            raise Forbidden(f"container {self.path_of(container)} belongs to {container.owner}")
        obj, _ = self._store(principal, container.object_id, None, chunks, mimetype,
                             check_metadata(metadata))
        return obj

    def update_metadata(self, principal: Principal, obj: StoredObject,
                        metadata: dict[str, Any]) -> StoredObject:
        metadata = check_metadata(metadata)
        with self.uow() as uow:
            current = _repo(uow).get(obj.object_id)
            if current is None or not self._visible(principal, current):
                raise NotFound("object ID", obj.object_id, LISTING)
            current.metadata = metadata
            current.updated_at = self.clock.now()
            _repo(uow).update(current)
            uow.commit()
        return current

    def _store(self, principal: Principal, parent: str, name: str | None,
               chunks: Iterable[bytes], mimetype: str, metadata: dict[str, Any]
               ) -> tuple[StoredObject, bool]:
        if len(mimetype) > 255:
            raise InvalidInput("mimetype is longer than 255 characters")
        owner = principal.user
        with self.uow(readonly=True) as uow:
            old = _repo(uow).child(parent, name) if name is not None else None
            used = _repo(uow).used_bytes(owner)
        if old is not None and (old.kind != ObjectKind.DATA.value or not self._visible(principal, old)):
            raise Conflict(f"the name {name} is taken by a container or another user's object",
                           hint="choose another name")
        room = self._room(used, old)
        key = uuid.uuid4().hex
        size, sha = self.blobs.write(key, chunks, room)
        try:
            return self._switch(principal, parent, name, key, size, sha, mimetype, metadata)
        except BaseException:
            self.blobs.delete(key)
            raise

    def _room(self, used: int, old: StoredObject | None) -> int:
        if not self.quota_bytes:
            return 2**62
        return max(self.quota_bytes - used + (old.size if old else 0), 0)

    def _switch(self, principal: Principal, parent: str, name: str | None, key: str, size: int,
                sha: str, mimetype: str, metadata: dict[str, Any]) -> tuple[StoredObject, bool]:
        now = self.clock.now()
        with self.uow() as uow:
            repo = _repo(uow)
            old = repo.child(parent, name) if name is not None else None
            if size > self._room(repo.used_bytes(principal.user), old):
                raise QuotaExceeded(f"storing {size} bytes would exceed your storage quota of "
                                    f"{self.quota_bytes} bytes", hint="delete objects first")
            if old is not None:
                previous = old.blob
                old.blob, old.size, old.sha256, old.mimetype = key, size, sha, mimetype
                old.metadata, old.updated_at = metadata, now
                repo.update(old)
                uow.commit()
                if previous:
                    self.blobs.delete(previous)
                return old, False
            obj = StoredObject(None, new_object_id(), parent, name, ObjectKind.DATA.value,
                               principal.user, mimetype, size, metadata, key, sha, now, now)
            repo.add(obj)
            uow.commit()
        return obj, True

    def read(self, obj: StoredObject, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if obj.kind != ObjectKind.DATA.value or obj.blob is None:
            return iter(())
        return self.blobs.read(obj.blob, start, end)

    def delete(self, principal: Principal, obj: StoredObject) -> None:
        with self.uow() as uow:
            repo = _repo(uow)
            current = repo.get(obj.object_id)
            if current is None or not self._visible(principal, current):
                raise NotFound("object ID", obj.object_id, LISTING)
            if current.kind == ObjectKind.CONTAINER.value:
                count = repo.count_children(current.object_id)
                if count:
                    raise Conflict(f"container {self.path_of(current)} holds {count} objects",
                                   hint="delete them first (stratus storage rm)")
            repo.delete(current.object_id)
            uow.commit()
        if current.blob:
            self.blobs.delete(current.blob)
