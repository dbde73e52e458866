"""The scheduler's filters and policies, and the requirement expressions, against hand-written
tables (no database: core.scheduler is pure), and batches of VMs placed in one decision."""

from __future__ import annotations

import dataclasses
import random

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hosts import Host, HostState
from stratuslab.core.requirements import parse
from stratuslab.core.scheduler import Needs, decide, decide_batch

M = HostState.MONITORED


def host(name: str, cpus: int, mem: int, *, alloc: tuple[int, int] = (0, 0), load: float = 0.0,
         state: HostState = M, reserved: tuple[int, int] = (0, 0), **attrs: object) -> Host:
    return Host(name=name, state=state, cpus=cpus, memory_mib=mem, reserved_cpus=reserved[0],
                reserved_memory_mib=reserved[1], load1=load, allocated_vcpu=alloc[0],
                allocated_memory_mib=alloc[1], attributes=dict(attrs))


HOSTS = [
    host("a", 8, 8192, alloc=(6, 2048), load=0.5),  # 2 CPUs, 6144 MiB free
    host("b", 8, 8192, alloc=(2, 1024), load=3.0, ARCH="x86_64"),  # 6 CPUs free
    host("c", 4, 4096, load=0.1, ARCH="aarch64"),  # 4 CPUs, 4096 MiB free
    host("d", 16, 32768, state=HostState.DISABLED),
    host("e", 16, 32768, reserved=(15, 0)),  # 1 CPU free after the host's own share
]


@pytest.mark.parametrize("policy, vcpu, mem, expected", [
    ("pack", 1, 512, "e"),      # fullest host that fits: e (1 free CPU)
    ("pack", 2, 512, "a"),      # e has 1 free CPU; a has 2
    ("stripe", 1, 512, "b"),    # most free CPUs: b (6)
    ("load", 1, 512, "e"),      # e and c: load 0.0 < 0.1
    ("pack", 5, 512, "b"),      # only b has 5 free CPUs
    ("stripe", 4, 5000, "b"),   # c has too little memory
    ("pack", 7, 512, None),     # nobody has 7 free CPUs
])
def test_policies_pick_from_the_hosts_that_pass(policy: str, vcpu: int, mem: int,
                                                expected: str | None) -> None:
    assert decide(HOSTS, Needs(1, vcpu, mem, policy=policy)).host == expected


def test_every_removed_host_has_its_filter_and_reason() -> None:
    d = decide(HOSTS, Needs(9, 3, 5000, requirements='ARCH = "x86*"'), served={"a", "b", "c", "d"})
    assert d.host == "b"
    assert d.removed == {
        "a": 'requirements: ARCH = "x86*" not met',
        "c": 'requirements: ARCH = "x86*" not met',
        "d": "state: disabled",
        "e": "served: by another front end",
    }
    none = decide(HOSTS, Needs(9, 1, 128, requirements="ARCH = sparc"))
    assert none.host is None
    assert none.reason(9) == (
        "no host can run VM 9: a: requirements: ARCH = sparc not met; b: requirements: ARCH = "
        "sparc not met; c: requirements: ARCH = sparc not met; d: state: disabled; e: "
        "requirements: ARCH = sparc not met")


def test_overcommit_multiplies_the_totals_before_the_reserved_share() -> None:
    assert decide(HOSTS, Needs(4, 7, 512)).host is None
    over = decide(HOSTS, Needs(4, 7, 512), overcommit=(2.0, 1.0))  # a 10, b 14, c 8, e 17 free
    assert over.host == "c" and over.removed == {"d": "state: disabled"}
    tight = decide(HOSTS, Needs(4, 9, 512), overcommit=(2.0, 1.0))
    assert tight.host == "a" and tight.removed["c"] == "capacity: needs 9 CPUs, 8 free"


def test_a_requested_host_is_the_only_candidate() -> None:
    d = decide(HOSTS, Needs(3, 1, 128, requested_host="c", policy="stripe"))
    assert d.host == "c" and d.removed["b"] == "requested: the VM asked for host c"
    assert decide(HOSTS, Needs(3, 1, 128, requested_host="d")).removed["d"] == "state: disabled"


