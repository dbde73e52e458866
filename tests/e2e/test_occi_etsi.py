"""OCCI 1.2 against the interoperability test list of ETSI TS 103 142 ("CLOUD; Test
Descriptions for Cloud Interoperability"), as a compliance client runs it: each test below is
named after the test id it satisfies and runs in both renderings a compliance client chooses
from, `text/plain` (categories, links and attributes in the body) and `text/occi` (the same in
HTTP headers).  A real stratus-server (simulated hypervisor) whose `[occi] default_image` is
set, so a compute may come without an os_tpl mixin.

Every test id of the list is satisfied, OCCI/CORE/CREATE/006 (a user-defined mixin) included;
each user's mixins are theirs alone (`test_a_user_mixin_is_invisible_to_another_tenant`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.helpers.servers import Server, free_port

pytestmark = pytest.mark.e2e

CORE = "http://schemas.ogf.org/occi/core#"
INFRA = "http://schemas.ogf.org/occi/infrastructure#"
ACTION = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
AUTH = ("admin", "adminpw")
MEDIA = ("text/plain", "text/occi")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("etsi")
    srv = Server(base / "data", free_port(), args=["--hypervisor", "simulated"],
                 env={"STRATUSLAB_OCCI_DEFAULT_IMAGE": "1"})  # fmt: skip
    srv.start()
    disk = base / "default.raw"
    disk.write_bytes(b"\0" * 65536)
    assert srv.cli("image", "register", "ttylinux", str(disk), "--public").stdout.strip() == "1"
    yield srv
    srv.stop()
    srv.reap()


@pytest.fixture(scope="module")
def occi(server: Server) -> httpx.Client:
    return httpx.Client(base_url=f"{server.endpoint}/occi", auth=AUTH, timeout=30)


# ---- a minimal compliance client: render a request, parse an answer, in either rendering ----


def request(media: str, categories: list[str], attributes: dict[str, str | float] | None = None,
            links: list[str] | None = None, raw: list[str] | None = None) -> dict[str, object]:
    """httpx keyword arguments carrying categories/attributes/links the `media` way (`raw`:
    attributes already rendered, `name=value`)."""
    attrs = [f"{k}={v}" if isinstance(v, float) else f'{k}="{v}"'
             for k, v in (attributes or {}).items()] + (raw or [])
    headers = {"Content-Type": media, "Accept": media}
    if media == "text/occi":
        for name, values in (("Category", categories), ("Link", links or []),
                             ("X-OCCI-Attribute", attrs)):  # fmt: skip
            if values:
                headers[name] = ", ".join(values)
        return {"headers": headers, "content": b""}
    lines = [f"Category: {c}" for c in categories] + [f"Link: {v}" for v in links or []]
    lines += [f"X-OCCI-Attribute: {a}" for a in attrs]
    return {"headers": headers, "content": ("\n".join(lines) + "\n").encode()}


def rendered(response: httpx.Response, name: str) -> list[str]:
    """Every value of one OCCI field (`Category`, `Link`, `X-OCCI-Location`...) in an answer,
    from its headers (text/occi) or its body (text/plain)."""
    values = []
    for key, value in response.headers.multi_items():
        if key.lower() == name.lower():
            values += split_values(value)
    for line in response.text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            values += split_values(value)
    return values


def split_values(text: str) -> list[str]:
    """Split a comma-joined header value, keeping commas inside quotes."""
    return [v.strip() for v in re.findall(r'(?:[^,"]|"[^"]*")+', text) if v.strip()]


def categories(response: httpx.Response) -> list[dict[str, str]]:
    out = []
    for value in rendered(response, "Category"):
        term, _, rest = value.partition(";")
        cat = {"term": term.strip()}
        cat.update({k: v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)})
        out.append(cat)
    return out


def kind(occi: httpx.Client, term: str) -> dict[str, str]:
    found = [c for c in categories(occi.get("/-/", headers={"Accept": "text/plain"}))
             if c["term"] == term and c.get("class") in ("kind", "mixin")]  # fmt: skip
    assert found, f"no category {term} in the query interface"
    return found[0]


def location_of(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    found = rendered(response, "X-OCCI-Location") or [response.headers.get("Location", "")]
    assert found[0], response.text
    return found[0].split("/occi", 1)[1]


def locations(occi: httpx.Client, path: str, media: str, **kwargs: object) -> list[str]:
    response = occi.get(path, headers={"Accept": media, **dict(kwargs.get("headers") or {})})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media)
    return [u.split("/occi", 1)[1] for u in rendered(response, "X-OCCI-Location")]


def wait_gone(occi: httpx.Client, path: str) -> None:
    deadline = time.monotonic() + 60
    while occi.get(path, headers={"Accept": "text/plain"}).status_code != 404:
        assert time.monotonic() < deadline, f"{path} never went away"
        time.sleep(0.2)


def wait_running(server: Server, compute_path: str) -> None:
    """Until the compute's VM runs (our own state, over REST)."""
    vm_url = f"{server.endpoint}/api/v1/vms/{compute_path.rsplit('/', 1)[1]}"
    deadline = time.monotonic() + 60
    while httpx.get(vm_url, auth=AUTH).json()["state"] != "running":
        assert time.monotonic() < deadline, f"{compute_path} never ran"
        time.sleep(0.2)


