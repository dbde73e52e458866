"""SQL implementation of the `MarketplaceRepository` port.

Entries are append-only: an add marks the previous latest row of (identifier, email) as not latest
in the same transaction, refuses an upload older than (or as old as) that latest, and keeps the
endorsers table up to date.  Imports core and SQLAlchemy only; never services, drivers or api.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from stratuslab.core.marketplace import (
    Checksum,
    DuplicateEntry,
    Endorsement,
    Endorser,
    EndorserSummary,
    EntryPage,
    EntryQuery,
    EntryStatus,
    MetadataEntry,
    OlderThanLatest,
    StoredEntry,
    format_date,
    parse_date,
)
from stratuslab.persistence.marketplace.tables import documents, endorsers, entries, tags


def entry_to_json(entry: MetadataEntry) -> str:
    data = asdict(entry)
    data["endorsement"]["created"] = format_date(entry.created)
    data["valid_until"] = format_date(entry.valid_until) if entry.valid_until else None
    return json.dumps(data, separators=(",", ":"))


def entry_from_json(text: str) -> MetadataEntry:
    data: dict[str, Any] = json.loads(text)
    e = data.pop("endorsement")
    data["checksums"] = tuple(Checksum(**c) for c in data["checksums"])
    for key in ("locations", "tags", "inbound_ports"):
        data[key] = tuple(data[key])
    data["valid_until"] = parse_date(data["valid_until"]) if data["valid_until"] else None
    endorsement = Endorsement(parse_date(e["created"]), Endorser(**e["endorser"]))
    return MetadataEntry(endorsement=endorsement, **data)


def _search_text(entry: MetadataEntry) -> str:
    parts = [entry.identifier, entry.email, entry.title, entry.description, entry.os,
             entry.os_version, entry.arch, entry.kind, *entry.tags]
    return " ".join(p for p in parts if p).lower()


class SqlMarketplaceRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, stored: StoredEntry) -> StoredEntry:
        entry = stored.entry
        created = format_date(entry.created)
        try:
            with self.engine.begin() as conn:
                latest = conn.execute(
                    select(entries.c.id, entries.c.created).where(
                        entries.c.identifier == entry.identifier,
                        entries.c.email == entry.email,
                        entries.c.latest.is_(True),
                    )
                ).first()
                if latest is not None:
                    self._check_newer(entry, created, latest.created)
                    conn.execute(update(entries).where(entries.c.id == latest.id).values(latest=False))
                key = conn.execute(insert(entries).values(**self._row(stored, created))).inserted_primary_key
                assert key is not None
                conn.execute(insert(documents).values(
                    entry_id=key[0], summary=entry_to_json(entry), raw=stored.raw))
                if entry.tags:
                    conn.execute(insert(tags), [{"entry_id": key[0], "tag": t} for t in set(entry.tags)])
                self._touch_endorser(conn, entry, created)
        except IntegrityError as exc:
            raise DuplicateEntry(identifier=entry.identifier, email=entry.email, created=created) from exc
        return replace(stored, latest=True)

    @staticmethod
    def _check_newer(entry: MetadataEntry, created: str, latest: str) -> None:
        if created == latest:
            raise DuplicateEntry(identifier=entry.identifier, email=entry.email, created=created)
        if created < latest:
            raise OlderThanLatest(
                identifier=entry.identifier, email=entry.email, created=created, latest=latest
            )

    @staticmethod
    def _row(stored: StoredEntry, created: str) -> dict[str, Any]:
        e = stored.entry
        return {
            "identifier": e.identifier, "email": e.email, "created": created, "latest": True,
            "deprecated": e.deprecated is not None,
            "valid_until": format_date(e.valid_until) if e.valid_until else None,
            "os": e.os, "os_version": e.os_version, "arch": e.arch, "kind": e.kind,
            "sha1": e.sha1, "bytes": e.bytes, "title": e.title,
            "location": e.locations[0] if e.locations else "",
            "search_text": _search_text(e),
            "uploaded": format_date(stored.uploaded or e.created),
        }

    @staticmethod
    def _touch_endorser(conn: Any, entry: MetadataEntry, created: str) -> None:
        who = entry.endorsement.endorser
        row = conn.execute(select(endorsers).where(endorsers.c.email == entry.email)).first()
        if row is None:
            conn.execute(insert(endorsers).values(
                email=entry.email, subject=who.subject, issuer=who.issuer, entries=1,
                last_created=created))
            return
        newer = row.last_created is None or created > row.last_created
        values: dict[str, Any] = {"entries": row.entries + 1}
        if newer:
            values |= {"subject": who.subject, "issuer": who.issuer, "last_created": created}
        conn.execute(update(endorsers).where(endorsers.c.email == entry.email).values(**values))

    def get(self, identifier: str, email: str, created: datetime) -> StoredEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(_FULL.where(
                entries.c.identifier == identifier, entries.c.email == email,
                entries.c.created == format_date(created))).first()
        return _stored(row) if row is not None else None

    def search(self, query: EntryQuery, now: datetime) -> EntryPage:
        where = self._where(query, format_date(now))
        page_ids = (
            select(entries.c.id).where(*where)
            .order_by(entries.c.created.desc(), entries.c.id.desc())
            .offset(query.offset).limit(query.limit)
        )
        counter = select(func.count()).select_from(entries).where(*where)
        with self.engine.connect() as conn:
            ids = list(conn.execute(page_ids).scalars())
            rows = {r.id: r for r in conn.execute(_FULL.where(entries.c.id.in_(ids)))} if ids else {}
            total = conn.execute(counter).scalar_one()
        return EntryPage(tuple(_stored(rows[i]) for i in ids), int(total), query.offset, query.limit)

    @staticmethod
    def _where(query: EntryQuery, now: str) -> list[Any]:
        c = entries.c
        where: list[Any] = []
        if query.created is not None:
            where.append(c.created == format_date(query.created))
        elif query.status is EntryStatus.VALID:
            where += [c.latest.is_(True), c.deprecated.is_(False),
                      or_(c.valid_until.is_(None), c.valid_until > now)]
        elif query.status is EntryStatus.EXPIRED:
            where += [c.latest.is_(True), c.deprecated.is_(False), c.valid_until <= now]
        elif query.status is EntryStatus.DEPRECATED:
            where += [c.latest.is_(True), c.deprecated.is_(True)]
        elif query.status is EntryStatus.LATEST:
            where.append(c.latest.is_(True))
        exact = ((c.identifier, query.identifier), (c.email, query.email), (c.os, query.os),
                 (c.arch, query.arch), (c.kind, query.kind))
        where += [col == value for col, value in exact if value]
        if query.tag:
            where.append(c.id.in_(select(tags.c.entry_id).where(tags.c.tag == query.tag)))
        for term in (query.text or "").lower().split():
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(c.search_text.like(f"%{escaped}%", escape="\\"))
        return where or [and_(True)]

    def endorsers(self) -> Sequence[EndorserSummary]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(endorsers).order_by(endorsers.c.email)).all()
        return [_summary(r) for r in rows]

    def endorser(self, email: str) -> EndorserSummary | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(endorsers).where(endorsers.c.email == email)).first()
        return _summary(row) if row is not None else None


_FULL = select(
    entries.c.id, entries.c.latest, entries.c.uploaded, documents.c.summary, documents.c.raw
).join(documents, documents.c.entry_id == entries.c.id)


def _stored(row: Any) -> StoredEntry:
    return StoredEntry(
        entry=entry_from_json(row.summary),
        raw=bytes(row.raw),
        latest=bool(row.latest),
        uploaded=parse_date(row.uploaded),
    )


def _summary(row: Any) -> EndorserSummary:
    return EndorserSummary(
        email=row.email, subject=row.subject, issuer=row.issuer, entries=row.entries,
        last_created=parse_date(row.last_created) if row.last_created else None,
    )
