"""OpenNebula CONTEXT values the cloud sets itself are translated, not passed to the guest."""

from __future__ import annotations

import pytest

from stratuslab.api.xmlrpc.context import translate
from stratuslab.core.errors import InvalidInput


def test_hostname_and_keys_are_taken_out_of_the_variables() -> None:
    ctx = translate(
        {"HOSTNAME": "web", "SSH_PUBLIC_KEY": "ssh-ed25519 AAAA a", "ROLE": "db", "ip": "$NIC[IP]"}
    )
    assert ctx.hostname == "web" and ctx.ssh_keys == ("ssh-ed25519 AAAA a",)
    assert ctx.variables == {"ROLE": "db", "ip": "$NIC[IP]"}


def test_opennebula_variable_references_in_cloud_keys_are_dropped() -> None:
    ctx = translate(
        {"SET_HOSTNAME": "$NAME", "PUBLIC_KEY": "$USER[SSH_PUBLIC_KEY]", "ETH0_IP": "$NIC[IP]"}
    )
    assert (ctx.hostname, ctx.ssh_keys, ctx.variables) == (None, (), {})


@pytest.mark.parametrize("key", ["INSTANCE_ID", "ETH0_IP", "eth1_mask"])
def test_literal_values_for_keys_the_cloud_sets_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput, match=key.upper()):
        translate({key: "10.0.0.5"})
