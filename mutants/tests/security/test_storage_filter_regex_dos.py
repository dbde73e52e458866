"""Attack: a storage listing filter with a catastrophic regular expression (`(a+)+$` against a
long run of `a`) freezes a server thread.  Filters are globs matched in linear-by-pattern time;
no user text ever reaches a regex engine."""

from __future__ import annotations

import pytest
from tests.unit.storage.fakes import FixedClock, RecordingBackend

from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput
from stratuslab.core.volumes import CreateVolume
from stratuslab.services.storage.filters import compile_glob, glob_search
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.service import VolumeService

ALICE = Principal("alice", 1, groups=("physics",))


@pytest.mark.timeout(120)
def test_catastrophic_regex_filter_is_a_literal_glob_and_returns_at_once() -> None:
    svc = VolumeService(InMemoryStorageUnitOfWork(), {"p": RecordingBackend()},
                        clock=FixedClock(), default_pool="p")
    evil_tag = "a" * 38 + "!"
    svc.create(ALICE, CreateVolume(size_gb=1, tag=evil_tag))
    literal = svc.create(ALICE, CreateVolume(size_gb=1, tag="x(a+)+y"))
    # regex metacharacters are plain characters: `.` is a dot, `(a+)+` is five characters
    assert svc.describe(ALICE, filters=["tag:a.a"]) == []
    assert [v.uuid for v in svc.describe(ALICE, filters=["tag:(a+)+"])] == [literal.uuid]
    # the pattern that backtracks exponentially in `re` against 38 a's followed by `!`
    assert svc.describe(ALICE, filters=["tag:^(a+)+$"]) == []
    assert [v.tag for v in svc.describe(ALICE, filters=["tag:^a*a*a*a*a*a*a*a*a*a*!$"])] == [evil_tag]


def test_glob_semantics_keep_pdisk_filters_working() -> None:
    def m(pattern: str, text: str) -> bool:
        return glob_search(compile_glob(pattern, what="t"), text)

    assert m("^db", "db-1") and not m("^db", "my-db")
    assert m("ready$", "ready") and not m("ready$", "ready2")
    assert m("alice", "xalicex") and m("a?c", "xabcx") and not m("a?c", "ac")
    assert m("^a*z$", "abcz") and m("^*$", "") and not m("^a*z$", "abczq")
    assert m("\\*", "a*b") and not m("\\*", "ab")
    with pytest.raises(InvalidInput, match="at most 200"):
        compile_glob("a" * 201, what="filter tag")