@pytest.mark.parametrize("expr, attrs, expected", [
    ("CPUS >= 4", {"CPUS": 8}, True),
    ("CPUS >= 4", {"CPUS": 2}, False),
    ("CPUS > 4 & ARCH = x86_64", {"CPUS": 8, "ARCH": "x86_64"}, True),
    ('NAME = "node-*" | CPUS = 1', {"NAME": "node-7", "CPUS": 2}, True),
    ("!(ARCH = aarch64)", {"ARCH": "x86_64"}, True),
    ("ARCH != aarch64", {}, False),  # a host without the attribute matches no comparison
    ("LOAD < 1.5", {"LOAD": 0.25}, True),
    ('GPU = "yes" & (CPUS >= 2 | MEMORY_MIB >= 1024)', {"GPU": "yes", "CPUS": 1,
                                                         "MEMORY_MIB": 2048}, True),
    ("cpus == 2", {"CPUS": 2}, True),  # names are case-insensitive
    ("", {}, True),
])
def test_requirement_expressions(expr: str, attrs: dict[str, object], expected: bool) -> None:
    assert parse(expr)(attrs) is expected


@pytest.mark.parametrize("expr, message", [
    ("CPUS >", "expected a value (number, \"string\" or word), found the end at 7"),
    ("CPUS 4", "expected a comparison after CPUS, found '4' at 6"),
    ("__import__('os')", "unexpected character \"'\" at 12"),
    ("(CPUS = 1", "expected ')', found the end at 10"),
    ("CPUS = 1 CPUS = 2", "expected '&', '|' or the end, found 'CPUS' at 10"),
    ("CPUS = 1; rm", "unexpected character ';' at 9"),
    ("!" * 40 + "CPUS = 1", "at most 32 nested levels"),
    ("A = 1 & " * 200 + "A = 1", "at most 1024"),
])
def test_hostile_or_broken_expressions_are_refused_with_the_place(expr: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(expr)
    assert message in err.value.full_message


def test_a_batch_fills_hosts_in_the_policys_order_then_says_why_the_rest_waits() -> None:
    hosts = [host("big", 4, 8192), host("small", 2, 8192), host("off", 8, 8192,
                                                                 state=HostState.OFFLINE)]
    packed = decide_batch(hosts, [Needs(i, 2, 1024) for i in range(4)])
    assert [d.host for d in packed] == ["small", "big", "big", None]
    assert packed[3].reason(3) == ("no host can run VM 3: big: capacity: needs 2 CPUs, 0 free; "
                                   "off: state: offline; small: capacity: needs 2 CPUs, 0 free")
    striped = decide_batch(hosts, [Needs(i, 1, 1024, policy="stripe") for i in range(4)])
    assert [d.host for d in striped] == ["big", "big", "small", "big"]  # 2 CPUs each: memory


def test_a_smaller_vm_still_fits_where_a_bigger_one_of_the_batch_did_not() -> None:
    hosts = [host("a", 3, 8192)]
    got = decide_batch(hosts, [Needs(1, 2, 512), Needs(2, 2, 512), Needs(3, 1, 512)])
    assert [d.host for d in got] == ["a", None, "a"]


@pytest.mark.parametrize("policy", ["pack", "stripe", "load"])
def test_one_batch_decision_equals_deciding_one_vm_after_the_other(policy: str) -> None:
    rng = random.Random(17)
    hosts = [host(f"h{i:02}", rng.choice([4, 8, 16]), rng.choice([4096, 16384]),
                  alloc=(rng.randrange(4), rng.randrange(2048)), load=rng.random(),
                  state=rng.choice([M, M, M, HostState.DISABLED]), RACK=str(i % 3))
             for i in range(40)]
    batch = [Needs(i, 2, 1536, policy=policy, requirements="RACK != 1") for i in range(120)]
    one_by_one, live = [], [dataclasses.replace(h) for h in hosts]
    for needs in batch:
        d = decide(live, needs)
        one_by_one.append(d.host)
        for h in live:
            if h.name == d.host:
                h.allocated_vcpu += needs.vcpu
                h.allocated_memory_mib += needs.memory_mib
    assert [d.host for d in decide_batch(hosts, batch)] == one_by_one
    assert None in one_by_one and len({h for h in one_by_one if h}) > 5


def test_a_reason_over_many_hosts_counts_them_per_filter() -> None:
    hosts = [host(f"n{i:03}", 1, 1024) for i in range(300)] + [
        host("d1", 8, 8192, state=HostState.DISABLED)]
    reason = decide(hosts, Needs(5, 2, 512)).reason(5)
    assert reason.startswith("no host can run VM 5 (301 hosts): capacity removed 300 host(s), "
                             "e.g. n000: capacity: needs 2 CPUs, 1 free; n001:")
    assert reason.endswith("| state removed 1 host(s), e.g. d1: state: disabled")
    assert len(reason) < 400
