"""CDMI 1.1 file storage end to end: a real server on loopback, raw HTTP requests as CDMI clients
(1.0.2 and 1.1 headers) and non-CDMI clients send them, two users and an anonymous caller."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator

import httpx
import pytest
from tests.helpers.servers import Server, free_port

pytestmark = pytest.mark.e2e

V11 = {"X-CDMI-Specification-Version": "1.1"}
OBJ = {**V11, "Content-Type": "application/cdmi-object", "Accept": "application/cdmi-object"}
CONT = {**V11, "Content-Type": "application/cdmi-container", "Accept": "application/cdmi-container"}
QUOTA = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("cdmi")
    cfg = base / "cfg.toml"
    cfg.write_text(f"[cdmi]\nquota_bytes = {QUOTA}\n")
    srv = Server(base / "data", free_port(), args=["--hypervisor", "simulated", "--config", str(cfg)])
    srv.start()
    srv.cli("user", "create", "alice", "--password", "alicepw")
    srv.cli("user", "create", "bob", "--password", "bobpw")
    yield srv
    srv.stop()
    srv.reap()


def client(srv: Server, user: str | None = "alice") -> httpx.Client:
    auth = (user, f"{user}pw") if user else None
    return httpx.Client(base_url=srv.endpoint + "/cdmi", auth=auth, timeout=60)


def test_capabilities_describe_the_service_and_the_callers_quota(server: Server) -> None:
    with client(server) as c:
        root = c.get("/cdmi_capabilities/", headers={**V11, "Accept": "application/cdmi-capability"})
        assert root.status_code == 200, root.text
        assert root.headers["X-CDMI-Specification-Version"] == "1.1"
        doc = root.json()
        assert doc["objectType"] == "application/cdmi-capability"
        assert doc["capabilities"]["cdmi_dataobjects"] == "true"
        assert doc["children"] == ["container/", "dataobject/"]
        assert doc["metadata"]["cdmi_assignedsize"] == str(QUOTA)
        data = c.get("/cdmi_capabilities/dataobject/", headers=V11).json()
        assert data["capabilities"]["cdmi_read_value_range"] == "true"
        assert c.get("/cdmi_capabilities/nothing/", headers=V11).status_code == 404


def test_container_and_data_object_round_trip_in_both_encodings(server: Server) -> None:
    with client(server) as c:
        made = c.put("/results/", headers=CONT, json={"metadata": {"project": "lhc"}})
        assert made.status_code == 201, made.text
        cont = made.json()
        assert cont["objectType"] == "application/cdmi-container"
        assert cont["objectName"] == "results/" and cont["parentURI"] == "/cdmi/"
        assert cont["capabilitiesURI"] == "/cdmi/cdmi_capabilities/container/"
        assert cont["metadata"]["project"] == "lhc"

        text = c.put("/results/run1.txt", headers=OBJ,
                     json={"mimetype": "text/plain", "value": "héllo wörld", "metadata": {"k": "v"}})
        assert text.status_code == 201, text.text
        blob = bytes(range(256))
        binary = c.put("/results/raw.bin", headers=OBJ,
                       json={"mimetype": "application/octet-stream",
                             "valuetransferencoding": "base64",
                             "value": base64.b64encode(blob).decode()})
        assert binary.status_code == 201, binary.text

        got = c.get("/results/run1.txt", headers=OBJ).json()
        assert (got["value"], got["valuetransferencoding"], got["mimetype"]) == (
            "héllo wörld", "utf-8", "text/plain")
        assert got["metadata"]["k"] == "v" and got["metadata"]["cdmi_size"] == str(len("héllo wörld".encode()))
        part = c.get("/results/run1.txt?value:0-4;valuerange", headers=OBJ).json()
        assert (part["value"], part["valuerange"]) == ("héll", "0-4")
        raw = c.get("/results/raw.bin", headers=OBJ).json()
        assert raw["valuetransferencoding"] == "base64" and base64.b64decode(raw["value"]) == blob

        # non-CDMI access to the same objects: raw bytes with the mimetype, and HTTP ranges
        plain = c.get("/results/raw.bin")
        assert plain.content == blob and plain.headers["content-type"] == "application/octet-stream"
        ranged = c.get("/results/raw.bin", headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == blob[10:20]
        assert ranged.headers["content-range"] == "bytes 10-19/256"
        assert c.get("/results/raw.bin", headers={"Range": "bytes=300-400"}).status_code == 416

        listing = c.get("/results/?children;metadata", headers=CONT).json()
        assert set(listing) == {"children", "metadata"}
        assert listing["children"] == ["raw.bin", "run1.txt"]


def test_non_cdmi_put_streams_bytes_and_cdmi_get_encodes_them(server: Server) -> None:
    with client(server) as c:
        assert c.put("/plain/", headers=CONT).status_code == 201
        data = os.urandom(300_000)
        put = c.put("/plain/blob", content=data, headers={"Content-Type": "application/x-thing"})
        assert put.status_code == 201, put.text
        assert put.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        doc = c.get("/plain/blob", headers=OBJ).json()
        assert doc["mimetype"] == "application/x-thing"
        assert base64.b64decode(doc["value"]) == data
        again = c.put("/plain/blob", content=b"new", headers={"Content-Type": "text/plain"})
        assert again.status_code == 204
        assert c.get("/plain/blob").content == b"new"


def test_every_object_is_reachable_by_its_id_and_post_assigns_one(server: Server) -> None:
    with client(server) as c:
        cont = c.put("/byid/", headers=CONT).json()
        obj = c.put("/byid/a.txt", headers=OBJ, json={"value": "abc"}).json()
        by_id = c.get(f"/cdmi_objectid/{obj['objectID']}", headers=OBJ).json()
        assert by_id["value"] == "abc" and by_id["parentID"] == cont["objectID"]
        assert c.get(f"/cdmi_objectid/{cont['objectID']}/", headers=CONT).json()["children"] == ["a.txt"]
        meta = c.put(f"/cdmi_objectid/{obj['objectID']}", headers=OBJ, json={"metadata": {"x": "1"}})
        assert meta.status_code == 204
        assert c.get("/byid/a.txt?metadata", headers=OBJ).json()["metadata"]["x"] == "1"

        posted = c.post("/byid/", headers=OBJ, json={"value": "no name", "mimetype": "text/plain"})
        assert posted.status_code == 201, posted.text
        oid = posted.json()["objectID"]
        assert posted.headers["location"] == f"/cdmi/cdmi_objectid/{oid}"
        assert c.get(f"/cdmi_objectid/{oid}", headers=OBJ).json()["value"] == "no name"
        assert c.delete(f"/cdmi_objectid/{oid}").status_code == 204
        assert c.get(f"/cdmi_objectid/{oid}", headers=OBJ).status_code == 404


def test_children_ranges_and_a_container_with_children_is_not_deleted(server: Server) -> None:
    with client(server) as c:
        c.put("/many/", headers=CONT)
        for i in range(5):
            c.put(f"/many/f{i}", content=b"x", headers={"Content-Type": "text/plain"})
        page = c.get("/many/?children:1-2;childrenrange", headers=CONT).json()
        assert page == {"children": ["f1", "f2"], "childrenrange": "1-2"}
        refused = c.delete("/many/")
        assert refused.status_code == 409 and "holds 5 objects" in refused.json()["error"]
        for i in range(5):
            assert c.delete(f"/many/f{i}").status_code == 204
        assert c.delete("/many/").status_code == 204
        assert c.get("/many/", headers=CONT).status_code == 404


def test_versions_1_0_2_and_1_0_1h_are_accepted_and_unknown_ones_refused(server: Server) -> None:
    with client(server) as c:
        c.put("/vers/", headers=CONT)
        for asked in ("1.0.2", "1.0.1h", "2.5, 1.1.1"):
            ok = c.get("/vers/", headers={"X-CDMI-Specification-Version": asked})
            assert ok.status_code == 200 and ok.headers["X-CDMI-Specification-Version"] == "1.1"
        bad = c.get("/vers/", headers={"X-CDMI-Specification-Version": "9.9"})
        assert bad.status_code == 400 and "not supported" in bad.json()["error"]


def test_other_users_and_anonymous_callers_see_nothing(server: Server) -> None:
    with client(server) as alice, client(server, "bob") as bob, client(server, None) as anon:
        alice.put("/private/", headers=CONT)
        secret = alice.put("/private/s.txt", headers=OBJ, json={"value": "secret"}).json()
        for path in ("/private/", "/private/s.txt", f"/cdmi_objectid/{secret['objectID']}"):
            seen = bob.get(path, headers=OBJ)
            assert seen.status_code == 404, (path, seen.text)
            assert "secret" not in seen.text
        assert bob.put("/private/mine.txt", headers=OBJ, json={"value": "x"}).status_code == 404
        assert bob.delete("/private/s.txt").status_code == 404
        assert bob.put("/private/", headers=CONT).status_code == 409  # taken, not revealed as alice's
        assert "private/" not in bob.get("/", headers=CONT).json()["children"]
        assert anon.get("/private/s.txt").status_code == 401
        assert alice.get("/private/s.txt").content == b"secret"


@pytest.mark.parametrize("path", ["/bad/..", "/bad/a%2fb", "/bad/a%00b", "/bad/" + "n" * 256,
                                  "/bad/%ff"])
def test_hostile_names_are_refused(server: Server, path: str) -> None:
    with client(server) as c:
        c.put("/bad/", headers=CONT)
        answer = c.put(path, content=b"x", headers={"Content-Type": "text/plain"})
        assert answer.status_code in (400, 404), answer.text
        assert answer.status_code != 404 or ".." in path  # '..' may be normalised by the client
        names = c.get("/bad/?children", headers=CONT).json()["children"]
        assert names == []


def test_malformed_cdmi_bodies_and_ranges_get_clear_errors(server: Server) -> None:
    with client(server) as c:
        c.put("/errs/", headers=CONT)
        c.put("/errs/o", headers=OBJ, json={"value": "0123456789"})
        cases = [
            c.put("/errs/p", headers=OBJ, content=b"{not json"),
            c.put("/errs/p", headers=OBJ, json={"value": "%%%", "valuetransferencoding": "base64"}),
            c.put("/errs/p", headers=OBJ, json={"value": "x", "valuetransferencoding": "rot13"}),
            c.put("/errs/p", headers=OBJ, json={"value": 5}),
            c.put("/errs/p", headers=OBJ, json={"value": "x", "metadata": {"cdmi_size": "1"}}),
            c.get("/errs/o?value:20-30", headers=OBJ),
            c.get("/errs/o?value:5-1", headers=OBJ),
        ]
        for answer in cases:
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]
        assert c.put("/errs/p", headers=OBJ, json={"copy": "/errs/o"}).status_code == 501
        assert c.get("/errs/?children", headers=CONT).json()["children"] == ["o"]


def test_if_match_protects_against_lost_updates(server: Server) -> None:
    with client(server) as c:
        c.put("/etag/", headers=CONT)
        etag = c.put("/etag/o", content=b"one", headers={"Content-Type": "text/plain"}).headers["etag"]
        stale = c.put("/etag/o", content=b"two", headers={"Content-Type": "text/plain",
                                                          "If-Match": '"0000"'})
        assert stale.status_code == 412
        assert c.put("/etag/o", content=b"two", headers={"Content-Type": "text/plain",
                                                         "If-Match": etag}).status_code == 204
        assert c.get("/etag/o").content == b"two"


def test_quota_exceeded_mid_upload_leaves_nothing_and_keeps_the_old_bytes(server: Server) -> None:
    with client(server, "bob") as c:
        c.put("/q/", headers=CONT)
        assert c.put("/q/keep", content=b"old bytes", headers={"Content-Type": "text/plain"}).status_code == 201
        used = c.get("/cdmi_capabilities/", headers=V11).json()["metadata"]["stratuslab_used_bytes"]

        def big() -> Iterator[bytes]:
            for _ in range(QUOTA // 65536 + 4):
                yield b"z" * 65536

        over = c.put("/q/huge", content=big(), headers={"Content-Type": "application/octet-stream"})
        assert over.status_code == 403 and "quota" in over.json()["error"]
        assert c.get("/q/huge").status_code == 404
        replace = c.put("/q/keep", content=big(), headers={"Content-Type": "text/plain"})
        assert replace.status_code == 403
        assert c.get("/q/keep").content == b"old bytes"
        after = c.get("/cdmi_capabilities/", headers=V11).json()["metadata"]["stratuslab_used_bytes"]
        assert after == used
        blobs = server.data_dir / "objects"
        assert not list(blobs.glob("*/.tmp-*"))


def test_cli_storage_commands_round_trip_a_file(server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.dat"
    src.write_bytes(os.urandom(1_500_000))
    assert "CREATED cli/" in server.cli("storage", "mkdir", "cli", user="alice", password="alicepw").stdout
    out = server.cli("storage", "put", str(src), "cli/in.dat", user="alice", password="alicepw").stdout
    assert f"STORED cli/in.dat 1500000 bytes sha256 {hashlib.sha256(src.read_bytes()).hexdigest()}" in out
    listed = server.cli_json("storage", "ls", "cli", user="alice", password="alicepw")
    assert [(r["name"], r["state"]) for r in listed] == [("in.dat", "object")]
    dst = tmp_path / "out.dat"
    server.cli("storage", "get", "cli/in.dat", str(dst), user="alice", password="alicepw")
    assert dst.read_bytes() == src.read_bytes()
    refused = server.cli("storage", "get", "cli/in.dat", str(tmp_path / "x"), user="bob",
                         password="bobpw", check=False)
    assert refused.returncode != 0 and "does not exist" in refused.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.part").exists()
    server.cli("storage", "rm", "cli/in.dat", "cli/", user="alice", password="alicepw")
    names = [r["name"] for r in server.cli_json("storage", "ls", user="alice", password="alicepw")]
    assert "cli/" not in names


def _rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_large_object_streams_through_with_flat_server_memory(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("cdmibig")
    cfg = base / "cfg.toml"
    cfg.write_text("[cdmi]\nquota_bytes = 0\n")
    srv = Server(base / "data", free_port(), args=["--hypervisor", "simulated", "--config", str(cfg)])
    srv.start()
    try:
        size, block = 512 * 1024 * 1024, os.urandom(1024 * 1024)
        with httpx.Client(base_url=srv.endpoint + "/cdmi", auth=("admin", "adminpw"), timeout=600) as c:
            c.put("/big/", headers=CONT)
            assert srv.proc is not None
            before = _rss_kib(srv.proc.pid)
            expected = hashlib.sha256()

            def body() -> Iterator[bytes]:
                for _ in range(size // len(block)):
                    expected.update(block)
                    yield block

            put = c.put("/big/blob", content=body(), headers={"Content-Type": "application/octet-stream"})
            assert put.status_code == 201, put.text
            assert put.headers["etag"] == f'"{expected.hexdigest()}"'
            got = hashlib.sha256()
            with c.stream("GET", "/big/blob") as resp:
                assert resp.headers["content-length"] == str(size)
                for chunk in resp.iter_bytes():
                    got.update(chunk)
            assert got.hexdigest() == expected.hexdigest()
            grown = _rss_kib(srv.proc.pid) - before
            assert grown < 128 * 1024, f"the server grew by {grown} KiB for a {size >> 20} MiB object"
    finally:
        srv.stop()
        srv.reap()