def compute(occi: httpx.Client, media: str, title: str) -> str:
    kind_cat = f'compute; scheme="{INFRA}"; class="kind"'
    return location_of(occi.post("/compute/", **request(media, [kind_cat],
                                                         {"occi.core.title": title})))  # type: ignore[arg-type]


# ---- the test list -------------------------------------------------------------------------


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_discovery_001_all_categories(occi: httpx.Client, media: str) -> None:
    response = occi.get("/-/", headers={"Accept": media})
    assert response.status_code == 200 and response.headers["content-type"].startswith(media)
    found = {(c["term"], c.get("scheme")) for c in categories(response)}
    assert {("entity", CORE), ("resource", CORE), ("link", CORE)} <= found


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_discovery_002_categories_with_a_filter(occi: httpx.Client, media: str) -> None:
    wanted = f'compute; scheme="{INFRA}"; class="kind"'
    response = occi.get("/-/", headers={"Accept": media, "Content-Type": "text/occi",
                                        "Category": wanted})  # fmt: skip
    assert response.status_code == 200 and response.headers["content-type"].startswith(media)
    found = categories(response)
    assert any(c["term"] == "compute" and c.get("scheme") == INFRA for c in found)
    assert not any(c["term"] == "storage" for c in found)  # filtered


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_read_001_urls_of_a_kind(occi: httpx.Client, media: str) -> None:
    made = compute(occi, media, f"read1-{media[5:]}")
    assert made in locations(occi, kind(occi, "compute")["location"].split("/occi", 1)[-1], media)


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_read_002_urls_of_a_kind_with_a_category_filter(
    occi: httpx.Client, media: str
) -> None:
    made = compute(occi, media, f"read2-{media[5:]}")
    tpl = [c for c in categories(occi.get("/-/", headers={"Accept": "text/plain"}))
           if c.get("rel") == f"{INFRA}os_tpl"][0]  # fmt: skip
    filtered = locations(occi, "/compute/", media, headers={
        "Content-Type": "text/occi",
        "Category": f'{tpl["term"]}; scheme="{tpl["scheme"]}"; class="mixin"'})
    assert made in filtered  # it booted the default image: that os_tpl


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_create_001_a_resource_with_its_kind_only(occi: httpx.Client,
                                                            media: str) -> None:
    made = occi.post("/compute/", **request(media, [f'compute; scheme="{INFRA}"; class="kind"'], {
        "occi.core.title": "titled", "occi.core.summary": "summary",
        "occi.compute.architecture": "x64"}))  # type: ignore[arg-type]
    assert made.status_code == 201, made.text


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_delete_001_an_entity(occi: httpx.Client, media: str) -> None:
    made = compute(occi, media, f"delete-{media[5:]}")
    assert occi.get(made, headers={"Accept": media}).status_code == 200
    assert occi.delete(made, headers={"Accept": media}).status_code // 100 == 2
    occi.delete(made, headers={"Accept": media})  # a second delete, as the test sends
    wait_gone(occi, made)


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_update_001_full_update_of_an_entity(occi: httpx.Client, media: str) -> None:
    made = compute(occi, media, f"update-{media[5:]}")
    shown = occi.get(made, headers={"Accept": media})
    cats = [c for c in rendered(shown, "Category") if 'class="action"' not in c]
    # every attribute as read, the title changed: a full update, as the test sends it
    raw = [a if not a.startswith("occi.core.title=") else
           f'occi.core.title="renamed-{media[5:]}"' for a in rendered(shown, "X-OCCI-Attribute")]
    put = occi.put(made, **request(media, cats, raw=raw))  # type: ignore[arg-type]
    assert put.status_code in (200, 201), put.text
    assert put.headers["content-type"].startswith(media)
    if put.status_code == 200:
        assert rendered(put, "Category") and rendered(put, "X-OCCI-Attribute")
    again = occi.get(made, headers={"Accept": "text/plain"}).text
    assert f'occi.core.title="renamed-{media[5:]}"' in again


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_misc_001_an_action_on_an_entity(
    server: Server, occi: httpx.Client, media: str
) -> None:
    made = compute(occi, media, f"action-{media[5:]}")
    wait_running(server, made)
    action = f'suspend; scheme="{ACTION}"; class="action"'
    done = occi.post(f"{made}?action=suspend", **request(media, [action]))  # type: ignore[arg-type]
    assert done.status_code == 200, done.text


