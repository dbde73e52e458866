"""The XML-RPC endpoint end to end over FastAPI's TestClient: stdlib xmlrpc.client (as the
original StratusLab client) and pyone (a current client) against a FakeBackend."""

from __future__ import annotations

import base64
import xmlrpc.client
from typing import Any

import pyone
import pytest
from fastapi.testclient import TestClient

from stratuslab.core.states import VmAction

TEMPLATE = 'NAME="ttylinux"\nCPU="1"\nMEMORY="512"\nDISK=[IMAGE_ID="3"]\nNIC=[NETWORK="public"]\n'


def test_system_version_answers_the_configured_version(rpc: Any) -> None:
    assert rpc.one.system.version("oneadmin:secret") == [True, "3.2.0", 0]


def test_allocate_with_two_arguments_as_3x_clients_do(rpc: Any, backend: Any) -> None:
    ok, vm_id, code = rpc.one.vm.allocate("alice:s3cr:t", TEMPLATE)
    assert (ok, vm_id, code) == (True, 0, 0)
    _, request, hold = backend.calls[-1]
    assert hold is False and request.name == "ttylinux" and request.memory_mib == 512
    assert request.disks[0].image_id == 3 and request.nics[0].network == "public"


def test_describe_instance_pool_call_of_the_stratuslab_client(rpc: Any, backend: Any) -> None:
    vm_id = rpc.one.vm.allocate("alice:s3cr:t", TEMPLATE)[1]
    backend.boot(vm_id)
    ok, xml, _ = rpc.one.vmpool.info("alice:s3cr:t", -3, -1, -1, -1)
    assert ok and xml.startswith("<VM_POOL><VM><ID>0</ID>")
    assert "<STATE>3</STATE><LCM_STATE>3</LCM_STATE>" in xml and "<IP><![CDATA[10.1.0.7]]>" in xml
    query = backend.calls[-1][1]
    assert query.owner == "mine" and query.states is not None and query.id_range is None


def test_vmpool_paging_form_passes_offset_and_page_size(rpc: Any, backend: Any) -> None:
    rpc.one.vmpool.info("oneadmin:secret", -2, 20, -10, -2)
    query = backend.calls[-1][1]
    assert (query.owner, query.offset, query.limit, query.states) == ("all", 20, 10, None)
    rpc.one.vmpool.info("oneadmin:secret", 5, 3, -1)
    query = backend.calls[-1][1]
    assert (query.owner, query.user_id, query.id_range) == ("user", 5, (3, None))


def test_kill_instance_uses_finalize(rpc: Any, backend: Any) -> None:
    vm_id = rpc.one.vm.allocate("alice:s3cr:t", TEMPLATE)[1]
    assert rpc.one.vm.action("alice:s3cr:t", "finalize", vm_id) == [True, vm_id, 0]
    assert backend.calls[-1] == ("vm_action", vm_id, VmAction.KILL)
    assert backend.vms.records[vm_id].state == "done"


def test_wrong_argument_types_get_api_error_and_change_nothing(rpc: Any, backend: Any) -> None:
    ok, message, code = rpc.one.vm.action("alice:s3cr:t", 7, "poweroff")  # swapped
    assert (ok, code) == (False, 0x1000)
    assert "argument 2 (action) must be string, got integer 7" in message
    ok, message, code = rpc.one.vm.allocate("alice:s3cr:t", ["not", "text"])
    assert (ok, code) == (False, 0x1000)
    assert backend.vms.records == {} and not [c for c in backend.calls if c[0] != "authenticate"]


def test_missing_arguments_and_bad_session_are_api_errors(rpc: Any) -> None:
    assert rpc.one.vm.info("oneadmin:secret")[2] == 0x1000
    ok, message, code = rpc.one.vm.info(42, 1)
    assert (ok, code) == (False, 0x1000) and "session" in message


def test_unclosed_bracket_is_reported_and_nothing_allocated(rpc: Any, backend: Any) -> None:
    ok, message, code = rpc.one.vm.allocate("alice:s3cr:t", 'NAME="x"\nDISK=[IMAGE_ID="3"\n')
    assert (ok, code) == (False, 0x800)
    assert "unclosed '[' opened at line 2, column 6 for DISK" in message
    assert backend.vms.records == {}


def test_nic_on_a_missing_network_is_no_such_object(rpc: Any, backend: Any) -> None:
    ok, message, code = rpc.one.vm.allocate(
        "alice:s3cr:t", 'DISK=[IMAGE_ID="3"]\nNIC=[NETWORK="nowhere"]'
    )
    assert (ok, code) == (False, 0x400) and "network nowhere does not exist" in message
    assert backend.vms.records == {}


