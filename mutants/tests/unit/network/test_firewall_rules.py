"""nftables rendering of anti-spoofing and security-group rules (no nft run here)."""

from __future__ import annotations

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.core.network import Direction, IpProtocol, Rule, default_rules
from stratuslab.drivers.network.bridge import firewall as fw

NIC = fw.NicAddresses("sl5n0", "02:00:0a:00:00:05", "10.0.0.5", "fd00::aff:fe00:5")


def test_egress_pins_the_nic_to_its_own_mac_and_addresses_before_any_allow():
    lines = fw.egress_rules(NIC, default_rules())
    first_return = next(i for i, ln in enumerate(lines) if ln.endswith("return"))
    spoof = lines[:first_return]
    assert "ether saddr != 02:00:0a:00:00:05 counter drop" in spoof
    assert "arp saddr ip != { 10.0.0.5, 0.0.0.0 } counter drop" in spoof
    assert any(
        ln.startswith("ip6 saddr != { ::, fe80::aff:fe00:5, fd00::aff:fe00:5 }") for ln in lines
    )
    assert "ip saddr != 10.0.0.5 counter drop" in lines
    assert "udp sport { 67, 547 } counter drop" in lines  # no rogue DHCP server
    assert lines[-1] == "counter drop"


def test_default_rules_let_ssh_and_icmp_in_and_everything_out():
    ingress = fw.ingress_rules(default_rules())
    assert "tcp dport 22 accept" in ingress
    assert "meta l4proto icmp accept" in ingress
    assert "tcp flags & (syn | ack) != syn accept" in ingress  # replies to outbound TCP
    assert ingress[-1] == "counter drop"
    assert "return" in fw.egress_rules(NIC, default_rules())


def test_rules_with_port_ranges_and_remotes_render_per_family():
    rules = (
        Rule(Direction.INBOUND, IpProtocol.TCP, 8000, 8080, remote_cidr="10.1.0.0/16"),
        Rule(Direction.INBOUND, IpProtocol.UDP, 53, remote_cidr="fd00::/8"),
        Rule(Direction.OUTBOUND, IpProtocol.TCP, 443),
    )
    ingress = fw.ingress_rules(rules)
    assert "ip saddr 10.1.0.0/16 tcp dport 8000-8080 accept" in ingress
    assert "ip6 saddr fd00::/8 udp dport 53 accept" in ingress
    egress = fw.egress_rules(NIC, rules)
    assert "tcp dport 443 return" in egress
    assert "ip daddr 10.1.0.0/16 tcp sport 8000-8080 return" in egress  # stateless replies
    assert "return" not in egress  # no blanket outbound allow


def test_nic_script_replaces_chains_and_maps_atomically():
    script = fw.nic_script(NIC, default_rules())
    assert script.index("flush chain bridge stratuslab from_sl5n0") < script.index("add rule")
    assert 'add element bridge stratuslab to_vm { "sl5n0" : jump to_sl5n0 }' in script
    removal = fw.remove_nic_script("sl5n0")
    assert removal.index("add element") < removal.index("delete element")


def test_unresolved_group_and_bad_names_are_refused():
    with pytest.raises(InvalidInput, match="unresolved"):
        fw.ingress_rules((Rule(Direction.INBOUND, remote_group="web"),))
    with pytest.raises(InvalidInput):
        fw.nic_script(fw.NicAddresses("bad name;", NIC.mac, NIC.ip), ())