@pytest.mark.parametrize("media", MEDIA)
def test_occi_infra_create_001_a_compute(occi: httpx.Client, media: str) -> None:
    made = occi.post("/compute/", **request(media, [f'compute; scheme="{INFRA}"; class="kind"']))  # type: ignore[arg-type]
    assert made.headers["content-type"].startswith(media)
    path = location_of(made)
    assert path in locations(occi, "/compute/", media)


@pytest.mark.parametrize("media", MEDIA)
def test_occi_infra_create_002_a_storage(occi: httpx.Client, media: str) -> None:
    made = occi.post("/storage/", **request(media, [f'storage; scheme="{INFRA}"; class="kind"'], {
        "occi.core.title": f"disk-{media[5:]}", "occi.storage.size": 0.1}))  # type: ignore[arg-type]
    assert made.headers["content-type"].startswith(media)
    assert location_of(made) in locations(occi, "/storage/", media)


@pytest.mark.parametrize("media", MEDIA)
def test_occi_infra_create_003_a_network(occi: httpx.Client, media: str) -> None:
    made = occi.post("/network/", **request(media, [f'network; scheme="{INFRA}"; class="kind"'], {
        "occi.core.title": f"net-{media[5:]}"}))  # type: ignore[arg-type]
    assert made.headers["content-type"].startswith(media)
    assert location_of(made) in locations(occi, "/network/", media)


@pytest.mark.parametrize("media", MEDIA)
def test_occi_infra_create_004_a_compute_from_os_and_resource_templates(
    occi: httpx.Client, media: str
) -> None:
    cats = categories(occi.get("/-/", headers={"Accept": "text/plain"}))
    os_tpl = next(c for c in cats if c.get("rel") == f"{INFRA}os_tpl")
    res_tpl = next(c for c in cats if c.get("rel") == f"{INFRA}resource_tpl")
    made = occi.post("/compute/", **request(media, [
        f'compute; scheme="{INFRA}"; class="kind"',
        f'{os_tpl["term"]}; scheme="{os_tpl["scheme"]}"; class="mixin"',
        f'{res_tpl["term"]}; scheme="{res_tpl["scheme"]}"; class="mixin"']))  # type: ignore[arg-type]
    assert made.headers["content-type"].startswith(media)
    assert location_of(made) in locations(occi, "/compute/", media)


def storage_and_network(occi: httpx.Client, media: str, tag: str) -> tuple[str, str]:
    disk = location_of(occi.post("/storage/", **request(
        media, [f'storage; scheme="{INFRA}"; class="kind"'],
        {"occi.core.title": f"d-{tag}", "occi.storage.size": 1.0})))  # type: ignore[arg-type]
    net = location_of(occi.post("/network/", **request(
        media, [f'network; scheme="{INFRA}"; class="kind"'],
        {"occi.core.title": f"n-{tag}"})))  # type: ignore[arg-type]
    return disk, net


@pytest.mark.parametrize("media", MEDIA)
def test_occi_infra_create_005_a_compute_with_a_storagelink_and_a_networkinterface(
    occi: httpx.Client, media: str
) -> None:
    disk, net = storage_and_network(occi, media, f"c5-{media[5:]}")
    links = [f'</occi{disk}>; rel="{INFRA}storage"; category="{INFRA}storagelink"',
             f'</occi{net}>; rel="{INFRA}network"; category="{INFRA}networkinterface"']
    made = occi.post("/compute/", **request(media, [f'compute; scheme="{INFRA}"; class="kind"'],
                                            links=links))  # type: ignore[arg-type]
    shown = occi.get(location_of(made), headers={"Accept": "text/plain"}).text
    assert disk in shown and net in shown


@pytest.mark.parametrize(("media", "target", "link"), [
    (m, t, link) for m in MEDIA for t, link in (("storage", "storagelink"),
                                                ("network", "networkinterface"))])
def test_occi_infra_create_006_and_007_a_link_between_a_compute_and_a_resource(
    server: Server, occi: httpx.Client, media: str, target: str, link: str
) -> None:
    """006: a storagelink to a storage; 007: a networkinterface to a network."""
    made = compute(occi, media, f"{link}-{media[5:]}")
    wait_running(server, made)
    disk, net = storage_and_network(occi, media, f"{link}-{media[5:]}")
    resource = disk if target == "storage" else net
    attrs = {"occi.core.source": f"/occi{made}", "occi.core.target": f"/occi{resource}"}
    if link == "storagelink":
        attrs["occi.storagelink.deviceid"] = "/dev/blk0"
    posted = occi.post(f"/link/{link}/", **request(
        media, [f'{link}; scheme="{INFRA}"; class="kind"'], attrs))  # type: ignore[arg-type]
    assert posted.status_code == 201, posted.text
    shown = occi.get(made, headers={"Accept": "text/plain"})
    assert any(resource in v for v in rendered(shown, "Link")), shown.text


