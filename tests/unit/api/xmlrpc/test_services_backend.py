"""The XML-RPC ServicesBackend over an in-process simulated cloud: what StratusLab client
templates and one.vmpool.info arguments become in the services' own terms."""

from __future__ import annotations

import pytest
from tests.helpers.cloud import drain

from stratuslab.api.xmlrpc import requests, template
from stratuslab.api.xmlrpc.services import ServicesBackend
from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Unsupported
from stratuslab.core.states import VmState

UUID = "6f1ed7d5-3e9b-4d5a-8a30-8d9f1f0b2d11"
MARKET_ID = "BN1EEkPiBx87_uLj2-sdybSI-Xb"


@pytest.fixture
def backend(cloud: Cloud) -> ServicesBackend:
    return ServicesBackend(cloud.services)


def request(text: str) -> requests.VmRequest:
    return requests.vm_request(template.parse(text))


def test_stratuslab_client_template_becomes_one_run_instance(
    backend: ServicesBackend, admin: Principal, image: int
) -> None:
    text = f"""NAME = vm1
CPU = 0.5
VCPU = 2
MEMORY = 512
DISK = [ IMAGE_ID = {image}, target = hda, driver = raw, save = no ]
DISK = [ type = swap, size = 1024, target = hdb ]
DISK = [ type = fs, size = 2048, target = hdc ]
DISK = [ SOURCE = pdisk:cloud.example.com:8445/{UUID}, TYPE = block, TARGET = hdd ]
DISK = [ SOURCE = https://marketplace.stratuslab.eu/metadata/{MARKET_ID}, TARGET = hde ]
NIC = [ network_uname = oneadmin, network = public ]
CONTEXT = [ public_key = "ssh-rsa AAAA me", target = hdd, FOO = bar ]
"""
    cmd = backend.vms.run_command(admin, request(text), hold=False)
    assert (cmd.image_id, cmd.name, cmd.cpu, cmd.ram_mib, cmd.swap_mib) == (
        image,
        "vm1",
        2,
        512,
        1024,
    )
    assert cmd.volatile_gb == (2,) and cmd.persistent_disks == (UUID,)
    assert cmd.readonly_disks == (MARKET_ID,)
    assert cmd.nics == ({"network": "public"},)
    assert cmd.context == {"FOO": "bar"} and cmd.ssh_keys == ("ssh-rsa AAAA me",)
    assert cmd.context_method == "one"


def test_what_the_services_cannot_do_is_not_implemented(
    backend: ServicesBackend, admin: Principal, image: int
) -> None:
    with pytest.raises(Unsupported, match="INBOUND_PORTS"):
        backend.vms.run_command(
            admin, request(f'DISK=[IMAGE_ID="{image}"]\nINBOUND_PORTS="22"'), hold=False
        )
    with pytest.raises(Unsupported, match="booting from a persistent volume"):
        backend.vms.run_command(admin, request(f'DISK=[SOURCE="{UUID}"]'), hold=False)
    with pytest.raises(Unsupported, match="more than one image"):
        backend.vms.run_command(
            admin, request(f'DISK=[IMAGE_ID="{image}"]\nDISK=[IMAGE_ID="{image}"]'), hold=False
        )


def test_vmpool_filters_and_paging(
    cloud: Cloud, backend: ServicesBackend, admin: Principal, image: int
) -> None:
    bob = cloud.identity.create_user(admin, "bob", "bob-pw")
    bob_p = Principal("bob", bob.id or 0, ("users",), frozenset(bob.roles))
    mine = [backend.vms.allocate(admin, request(f'DISK=[IMAGE_ID="{image}"]'), hold=False)]
    mine += [backend.vms.allocate(admin, request(f'DISK=[IMAGE_ID="{image}"]'), hold=True)]
    theirs = backend.vms.allocate(bob_p, request(f'DISK=[IMAGE_ID="{image}"]'), hold=False)
    drain(cloud)

    def ids(flag: int, start: int = -1, end: int = -1, state: int = -1) -> list[int]:
        query = requests.vm_query(flag, start, end, state)
        return [vm.id or 0 for vm in backend.vms.list(admin, query)]

    assert ids(-2) == [*mine, theirs] and ids(-3) == mine
    assert ids(bob.id or 0) == [theirs] and ids(-4) == mine  # admin's group is oneadmin
    assert ids(-2, mine[1], theirs) == [mine[1], theirs]  # an id range
    assert ids(-2, 1, -2) == [mine[1], theirs][:2] and ids(-2, 0, -1) == [*mine, theirs]
    assert ids(-2, state=2) == [mine[1]]  # HOLD
    assert [vm.id for vm in backend.vms.list(bob_p, requests.vm_query(-2, -1, -1))] == [theirs]
    assert backend.vms.get(admin, theirs).vm_state is VmState.RUNNING


def test_x509_users_are_created_with_their_subject(
    backend: ServicesBackend, admin: Principal
) -> None:
    dn = "/C=EU/O=StratusLab/CN=Alice Example"
    user_id = backend.identity.user_allocate(admin, "alice", dn, driver="x509", groups=[])
    assert backend.identity.user_get(admin, user_id).dn == dn
    with pytest.raises(Unsupported, match="ssh"):
        backend.identity.user_allocate(admin, "carl", "pw-pw", driver="ssh", groups=[])
