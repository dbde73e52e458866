"""Storage quota accounting per user and per group.

Charging happens in the caller's unit of work, in the same transaction that adds the volume, and
release in the one that marks it deleted; usage counts every volume not deleted (a failed one
too, until its owner deletes it).  The repository's conditional update makes a charge all or
nothing, and release never takes a counter below zero.  Imports `core` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stratuslab.core.volumes import (
    QuotaSubject,
    StorageQuota,
    StorageQuotaExceeded,
    StorageQuotaRepo,
    SubjectKind,
    UsageDelta,
    Volume,
)


@dataclass(frozen=True, slots=True)
class QuotaDefaults:
    """Limits for subjects that have none of their own (None: unlimited)."""

    user: StorageQuota = field(default_factory=StorageQuota)
    group: StorageQuota = field(default_factory=StorageQuota)


def subjects_of(volume: Volume) -> tuple[QuotaSubject, QuotaSubject]:
    return (
        QuotaSubject(SubjectKind.USER, volume.owner),
        QuotaSubject(SubjectKind.GROUP, volume.group),
    )


def delta_of(volume: Volume) -> UsageDelta:
    return UsageDelta(volumes=1, gb=volume.size_gb)


class QuotaAccountant:
    def __init__(self, defaults: QuotaDefaults | None = None) -> None:
        self._defaults = defaults or QuotaDefaults()

    def quota_for(self, repo: StorageQuotaRepo, subject: QuotaSubject) -> StorageQuota:
        own = repo.limit(subject)
        if own is not None:
            return own
        return self._defaults.user if subject.kind == SubjectKind.USER else self._defaults.group

    def charge(self, repo: StorageQuotaRepo, volume: Volume) -> None:
        """Charge the owner and the group, or neither: raise StorageQuotaExceeded naming the
        subject and the numbers.  The caller's transaction rolls back a partial charge; we undo
        it too so that a caller who catches the error keeps consistent counters."""
        delta = delta_of(volume)
        charged: list[QuotaSubject] = []
        for subject in subjects_of(volume):
            quota = self.quota_for(repo, subject)
            if not repo.try_charge(subject, delta, quota):
                for done in charged:
                    repo.release(done, delta)
                raise self._exceeded(repo, subject, quota, volume)
            charged.append(subject)

    def release(self, repo: StorageQuotaRepo, volume: Volume) -> None:
        for subject in subjects_of(volume):
            repo.release(subject, delta_of(volume))

    @staticmethod
    def _exceeded(
        repo: StorageQuotaRepo, subject: QuotaSubject, quota: StorageQuota, volume: Volume
    ) -> StorageQuotaExceeded:
        used = repo.usage(subject)
        limit: int | None
        if quota.max_gb is not None and used.gb + volume.size_gb > quota.max_gb:
            limit, unit, now, asked = quota.max_gb, "GiB", used.gb, volume.size_gb
        else:
            limit, unit, now, asked = quota.max_volumes, "volumes", used.volumes, 1
        return StorageQuotaExceeded(
            subject=subject, uuid=volume.uuid, limit=limit, unit=unit, used=now, requested=asked
        )