def mixin_category(term: str) -> str:
    return (f'{term}; scheme="http://example.com/occi/my#"; class="mixin"; '
            f'location="/{term}/"; title="my tag {term}"')


def define_mixin(occi: httpx.Client, media: str, term: str) -> httpx.Response:
    return occi.post("/-/", **request(media, [mixin_category(term)]))  # type: ignore[arg-type]


@pytest.mark.parametrize("media", MEDIA)
def test_occi_core_create_006_a_user_defined_mixin(
    server: Server, occi: httpx.Client, media: str
) -> None:
    """Define a mixin (POST /-/), find it in the query interface, tag a compute with it
    (POST on its location), list it there and on the compute, untag, remove (DELETE /-/)."""
    term = f"mine_{media[5:]}"
    defined = define_mixin(occi, media, term)
    assert defined.status_code == 200, defined.text
    assert defined.headers["content-type"].startswith(media)
    assert kind(occi, term)["location"] == f"/{term}/"
    made = compute(occi, media, f"tagged-{media[5:]}")
    tagged = occi.post(f"/{term}/", **request(media, []))  # type: ignore[arg-type]
    assert tagged.status_code == 400  # no X-OCCI-Location: nothing to tag, said so
    body = f"X-OCCI-Location: /occi{made}\n"
    tagged = (occi.post(f"/{term}/", headers={"Content-Type": media, "Accept": media,
                                              "X-OCCI-Location": f"/occi{made}"})
              if media == "text/occi" else
              occi.post(f"/{term}/", content=body, headers={"Content-Type": media}))
    assert tagged.status_code == 200, tagged.text
    assert locations(occi, f"/{term}/", media) == [made]
    shown = occi.get(made, headers={"Accept": "text/plain"}).text
    assert f'Category: {term}; scheme="http://example.com/occi/my#"' in shown
    untag = occi.request("DELETE", f"/{term}/", content=body,
                         headers={"Content-Type": "text/plain"})
    assert untag.status_code == 200 and locations(occi, f"/{term}/", media) == []
    removed = occi.request("DELETE", "/-/", **request(media, [mixin_category(term)]))  # type: ignore[arg-type]
    assert removed.status_code == 200, removed.text
    assert occi.get(f"/{term}/").status_code == 404


def test_a_user_mixin_is_invisible_to_another_tenant(server: Server, occi: httpx.Client) -> None:
    """Mallory neither sees, lists, uses nor removes the admin's mixin; may define her own of
    the same name; cannot tag the admin's compute with hers; a huge definition is refused."""
    server.cli("user", "create", "mallory", "--password", "mallorypw")
    mallory = httpx.Client(base_url=occi.base_url, auth=("mallory", "mallorypw"), timeout=30,
                           headers={"Content-Type": "text/plain"})
    assert define_mixin(occi, "text/plain", "secret").status_code == 200
    made = compute(occi, "text/plain", "admins-own")
    body = f"X-OCCI-Location: /occi{made}\n"
    tagged = occi.post("/secret/", content=body, headers={"Content-Type": "text/plain"})
    assert tagged.status_code == 200, tagged.text
    assert "secret" not in mallory.get("/-/").text
    assert mallory.get("/secret/").status_code == 404
    assert mallory.post("/secret/", content=body).status_code == 404
    spec = request("text/plain", [mixin_category("secret")])
    assert mallory.request("DELETE", "/-/", **spec).status_code == 404  # type: ignore[arg-type]
    assert define_mixin(mallory, "text/plain", "secret").status_code == 200  # her own one
    assert mallory.get("/secret/").text.strip() in ("", "OK")  # her tag is empty
    assert mallory.post("/secret/", content=body).status_code == 404  # not her compute
    assert locations(occi, "/secret/", "text/plain") == [made]  # untouched
    huge = mixin_category("x" * 300)
    assert mallory.post("/-/", content=f"Category: {huge}\n").status_code in (400, 413)


def test_the_query_interface_names_every_kind_location(occi: httpx.Client) -> None:
    """What the tests above navigate by: each kind's location from the query interface."""
    for term in ("compute", "storage", "network", "storagelink", "networkinterface"):
        assert kind(occi, term).get("location"), term


def test_server_log_has_no_tracebacks(server: Server) -> None:
    assert "Traceback" not in server.log()
