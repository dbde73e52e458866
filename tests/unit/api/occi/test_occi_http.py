"""The OCCI 1.2 front end over FastAPI's TestClient against a FakeOcciBackend, with request
bodies modelled on the OCCI 1.2 specification's examples, in every rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratuslab.core.states import VmAction

INFRA = "http://schemas.ogf.org/occi/infrastructure#"
COMPUTE_KIND = f'compute; scheme="{INFRA}"; class="kind"'
OS_TPL = 'img-3; scheme="http://stratuslab.eu/occi/os_tpl#"; class="mixin"'
RES_TPL = 'm1-small; scheme="http://stratuslab.eu/occi/resource_tpl#"; class="mixin"'
SSH_KEY = 'ssh_key; scheme="http://schemas.ogf.org/occi/infrastructure/credentials#"; class="mixin"'
ACTION = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
TEXT = {"Content-Type": "text/plain", "Accept": "text/plain"}

CREATE_COMPUTE_TEXT = f"""\
Category: {COMPUTE_KIND}
Category: {OS_TPL}
Category: {RES_TPL}
Category: {SSH_KEY}
Link: </network/1>; rel="{INFRA}network"; category="{INFRA}networkinterface"
X-OCCI-Attribute: occi.core.title="web server"
X-OCCI-Attribute: occi.compute.cores=2
X-OCCI-Attribute: occi.compute.memory=2.0
X-OCCI-Attribute: occi.credentials.ssh.publickey="ssh-rsa AAAA alice@example.org"
"""


def _create_compute(occi: TestClient) -> str:
    response = occi.post("/occi/compute/", content=CREATE_COMPUTE_TEXT, headers=TEXT)
    assert response.status_code == 201, response.text
    return response.headers["Location"].removeprefix("http://testserver")


# ---- query interface ----------------------------------------------------------------------


def test_query_interface_lists_kinds_mixins_actions_with_server_header(occi: TestClient) -> None:
    response = occi.get("/occi/-/", headers={"Accept": "text/plain"})
    assert response.status_code == 200 and response.headers["Server"].endswith("OCCI/1.2")
    body = response.text
    assert f'Category: {COMPUTE_KIND}; title="Compute Resource"; rel=' in body
    assert 'location="/compute/"' in body and "occi.compute.state{immutable}" in body
    assert f'actions="{ACTION}start {ACTION}stop' in body
    assert 'Category: img-3; scheme="http://stratuslab.eu/occi/os_tpl#"; class="mixin"' in body
    assert "Category: BN1EEkPiBx87_uLj2-sdybSI-Xb;" in body  # marketplace id as os_tpl
    assert 'Category: m1-small; scheme="http://stratuslab.eu/occi/resource_tpl#"' in body
    assert "occi.storage.size{required}" in body
    assert occi.get("/occi/.well-known/org/ogf/occi/-/").text == body


def test_query_interface_in_json_has_attribute_properties(occi: TestClient) -> None:
    data = occi.get("/occi/-/", headers={"Accept": "application/occi+json"}).json()
    compute = next(k for k in data["kinds"] if k["term"] == "compute")
    assert compute["location"] == "/compute/" and compute["parent"].endswith("core#resource")
    assert compute["attributes"]["occi.compute.state"]["mutable"] is False
    stop = next(a for a in data["actions"] if a["term"] == "stop")
    assert stop["attributes"]["method"]["pattern"] == "graceful|acpioff|poweroff"
    small = next(m for m in data["mixins"] if m["term"] == "m1-small")
    assert small["depends"] == [f"{INFRA}resource_tpl"] and small["applies"] == [f"{INFRA}compute"]


def test_query_interface_filters_by_category_header(occi: TestClient) -> None:
    response = occi.get("/occi/-/", headers={"Accept": "text/occi", "Category": COMPUTE_KIND})
    categories = response.headers.get_list("Category")
    assert len(categories) == 1 and categories[0].startswith(COMPUTE_KIND)


MY_STUFF = ('Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"; '
            'location="/my_stuff/"')


def test_a_user_mixin_is_defined_listed_and_removed(occi: TestClient) -> None:
    defined = occi.post("/occi/-/", content=MY_STUFF, headers=TEXT)
    assert defined.status_code == 200 and 'location="/my_stuff/"' in defined.text
    assert "my_stuff" in occi.get("/occi/-/", headers=TEXT).text
    assert occi.get("/occi/my_stuff/", headers=TEXT).status_code == 200
    assert occi.request("DELETE", "/occi/-/", content=MY_STUFF, headers=TEXT).status_code == 200
    assert "my_stuff" not in occi.get("/occi/-/", headers=TEXT).text
    assert occi.get("/occi/my_stuff/", headers=TEXT).status_code == 404


@pytest.mark.parametrize(("body", "status"), [
    ("", 400),  # no Category at all
    (MY_STUFF.replace('class="mixin"', 'class="kind"'), 400),
    (MY_STUFF.replace('; location="/my_stuff/"', ""), 400),
    (MY_STUFF.replace("/my_stuff/", "/compute/"), 409),  # the server's own collection
    (MY_STUFF.replace("/my_stuff/", "/os_tpl/x/"), 409),
    (f'Category: compute; scheme="{INFRA}"; class="mixin"; location="/c/"', 409),
])
def test_a_bad_mixin_definition_is_refused(occi: TestClient, body: str, status: int) -> None:
    assert occi.post("/occi/-/", content=body, headers=TEXT).status_code == status
    assert occi.get("/occi/compute/", headers=TEXT).status_code == 200  # nothing shadowed


# ---- compute ------------------------------------------------------------------------------


def test_create_compute_in_text_plain(occi: TestClient, occi_backend: Any) -> None:
    response = occi.post("/occi/compute/", content=CREATE_COMPUTE_TEXT, headers=TEXT)
    assert response.status_code == 201
    assert response.headers["Location"] == "http://testserver/occi/compute/0"
    assert response.text == "X-OCCI-Location: http://testserver/occi/compute/0\n"
    ((_, request),) = occi_backend.calls
    assert (request.image_id, request.instance_type, request.cores, request.memory_mib) == (
        3,
        "m1.small",
        2,
        2048,
    )
    assert request.name == "web server" and request.network_ids == (1,)
    assert request.ssh_keys == ("ssh-rsa AAAA alice@example.org",)


def test_create_compute_in_text_occi_headers_with_marketplace_id(
    occi: TestClient, occi_backend: Any
) -> None:
    headers = {
        "Content-Type": "text/occi",
        "Accept": "text/occi",
        "Category": f"{COMPUTE_KIND}, BN1EEkPiBx87_uLj2-sdybSI-Xb; "
        'scheme="http://stratuslab.eu/occi/os_tpl#"; class="mixin", '
        'user_data; scheme="http://schemas.ogf.org/occi/infrastructure/'
        'compute#"; class="mixin"',
        "X-OCCI-Attribute": 'occi.core.title="tiny", occi.compute.userdata="I2Nsb3VkLWNvbmZpZw=="',
    }
    response = occi.post("/occi/compute/", headers=headers)
    assert response.status_code == 201
    assert response.headers["X-OCCI-Location"] == "http://testserver/occi/compute/0"
    request = occi_backend.calls[-1][1]
    assert request.image_id == 3 and request.user_data == "I2Nsb3VkLWNvbmZpZw=="


def test_create_compute_in_json(occi: TestClient, occi_backend: Any) -> None:
    body = {
        "kind": f"{INFRA}compute",
        "mixins": [
            "http://stratuslab.eu/occi/os_tpl#img-3",
            "http://stratuslab.eu/occi/resource_tpl#c1-medium",
        ],
        "attributes": {"occi.compute.speed": 2, "occi.compute.memory": 4},
        "title": "Compute resource",
    }
    response = occi.post(
        "/occi/compute/",
        json=body,
        headers={"Content-Type": "application/occi+json", "Accept": "application/occi+json"},
    )
    assert response.status_code == 201
    created = response.json()
    assert created["kind"] == f"{INFRA}compute" and created["location"] == "/compute/0"
    assert created["attributes"]["occi.compute.state"] == "active"
    request = occi_backend.calls[-1][1]
    assert (request.instance_type, request.memory_mib, request.name) == (
        "c1.medium",
        4096,
        "Compute resource",
    )


def test_read_compute_in_every_rendering(occi: TestClient) -> None:
    location = _create_compute(occi)
    text = occi.get(location, headers={"Accept": "text/plain"}).text.splitlines()
    assert text[0] == f"Category: {COMPUTE_KIND}"
    assert f'Link: </network/1>; rel="{INFRA}network"; self="/link/networkinterface/0-nic0"' in (
        "\n".join(text)
    )
    assert f'Link: </compute/0?action=stop>; rel="{ACTION}stop"' in text
    assert 'X-OCCI-Attribute: occi.core.title="web server"' in text
    assert "X-OCCI-Attribute: occi.compute.cores=2" in text
    headers = occi.get(location, headers={"Accept": "text/occi"}).headers
    assert any(v.startswith("occi.compute.state=") for v in headers.get_list("X-OCCI-Attribute"))
    data = occi.get(location, headers={"Accept": "application/occi+json"}).json()
    assert data["links"][0]["target"] == {"location": "/network/1", "kind": f"{INFRA}network"}
    assert data["links"][0]["attributes"]["occi.networkinterface.address"] == "10.1.0.7"
    assert occi.get(location, headers={"Accept": "text/uri-list"}).status_code == 400


def test_list_computes_as_uri_list_text_and_json_with_paging(occi: TestClient) -> None:
    for _ in range(3):
        _create_compute(occi)
    uris = occi.get("/occi/compute/", headers={"Accept": "text/uri-list"}).text.split()
    assert uris == [f"http://testserver/occi/compute/{i}" for i in range(3)]
    text = occi.get("/occi/compute/?page=2&number=2", headers={"Accept": "text/plain"}).text
    assert text == "X-OCCI-Location: http://testserver/occi/compute/2\n"
    data = occi.get("/occi/compute/", headers={"Accept": "application/occi+json"}).json()
    assert len(data["resources"]) == 3
    assert occi.get("/occi/compute/?number=100000").status_code == 413


def test_filter_collection_by_mixin_and_attribute(occi: TestClient) -> None:
    _create_compute(occi)
    tpl = 'c1-medium; scheme="http://stratuslab.eu/occi/resource_tpl#"; class="mixin"'
    empty = occi.get("/occi/compute/", headers={"Accept": "text/uri-list", "Category": tpl})
    assert empty.text == ""
    found = occi.get(
        "/occi/compute/",
        headers={"Accept": "text/uri-list", "X-OCCI-Attribute": "occi.compute.cores=2"},
    )
    assert found.text.strip().endswith("/compute/0")
    assert occi.get("/occi/os_tpl/img-3/", headers={"Accept": "text/uri-list"}).text.strip()


def test_stop_and_start_actions_in_text_and_json(occi: TestClient, occi_backend: Any) -> None:
    location = _create_compute(occi)
    body = (
        f'Category: stop; scheme="{ACTION}"; class="action"\nX-OCCI-Attribute: method="graceful"\n'
    )
    response = occi.post(f"{location}?action=stop", content=body, headers=TEXT)
    assert response.status_code == 200, response.text
    assert occi_backend.calls[-1] == ("compute_action", 0, VmAction.POWEROFF)
    state = occi.get(location, headers={"Accept": "application/occi+json"}).json()
    assert state["attributes"]["occi.compute.state"] == "inactive"
    assert f"{ACTION}start" in state["actions"] and f"{ACTION}stop" not in state["actions"]
    invocation = {"action": f"{ACTION}start", "attributes": {}}
    response = occi.post(
        f"{location}?action=start",
        content=json.dumps(invocation),
        headers={"Content-Type": "application/occi+json"},
    )
    assert response.status_code == 200
    assert occi_backend.vms[0].state == "running"


def test_action_refused_by_the_state_machine_is_409(occi: TestClient) -> None:
    location = _create_compute(occi)
    body = f'Category: start; scheme="{ACTION}"; class="action"\n'
    response = occi.post(f"{location}?action=start", content=body, headers=TEXT)
    assert response.status_code == 409 and "cannot start" in response.text


def test_action_query_must_match_the_category(occi: TestClient, occi_backend: Any) -> None:
    location = _create_compute(occi)
    body = f'Category: restart; scheme="{ACTION}"; class="action"\n'
    response = occi.post(f"{location}?action=stop", content=body, headers=TEXT)
    assert response.status_code == 400 and len(occi_backend.calls) == 1


def test_delete_compute(occi: TestClient, occi_backend: Any) -> None:
    location = _create_compute(occi)
    assert occi.delete(location).status_code == 200
    assert occi_backend.calls[-1] == ("compute_delete", 0)
    assert occi.get(location).status_code == 404


# ---- network, storage, links ----------------------------------------------------------------


def test_network_life_cycle_in_text(occi: TestClient, occi_backend: Any) -> None:
    body = (
        f'Category: network; scheme="{INFRA}"; class="kind"\n'
        'Category: ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; '
        'class="mixin"\n'
        'X-OCCI-Attribute: occi.core.title="private"\n'
        "X-OCCI-Attribute: occi.network.vlan=12\n"
        'X-OCCI-Attribute: occi.network.address="192.168.0.0/24"\n'
    )
    response = occi.post("/occi/network/", content=body, headers=TEXT)
    assert response.status_code == 201
    request = occi_backend.calls[-1][1]
    assert (request.title, request.vlan, request.address) == ("private", 12, "192.168.0.0/24")
    up = (
        'Category: up; scheme="http://schemas.ogf.org/occi/infrastructure/network/action#"; '
        'class="action"'
    )
    assert occi.post("/occi/network/2?action=up", content=up, headers=TEXT).status_code == 200
    text = occi.get("/occi/network/2", headers={"Accept": "text/plain"}).text
    assert 'X-OCCI-Attribute: occi.network.state="active"' in text
    assert occi.delete("/occi/network/2").status_code == 200


def test_storage_and_storagelink_in_json(occi: TestClient, occi_backend: Any) -> None:
    json_headers = {"Content-Type": "application/occi+json", "Accept": "application/occi+json"}
    vol = occi.post(
        "/occi/storage/",
        headers=json_headers,
        json={"kind": f"{INFRA}storage", "attributes": {"occi.storage.size": 10}, "title": "data"},
    )
    assert vol.status_code == 201 and vol.json()["attributes"]["occi.storage.size"] == 10
    compute = _create_compute(occi)
    link = {
        "kind": f"{INFRA}storagelink",
        "attributes": {"occi.storagelink.deviceid": "ide:0:1"},
        "source": {"location": compute, "kind": f"{INFRA}compute"},
        "target": {"location": "/occi/storage/1", "kind": f"{INFRA}storage"},
    }
    response = occi.post("/occi/link/storagelink/", headers=json_headers, json=link)
    assert response.status_code == 201, response.text
    assert occi_backend.calls[-1] == (
        "link_create",
        "storagelink",
        0,
        "1",  # storage ids are strings (volume UUIDs)
        {"occi.storagelink.deviceid": "ide:0:1"},
    )
    links = occi.get("/occi/link/storagelink/", headers={"Accept": "application/occi+json"})
    assert links.json()["links"][0]["target"]["location"] == "/storage/1"
    assert occi.delete("/occi/link/storagelink/0-storagelink-1").status_code == 200
    offline = {"action": "http://schemas.ogf.org/occi/infrastructure/storage/action#offline"}
    assert (
        occi.post("/occi/storage/1?action=offline", headers=json_headers, json=offline).status_code
        == 200
    )
    assert occi_backend.storage["1"].state == "offline"


def test_networkinterface_link_in_text(occi: TestClient, occi_backend: Any) -> None:
    compute = _create_compute(occi)
    body = (
        f'Category: networkinterface; scheme="{INFRA}"; class="kind"\n'
        f'X-OCCI-Attribute: occi.core.source="{compute}"\n'
        'X-OCCI-Attribute: occi.core.target="/occi/network/1"\n'
    )
    response = occi.post("/occi/link/networkinterface/", content=body, headers=TEXT)
    assert response.status_code == 201
    assert occi_backend.calls[-1][:4] == ("link_create", "networkinterface", 0, 1)


# ---- bad input: the protocol's own errors, nothing changed ------------------------------------


def test_unknown_scheme_is_400_and_creates_nothing(occi: TestClient, occi_backend: Any) -> None:
    body = CREATE_COMPUTE_TEXT.replace("http://stratuslab.eu/occi/os_tpl#", "http://nowhere/x#")
    response = occi.post("/occi/compute/", content=body, headers=TEXT)
    assert response.status_code == 400 and "unknown scheme 'http://nowhere/x#'" in response.text
    assert occi_backend.calls == [] and occi_backend.vms == {}


def test_json_body_without_kind_is_400_and_creates_nothing(
    occi: TestClient, occi_backend: Any
) -> None:
    response = occi.post(
        "/occi/compute/",
        json={"mixins": [], "attributes": {}},
        headers={"Content-Type": "application/occi+json"},
    )
    assert response.status_code == 400 and 'no "kind"' in response.text
    assert occi_backend.calls == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (f"Category: {OS_TPL}\n", "names no kind"),
        ('Category: compute; class="kind"\n', "has no scheme"),
        (f'Category: compute; scheme="{INFRA}"; class="thing"\n', "class must be"),
        (f"Category: {COMPUTE_KIND}\nX-OCCI-Attribute: occi.compute.cores=two\n", "neither"),
        (f"Category: {COMPUTE_KIND}\nFrobnicate: yes\n", "unexpected line"),
        (f"Category: {COMPUTE_KIND}\nCategory: {OS_TPL}\nCategory: {OS_TPL.replace('img-3', 'BN1EEkPiBx87_uLj2-sdybSI-Xb')}\n",
         "not several"),
        (
            f"Category: {COMPUTE_KIND}\nCategory: {OS_TPL}\nX-OCCI-Attribute: occi.compute.state="
            '"active"\n',
            "immutable",
        ),
    ],
)
def test_malformed_text_requests_are_400(occi: TestClient, body: str, problem: str) -> None:
    response = occi.post("/occi/compute/", content=body, headers=TEXT)
    assert response.status_code == 400 and problem in response.text


def test_compute_without_os_tpl_asks_the_backend_for_the_default_image(
    occi: TestClient, occi_backend: Any
) -> None:
    response = occi.post("/occi/compute/", content=f"Category: {COMPUTE_KIND}\n", headers=TEXT)
    assert response.status_code == 201, response.text
    assert occi_backend.calls[-1][0] == "compute_create"
    assert occi_backend.calls[-1][1].image_id is None  # the services' default image decides


def test_higher_requested_version_is_501(occi: TestClient) -> None:
    response = occi.get("/occi/-/", headers={"User-Agent": "rOCCI-cli/5.0 OCCI/1.3"})
    assert response.status_code == 501 and response.headers["Server"].endswith("OCCI/1.2")
    assert occi.get("/occi/-/", headers={"User-Agent": "occi-cli OCCI/1.1"}).status_code == 200


def test_missing_credentials_are_401_with_a_challenge(occi: TestClient) -> None:
    response = occi.get("/occi/compute/", auth=("alice", "wrong"))
    assert response.status_code == 401 and "Basic" in response.headers["WWW-Authenticate"]


def test_unacceptable_media_type_is_406(occi: TestClient) -> None:
    assert occi.get("/occi/compute/", headers={"Accept": "image/png"}).status_code == 406


def test_unknown_things_are_404(occi: TestClient) -> None:
    assert occi.get("/occi/compute/99").status_code == 404
    assert occi.get("/occi/compute/abc").status_code == 404
    assert occi.get("/occi/widgets/").status_code == 404
    assert occi.get("/occi/link/compute/").status_code == 404


def test_backend_not_implemented_is_501(occi: TestClient, occi_backend: Any) -> None:
    def not_yet(*args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    occi_backend.network_action = not_yet
    up = (
        'Category: up; scheme="http://schemas.ogf.org/occi/infrastructure/network/action#"; '
        'class="action"'
    )
    response = occi.post("/occi/network/1?action=up", content=up, headers=TEXT)
    assert response.status_code == 501 and response.headers["Server"].endswith("OCCI/1.2")


def test_partial_update_of_compute_in_text_and_storage_in_json(
    occi: TestClient, occi_backend: Any
) -> None:
    location = _create_compute(occi)
    body = 'X-OCCI-Attribute: occi.core.title="renamed"\nX-OCCI-Attribute: occi.compute.memory=3\n'
    response = occi.post(location, content=body, headers=TEXT)
    assert response.status_code == 200, response.text
    assert occi_backend.calls[-1] == ("compute_update", 0, {"name": "renamed", "memory_mib": 3072})
    assert 'X-OCCI-Attribute: occi.core.title="renamed"' in response.text
    occi_backend.storage_create(None, "data", 10)
    response = occi.post(
        "/occi/storage/1",
        json={"attributes": {"occi.storage.size": 20}},
        headers={"Content-Type": "application/occi+json", "Accept": "application/occi+json"},
    )
    assert response.status_code == 200
    assert response.json()["attributes"]["occi.storage.size"] == 20.0


def test_partial_update_of_immutable_or_unknown_attributes_is_400(
    occi: TestClient, occi_backend: Any
) -> None:
    location = _create_compute(occi)
    for body in (
        'X-OCCI-Attribute: occi.compute.state="active"\n',
        "",
        "X-OCCI-Attribute: occi.compute.cores=0\n",
    ):
        response = occi.post(location, content=body, headers=TEXT)
        assert response.status_code == 400, body
    for body in ("", "X-OCCI-Attribute: occi.compute.cores=-1\n"):
        assert occi.put(location, content=body, headers=TEXT).status_code == 400, body
    # a full update carries what the server owns (state...) as read: ignored, not refused
    state = 'X-OCCI-Attribute: occi.compute.state="active"\n'
    assert occi.put(location, content=state, headers=TEXT).status_code == 200
    assert [c for c in occi_backend.calls if c[0] == "compute_update"] == []


def test_save_action_passes_the_name_attribute_or_none(occi: TestClient, occi_backend: Any) -> None:
    location = _create_compute(occi)
    body = f'Category: save; scheme="{ACTION}"; class="action"\nX-OCCI-Attribute: name="golden"\n'
    response = occi.post(f"{location}?action=save", content=body, headers=TEXT)
    assert response.status_code == 200, response.text
    assert occi_backend.calls[-1] == ("compute_save", 0, "golden")
    body = f'Category: save; scheme="{ACTION}"; class="action"\n'
    assert occi.post(f"{location}?action=save", content=body, headers=TEXT).status_code == 200
    assert occi_backend.calls[-1] == ("compute_save", 0, None)
