"""Security-group rule parsing and the rules a NIC ends up with."""

from __future__ import annotations

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.core.network import Direction, IpProtocol, Rule, SecurityGroup
from stratuslab.services.network import parse_rule, rules_for_nic, validate_group


def test_parse_rule_short_forms():
    assert parse_rule("inbound tcp 80") == Rule(Direction.INBOUND, IpProtocol.TCP, 80, 80)
    assert parse_rule("inbound udp 5000-5010 10.0.0.0/8") == Rule(
        Direction.INBOUND, IpProtocol.UDP, 5000, 5010, remote_cidr="10.0.0.0/8"
    )
    assert parse_rule("outbound all").protocol is IpProtocol.ALL
    assert parse_rule("inbound icmp group:web").remote_group == "web"


@pytest.mark.parametrize("text", ["sideways tcp 80", "inbound tcp 0", "inbound icmp 80", ""])
def test_bad_rules_are_refused_with_the_syntax(text):
    with pytest.raises(InvalidInput):
        parse_rule(text)


def test_default_firewall_opens_ssh_icmp_and_image_ports():
    rules = rules_for_nic("alice", (), members=lambda o, g: [], inbound_ports=(80, 22))
    inbound_tcp = {r.ports for r in rules if r.direction is Direction.INBOUND and r.ports}
    assert inbound_tcp == {(22, 22), (80, 80)}
    assert any(r.direction is Direction.OUTBOUND and r.protocol is IpProtocol.ALL for r in rules)


def test_group_rules_replace_the_default_and_remote_groups_become_member_addresses():
    web = SecurityGroup("web", "alice", (parse_rule("inbound tcp 443 group:lb"),))
    members = {"lb": ["10.0.0.7", "fd00::7"]}
    rules = rules_for_nic("alice", (web,), members=lambda o, g: members[g])
    cidrs = {r.remote_cidr for r in rules if r.direction is Direction.INBOUND}
    assert cidrs == {"10.0.0.7/32", "fd00::7/128"}
    assert not any(r.ports == (22, 22) for r in rules)  # the group decides inbound
    assert any(r.direction is Direction.OUTBOUND for r in rules)  # outbound still allowed


def test_group_validation_names_the_bad_cidr():
    bad = SecurityGroup("g", "a", (Rule(Direction.INBOUND, remote_cidr="10.0.0.300/8"),))
    with pytest.raises(InvalidInput, match="security group g: remote '10.0.0.300/8'"):
        validate_group(bad)
