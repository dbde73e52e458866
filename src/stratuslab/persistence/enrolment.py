"""Enrolment tokens (hashed) and host certificates (tables.host_enrolments, host_certificates)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from stratuslab.core.enrolment import Enrolment, HostCertificate
from stratuslab.persistence.tables import host_certificates, host_enrolments


def _serial(serial: int) -> str:
    return format(serial, "x")


class SqlEnrolmentRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_enrolment(self, enrolment: Enrolment) -> None:
        self.conn.execute(host_enrolments.insert().values(
            token_hash=enrolment.token_hash, host=enrolment.host,
            expires_at=enrolment.expires_at, used_at=enrolment.used_at))

    def enrolment(self, token_hash: str, *, for_update: bool = False) -> Enrolment | None:
        q = select(host_enrolments).where(host_enrolments.c.token_hash == token_hash)
        if for_update:
            q = q.with_for_update()
        row: Any = self.conn.execute(q).first()
        return None if row is None else Enrolment(row.host, row.token_hash, row.expires_at,
                                                  row.used_at)

    def use_enrolment(self, token_hash: str, at: datetime) -> None:
        self.conn.execute(update(host_enrolments)
                          .where(host_enrolments.c.token_hash == token_hash)
                          .values(used_at=at))

    def drop_enrolments(self, host: str) -> None:
        self.conn.execute(delete(host_enrolments).where(host_enrolments.c.host == host))

    def add_certificate(self, cert: HostCertificate) -> None:
        self.conn.execute(host_certificates.insert().values(
            serial=_serial(cert.serial), host=cert.host, not_after=cert.not_after,
            revoked_at=cert.revoked_at))

    def certificate(self, serial: int) -> HostCertificate | None:
        row: Any = self.conn.execute(select(host_certificates).where(
            host_certificates.c.serial == _serial(serial))).first()
        return None if row is None else HostCertificate(int(row.serial, 16), row.host,
                                                        row.not_after, row.revoked_at)

    def revoke_certificates(self, host: str, at: datetime) -> int:
        result = self.conn.execute(update(host_certificates).where(
            host_certificates.c.host == host, host_certificates.c.revoked_at.is_(None))
            .values(revoked_at=at))
        return int(result.rowcount or 0)

    def certified_hosts(self) -> set[str]:
        """Hosts holding at least one unrevoked certificate."""
        rows = self.conn.execute(select(host_certificates.c.host).where(
            host_certificates.c.revoked_at.is_(None)).distinct())
        return {r[0] for r in rows}
