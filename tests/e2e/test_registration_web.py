"""Issue 6 item 4, the web half of "admins approve or reject": /register/admin on a real
stratus-server with a real slapd and a real SMTP sink (aiosmtpd).  An admin approves through
the HTML form and the person then logs in with the CLI; others get 403; hostile names render
inert; forged posts (no token, foreign origin) are refused and change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller
from tests.helpers.authlab import ROOT_DN, ROOT_PW, Sink
from tests.helpers.servers import Server, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ADMIN = ("admin", "adminpw")
PAGE = "/register/admin"
CONFIG = """
[auth.ldap]
url = "{ldap}"
user_dn_template = "uid={{user}},ou=users,o=cloud"
search_base = "ou=users,o=cloud"
group_base = "ou=groups,o=cloud"
bind_dn = "{root_dn}"
bind_password = "{root_pw}"
timeout = 3

[registration]
admin_email = "admin@example.org"
rate_limit = 50

[mail]
host = "127.0.0.1"
port = {smtp_port}
sender = "cloud@example.org"
timeout = 5
"""


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[Sink, int]]:
    port, handler = free_port(), Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def web(slapd, sink, tmp_path_factory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("registration-web")
    (base / "server.toml").write_text(CONFIG.format(
        ldap=slapd.url, root_dn=ROOT_DN, root_pw=ROOT_PW, smtp_port=sink[1]))
    server = Server(base / "data", free_port(),
                    args=["--hypervisor", "simulated", "--config", str(base / "server.toml")])
    server.start()
    try:
        yield server
    finally:
        # slapd is shared by the session: leave no pending application behind
        for person in httpx.get(server.endpoint + "/api/v1/registrations", auth=ADMIN).json():
            httpx.post(f"{server.endpoint}/api/v1/registrations/{person['uid']}/reject",
                       auth=ADMIN)
        server.stop()


def apply(web: Server, uid: str, given_name: str = "Web") -> None:
    answer = httpx.post(web.endpoint + "/api/v1/registrations", json={
        "uid": uid, "email": f"{uid}@example.org", "given_name": given_name,
        "surname": "Applicant", "password": "Zq7-secret!9"})
    assert answer.status_code == 202, answer.text


def admin_page(web: Server) -> str:
    answer = httpx.get(web.endpoint + PAGE, auth=ADMIN)
    assert answer.status_code == 200, answer.text
    assert "script-src" not in answer.headers["content-security-policy"]
    return answer.text


def token(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def pending(web: Server) -> list[str]:
    return [p["uid"] for p in httpx.get(web.endpoint + "/api/v1/registrations",
                                        auth=ADMIN).json()]


def test_browser_without_credentials_gets_the_basic_challenge(web: Server) -> None:
    answer = httpx.get(web.endpoint + PAGE)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")


def test_admin_approves_in_the_page_and_the_person_logs_in_with_the_cli(
        web: Server, sink) -> None:
    apply(web, "webby")
    page = admin_page(web)
    assert "webby@example.org" in page and f'action="{PAGE}/webby/approve"' in page
    answer = httpx.post(f"{web.endpoint}{PAGE}/webby/approve", auth=ADMIN,
                        data={"csrf": token(page)}, headers={"origin": web.endpoint},
                        follow_redirects=True)
    assert answer.status_code == 200 and "webby approved; the applicant was mailed" in answer.text
    assert "webby" not in pending(web)
    listed = web.cli_json("describe-instance", user="webby", password="Zq7-secret!9")
    assert listed == []
    mail = [m for m in sink[0].messages if m["To"] == "webby@example.org"]
    assert mail and "account approved" in mail[-1]["Subject"]
    assert "registration approved uid=webby by=admin" in web.log()


def test_admin_rejects_with_a_reason_that_is_mailed(web: Server, sink) -> None:
    apply(web, "rejectee")
    answer = httpx.post(f"{web.endpoint}{PAGE}/rejectee/reject", auth=ADMIN,
                        data={"csrf": token(admin_page(web)), "reason": "unknown lab"},
                        follow_redirects=True)
    assert answer.status_code == 200 and "rejectee rejected" in answer.text
    assert "rejectee" not in pending(web)
    mail = [m for m in sink[0].messages if m["To"] == "rejectee@example.org"]
    assert mail and "Reason: unknown lab" in mail[-1].get_payload()
    refused = web.cli("describe-instance", user="rejectee", password="Zq7-secret!9",
                      check=False)
    assert refused.returncode != 0
    assert "authentication failed" in refused.stderr, refused.stderr  # refused, not broken


def test_non_admin_gets_403_on_the_page_and_on_the_actions(web: Server) -> None:
    apply(web, "victim")
    alice = ("alice", "Alice-pw1")  # an LDAP user with cloud-access, not an admin
    assert httpx.get(web.endpoint + PAGE, auth=alice).status_code == 403
    own = token(httpx.get(web.endpoint + PAGE, auth=ADMIN).text)
    answer = httpx.post(f"{web.endpoint}{PAGE}/victim/approve", auth=alice, data={"csrf": own})
    assert answer.status_code == 403  # the admin's token is not hers, and she is no admin
    assert "victim" in pending(web)


def test_hostile_name_renders_inert(web: Server) -> None:
    apply(web, "hostile", given_name='<script>alert("x")</script><img src=x onerror=alert(1)>')
    page = admin_page(web)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x" in page


@pytest.mark.parametrize("forgery", ["no token", "wrong token", "foreign origin",
                                     "cross-site fetch"])
def test_forged_post_is_refused_and_changes_nothing(web: Server, forgery: str) -> None:
    apply(web, "target")
    good = token(admin_page(web))
    data, headers = {
        "no token": ({}, {}),
        "wrong token": ({"csrf": "0" * 64}, {}),
        "foreign origin": ({"csrf": good}, {"origin": "http://evil.example"}),
        "cross-site fetch": ({"csrf": good}, {"sec-fetch-site": "cross-site"}),
    }[forgery]
    answer = httpx.post(f"{web.endpoint}{PAGE}/target/approve", auth=ADMIN, data=data,
                        headers=headers)
    assert answer.status_code == 403, answer.text
    # the server's HTTP guard refuses another site's browser first; the page's own check after
    assert "form posted to" in answer.text or "another site" in answer.text
    assert "target" in pending(web)
    assert "registration approved uid=target" not in web.log()
