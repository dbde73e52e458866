"""Small shared pieces of the service layer: the system clock, event recording, job steps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stratuslab.core.entities import JobState, VmEvent
from stratuslab.core.ports import Clock, UnitOfWork, UnitOfWorkFactory


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


def record_step(uow_factory: UnitOfWorkFactory, clock: Clock, job_id: int | None, step: str,
                progress: dict[str, Any] | None = None, **params: Any) -> None:
    """Write where a running job is (`step`, and `progress {done, total}` in bytes when it moves
    data) into its row, for the clients that follow it; the runner owns state and heartbeat."""
    with uow_factory() as uow:
        current = uow.jobs.get(job_id or 0)
        if current is None or current.state != JobState.RUNNING.value:
            return
        current.step = step
        current.params = {**current.params, **params,
                          **({"progress": progress} if progress is not None else {})}
        current.updated_at = clock.now()
        uow.jobs.update(current)
        uow.commit()
