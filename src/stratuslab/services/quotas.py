"""Compute quotas and capacity admission: what a user, a group and the hosts may still take.

`reserve` runs inside the caller's transaction, the one that adds or grows the VMs: it locks the
subjects, sums what their VMs hold (core/quotas: usage is read from the VM records, so it cannot
drift), and refuses with a message naming the subject, the limit and the way out.  Administrators
are not limited by quotas (their VMs still count for their group and the hosts); capacity applies
to everyone: a VM larger than every host is refused outright, and one that does not fit beside
the VMs already placed or waiting is refused rather than left pending for ever.
Imports `core` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, InvalidInput
from stratuslab.core.ports import UnitOfWork, UnitOfWorkFactory
from stratuslab.core.quotas import (
    RESOURCES,
    CapacityExceeded,
    ComputeQuota,
    ComputeQuotaExceeded,
    ComputeQuotaRepo,
    ComputeUsage,
    QuotaReport,
    Subject,
    SubjectKind,
)

REPO = "compute_quotas"
LIMIT_NAMES = tuple(f.name for f in fields(ComputeQuota))


@dataclass(frozen=True, slots=True)
class QuotaDefaults:
    """Limits of subjects without their own (settings [quotas]); None: unlimited."""

    user: ComputeQuota = field(default_factory=ComputeQuota)
    group: ComputeQuota = field(default_factory=ComputeQuota)


@dataclass(frozen=True, slots=True)
class Capacity:
    """What the hosts can hold in total (None: unlimited) and the largest single host."""

    cpu: int | None = None
    memory_mib: int | None = None
    largest_cpu: int | None = None
    largest_memory_mib: int | None = None


def repo(uow: UnitOfWork) -> ComputeQuotaRepo:
    found: ComputeQuotaRepo = uow.repo(REPO)
    return found


class ComputeQuotas:
    def __init__(self, uow: UnitOfWorkFactory, *, defaults: QuotaDefaults | None = None,
                 capacity: Callable[[], Capacity] = Capacity) -> None:
        self.uow = uow
        self.defaults = defaults or QuotaDefaults()
        self.capacity = capacity  # asked at every reservation: hosts may be enabled/disabled

    # -- inside the caller's transaction -----------------------------------------------------
    def reserve(self, uow: UnitOfWork, principal: Principal, *, owner: str, group: str,
                demand: ComputeUsage, what: str, size: tuple[int, int]) -> None:
        """Refuse `demand` (what `what` adds; each VM `size` = (vCPUs, MiB) once done) if it
        exceeds a quota of `owner` or `group` or the hosts' capacity; else return, leaving the
        caller to write the VMs."""
        r = repo(uow)
        if not principal.is_admin:
            for subject in (Subject(SubjectKind.USER, owner), Subject(SubjectKind.GROUP, group)):
                r.lock(subject)
                self._check(subject, self.limits(r, subject), r.usage(subject), demand)
        self._admit(r, demand, what, size)

    def limits(self, r: ComputeQuotaRepo, subject: Subject) -> ComputeQuota:
        own = r.limit(subject)
        if own is not None:
            return own
        return self.defaults.user if subject.kind is SubjectKind.USER else self.defaults.group

    @staticmethod
    def _check(subject: Subject, limits: ComputeQuota, used: ComputeUsage,
               demand: ComputeUsage) -> None:
        for name, unit, option in RESOURCES:
            limit, now, asked = getattr(limits, name), getattr(used, name), getattr(demand, name)
            if limit is not None and asked > 0 and now + asked > limit:
                raise ComputeQuotaExceeded(subject, unit, option, limit=limit, used=now,
                                           asked=asked)

    def _admit(self, r: ComputeQuotaRepo, demand: ComputeUsage, what: str,
               size: tuple[int, int]) -> None:
        cap = self.capacity()
        if cap.cpu is None and cap.memory_mib is None:
            return
        for asked, largest, unit, key in ((size[0], cap.largest_cpu, "vCPUs", "capacity_cpu"),
                                          (size[1], cap.largest_memory_mib, "MiB of memory",
                                           "capacity_memory_mib")):
            if largest is not None and asked > largest:
                raise CapacityExceeded(
                    f"{what} needs {asked} {unit} per VM, more than the largest host has "
                    f"({largest}); it could never start",
                    hint=f"ask for less (stratus list-types), or an administrator raises "
                         f"hypervisor.{key}")
        r.lock(None)
        held = r.usage(None)
        for asked, total, now, unit in ((demand.cpu, cap.cpu, held.cpu, "vCPUs"),
                                        (demand.memory_mib, cap.memory_mib, held.memory_mib,
                                         "MiB of memory")):
            if total is not None and asked > 0 and now + asked > total:
                raise CapacityExceeded(
                    f"the hosts cannot hold {what}: it needs {asked} {unit}, and {now} of "
                    f"their {total} are taken by {held.vms} VMs",
                    hint="try again when VMs have ended, or ask for a smaller instance type "
                         "(stratus list-types)")

    # -- use cases -------------------------------------------------------------------------
    def show(self, principal: Principal, subject: Subject | None = None) -> list[QuotaReport]:
        """The caller's own user and primary group, or (administrators, or members of the
        group) the one named."""
        if subject is None:
            wanted = [Subject(SubjectKind.USER, principal.user),
                      Subject(SubjectKind.GROUP, principal.groups[0] if principal.groups
                              else "users")]
        else:
            mine = (subject.kind is SubjectKind.USER and subject.name == principal.user) or \
                (subject.kind is SubjectKind.GROUP and subject.name in principal.groups)
            if not (mine or principal.is_admin):
                raise Forbidden(f"user {principal.user} may not read the quota of {subject}",
                                hint="read your own: stratus quota")
            wanted = [subject]
        with self.uow(readonly=True) as uow:
            r = repo(uow)
            return [QuotaReport(s, self.limits(r, s), r.usage(s), r.limit(s) is not None)
                    for s in wanted]

    def set(self, principal: Principal, subject: Subject,
            changes: dict[str, int | None] | None) -> QuotaReport:
        """Set some limits of `subject` (None: unlimited; keys not given keep their value), or
        with `changes=None` drop its own limits so the defaults apply again.  Administrators."""
        if not principal.is_admin:
            raise Forbidden(f"user {principal.user} may not change quotas",
                            hint="only administrators set quotas")
        if not subject.name or len(subject.name) > 64:
            raise InvalidInput(f"{subject.kind.value} name {subject.name!r} is not valid")
        for key, value in (changes or {}).items():
            if key not in LIMIT_NAMES:
                raise InvalidInput(f"quota {key!r} is unknown",
                                   hint=f"use {', '.join(LIMIT_NAMES)}")
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise InvalidInput(f"quota {key} of {subject} must be a whole number of 0 or "
                                   f"more (or unlimited), not {value!r}")
        with self.uow() as uow:
            r = repo(uow)
            if changes is None:
                r.set_limit(subject, None)
            else:
                base = self.limits(r, subject)
                merged = {name: getattr(base, name) for name in LIMIT_NAMES}
                merged.update(changes)
                r.set_limit(subject, ComputeQuota(**merged))
            report = QuotaReport(subject, self.limits(r, subject), r.usage(subject),
                                 changes is not None)
            uow.commit()
        return report