def test_bad_password_is_an_authentication_error(rpc: Any) -> None:
    ok, message, code = rpc.one.vm.info("alice:wrong", 0)
    assert (ok, code) == (False, 0x100) and "authentication failed" in message


def test_unknown_method_is_an_xmlrpc_fault(rpc: Any) -> None:
    with pytest.raises(xmlrpc.client.Fault) as err:
        rpc.one.vm.explode("oneadmin:secret")
    assert err.value.faultCode == -506


def test_malformed_body_is_a_parse_fault(client: TestClient) -> None:
    response = client.post("/RPC2", content=b"<methodCall><oops")
    assert response.status_code == 200
    with pytest.raises(xmlrpc.client.Fault) as err:
        xmlrpc.client.loads(response.content)
    assert err.value.faultCode == -32700


def test_classic_pswd_path_takes_basic_credentials_split_at_first_colon(
    client: TestClient, backend: Any
) -> None:
    basic = base64.b64encode(b"alice:s3cr:t").decode()
    body = xmlrpc.client.dumps(("alice:s3cr:t", -3, -1, -1, -1), "one.vmpool.info").encode()
    response = client.post(
        "/pswd/xmlrpc",
        content=body,
        headers={"Authorization": f"Basic {basic}", "User-Agent": "xmlrpclib.py/1.0.1"},
    )
    assert xmlrpc.client.loads(response.content)[0][0][0] is True
    credentials = backend.calls[0][1]
    assert (credentials.username, credentials.password) == ("alice", "s3cr:t")


def test_cert_path_is_served(client: TestClient) -> None:
    body = xmlrpc.client.dumps(("dummy:pass",), "one.system.version").encode()
    answer = xmlrpc.client.loads(client.post("/cert/xmlrpc", content=body).content)[0][0]
    assert answer[0] is False and answer[2] == 0x100  # no certificate offered


def test_acl_rule_masks_arrive_as_integers(rpc: Any, backend: Any) -> None:
    ok, rule_id, _ = rpc.one.acl.addrule(
        "oneadmin:secret", "0x100000000", "0x2000000000", "0x1", "0"
    )
    assert ok and backend.calls[-1] == ("acl_add", 0x100000000, 0x2000000000, 1)
    assert rpc.one.acl.delrule("oneadmin:secret", rule_id)[0]


# ---- pyone drives the life cycle ---------------------------------------------------------


def test_pyone_life_cycle_parses_every_answer(one: Any, backend: Any) -> None:
    assert one.system.version() == "7.4.0"  # pyone talks to the 7.4 endpoint
    user_id = one.user.allocate("bob", "pw", "core", [1])
    assert one.user.info(user_id).NAME == "bob"
    assert {u.NAME for u in one.userpool.info().USER} == {"oneadmin", "alice", "bob"}
    vm_id = one.vm.allocate(TEMPLATE, False)
    backend.boot(vm_id)
    vm = one.vm.info(vm_id)
    assert (vm.NAME, vm.STATE, vm.LCM_STATE, vm.UNAME) == ("ttylinux", 3, 3, "oneadmin")
    assert vm.TEMPLATE["DISK"]["SOURCE"].endswith("3.qcow2")
    one.vm.action("poweroff", vm_id)
    assert one.vm.info(vm_id).STATE == pyone.VM_STATE.POWEROFF
    one.vm.action("resume", vm_id)
    assert one.vm.info(vm_id).LCM_STATE == pyone.LCM_STATE.RUNNING
    one.vm.action("terminate-hard", vm_id)
    assert one.vm.info(vm_id).STATE == pyone.VM_STATE.DONE
    assert one.vmpool.info(-2, -1, -1, -1).VM == []  # state -1: everything but DONE
    assert [v.ID for v in one.vmpool.info(-2, -1, -1, -2).VM] == [vm_id]  # -2: any state
    assert one.vm.info(vm_id).HISTORY_RECORDS.HISTORY[0].HOSTNAME == "node-1"


def test_pyone_raises_its_own_exceptions_for_our_codes(one: Any) -> None:
    with pytest.raises(pyone.OneNoExistsException, match="VM 99 does not exist"):
        one.vm.info(99)
    vm_id = one.vm.allocate(TEMPLATE)
    with pytest.raises(pyone.OneActionException, match="cannot poweroff"):
        one.vm.action("poweroff", vm_id)  # still pending
    with pytest.raises(pyone.OneApiException):
        one.vm.info("seven")


