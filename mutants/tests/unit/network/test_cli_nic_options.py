"""run-instance's NIC options become the REST NIC requests the server expects."""

from __future__ import annotations

from stratuslab.cli.network import nic_requests


def test_no_option_leaves_the_default_nic_to_the_server() -> None:
    assert nic_requests(None, None, None, (), ()) == []


def test_address_is_public_and_local_private_add_nics_of_their_class() -> None:
    assert nic_requests("10.254.1.9", None, None, (), ()) == [{"network": "public", "ip": "10.254.1.9"}]
    assert nic_requests(None, "auto", "10.254.3.4", (), ()) == [
        {"network": "local"}, {"network": "private", "ip": "10.254.3.4"}]


def test_named_networks_take_the_address_on_the_first_and_groups_on_every_nic() -> None:
    assert nic_requests("10.9.0.5", None, None, ("lab", "public"), ("web", "db")) == [
        {"network": "lab", "ip": "10.9.0.5", "secgroup": "web,db"},
        {"network": "public", "secgroup": "web,db"},
    ]
    assert nic_requests(None, None, None, (), ("web",)) == [{"secgroup": "web"}]
