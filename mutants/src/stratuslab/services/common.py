"""Small shared pieces of the service layer: the system clock and event recording."""

from __future__ import annotations

from datetime import UTC, datetime

from stratuslab.core.entities import VmEvent
from stratuslab.core.ports import UnitOfWork


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def record(
    uow: UnitOfWork,
    vm_id: int,
    at: datetime,
    kind: str,
    actor: str,
    message: str,
    *,
    host: str | None = None,
    ip: str | None = None,
    mac: str | None = None,
) -> None:
    """Append to the VM's event log (in the caller's transaction)."""
    uow.events.add(VmEvent(None, vm_id, at, kind, actor, message, host=host, ip=ip, mac=mac))