def test_pyone_template_instantiate_allocates_from_image_ids(one: Any, backend: Any) -> None:
    template_id = one.template.allocate('NAME="tiny"\nCPU="1"\nMEMORY="256"\nDISK=[IMAGE_ID="3"]')
    assert one.templatepool.info(-2, -1, -1).VMTEMPLATE[0].NAME == "tiny"
    assert one.template.info(template_id).TEMPLATE["DISK"]["IMAGE_ID"] == "3"
    vm_id = one.template.instantiate(template_id, "from-tpl", True, 'MEMORY="384"')
    _, request, hold = backend.calls[-1]
    assert hold is True and request.name == "from-tpl" and request.memory_mib == 384
    assert one.vm.info(vm_id).STATE == pyone.VM_STATE.HOLD


def test_pyone_reads_every_pool(one: Any) -> None:
    assert one.grouppool.info().GROUP[1].USERS.ID == [5]
    assert one.group.info(1).NAME == "users"
    assert one.imagepool.info(-2, -1, -1).IMAGE[0].NAME == "ttylinux"
    assert one.image.info(3).SOURCE.endswith("3.qcow2")
    assert one.hostpool.info().HOST[0].NAME == "node-1"
    assert one.host.info(0).HOST_SHARE.TOTAL_CPU == 200
    assert one.vnpool.info(-2, -1, -1).VNET[0].AR_POOL.AR[0].IP == "10.1.0.2"
    assert one.vn.info(0).NAME == "public"
    assert one.acl.info().ACL[0].STRING == "@1 VM/* USE *"
    assert one.datastorepool.info().DATASTORE[0].NAME == "default"
    with pytest.raises(pyone.OneNoExistsException):
        one.host.info(9)


# A template in the shape stratus-run-instance writes (share/vm/schema.one): lower-case vector
# keys, unquoted values with ':' and '/', blank lines, a swap disk and a trailing comma inside
# CONTEXT where the client's extra-context lines go.
CLASSIC_TEMPLATE = """# ---- a StratusLab VM ----

CPU    = 1
VCPU    = 1
MEMORY = 1536
RANK = "- RUNNING_VMS"

NAME = "classic"

DISK = [
source   = "https://marketplace.stratuslab.eu/marketplace/metadata/BN1EEkPiBx87_uLj2-sdybSI-Xb",
target   = "vda",
save     = no,
readonly = "no",
driver = "qcow2"
]
DISK = [
type     = swap,
size     = 1536,
target   = "vdb",
readonly = "no"
]
DISK=[
  SOURCE=pdisk:cloud.example.org:8445:6c4d1d2e-3b7a-4bd5-9a77-0f1f0e7b3a11,
  TARGET=vdc,
  TYPE=block ]
NIC = [ NETWORK = "public" ]

CONTEXT = [
public_key = "ssh-rsa AAAA alice@example.org",
CONTEXT_METHOD = "cloud-init",
target = "hdd"
]

INBOUND_PORTS = "22,80"
"""


def test_classic_stratuslab_template_is_understood(rpc: Any, backend: Any) -> None:
    calls = []
    backend.vms.allocate = lambda principal, request, hold: calls.append(request) or 11
    assert rpc.one.vm.allocate("alice:s3cr:t", CLASSIC_TEMPLATE) == [True, 11, 0]
    (request,) = calls
    assert (request.name, request.cpu, request.vcpu, request.memory_mib) == ("classic", 1, 1, 1536)
    assert request.disks[0].source.endswith("/metadata/BN1EEkPiBx87_uLj2-sdybSI-Xb")
    assert request.disks[0].image_id is None and request.disks[0].attrs["DRIVER"] == "qcow2"
    assert request.swap_mib == 1536
    assert (
        request.disks[2].source
        == "pdisk:cloud.example.org:8445:6c4d1d2e-3b7a-4bd5-9a77-0f1f0e7b3a11"
    )
    assert request.nics[0].network == "public"
    assert request.context["PUBLIC_KEY"] == "ssh-rsa AAAA alice@example.org"
    assert request.inbound_ports == (22, 80)
    assert 'RANK="- RUNNING_VMS"' in request.template_text


def test_pyone_reads_the_system_config(one: Any) -> None:
    config = one.system.config()
    assert type(config).__name__ == "OPENNEBULA_CONFIGURATIONSub" and config.PORT == 2633
