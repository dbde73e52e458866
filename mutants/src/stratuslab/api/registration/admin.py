"""The administrators' web page for registrations: /register/admin lists the pending
applications with Approve and Reject (with a reason) buttons.

Plain server-rendered HTML with POST forms, no script.  The caller is authenticated by the same
dependency as the REST routes (the one authenticator chain; a browser gets the HTTP Basic
challenge from the app's error mapper) and authorized by RegistrationService itself, exactly as
through REST.  Cross-site request forgery: every form carries a token that is an HMAC of the
caller's user name under a key random to this router (so it dies with the server process), and
a POST whose Origin or Sec-Fetch-Site says another site is refused before the token is even
looked at.  Every value that comes from an application is HTML-escaped.  Never import drivers,
persistence or settings.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stratuslab.core.directory import DirectoryUser
from stratuslab.core.entities import Principal
from stratuslab.core.errors import ErrorKind, Forbidden, NotFound
from stratuslab.services.auth.registration import RegistrationService

PATH = "/register/admin"
# no script, no frames, forms only back to us; the page carries its own small style
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store", "Referrer-Policy": "same-origin",
}
_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #bbb;padding:.4em;vertical-align:top;text-align:left}
.notice{background:#eef;padding:.5em}.error{background:#fee;padding:.5em}
form{display:inline;margin:0}button{margin:.1em}"""
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>{style}</style></head><body><h1>{title}</h1>{body}</body></html>"""
_ROW = """<tr><td>{uid}</td><td>{given_name} {surname}</td><td>{email}</td><td>{cert_dns}</td>
<td>{message}</td><td><form method="post" action="{base}/approve">{csrf}
<button type="submit">Approve</button></form>
<form method="post" action="{base}/reject">{csrf}
<input name="reason" placeholder="reason (mailed to the applicant)" maxlength="500">
<button type="submit">Reject</button></form></td></tr>"""
_DONE = {"approved", "rejected"}


def esc(value: str | None) -> str:
    return html.escape(value or "", quote=True)


class CsrfTokens:
    """Per-user form tokens under a key that lives as long as this object."""

    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(32)

    def token(self, user: str) -> str:
        return hmac.new(self._key, b"registration-admin\0" + user.encode(),
                        hashlib.sha256).hexdigest()

    def check(self, request: Request, user: str, token: str) -> None:
        origin = request.headers.get("origin")
        ours = f"{request.url.scheme}://{request.url.netloc}"
        if origin is not None and origin != ours:
            raise Forbidden(f"form posted to {PATH} from another origin ({origin})",
                            hint=f"use the page at {ours}{PATH}")
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise Forbidden(f"form posted to {PATH} from another site",
                            hint=f"use the page at {ours}{PATH}")
        if not token or not hmac.compare_digest(token, self.token(user)):
            raise Forbidden(f"form posted to {PATH} without a valid form token",
                            hint="reload the page and press the button again")


def _row(person: DirectoryUser, csrf: str) -> str:
    return _ROW.format(
        uid=esc(person.uid), given_name=esc(person.given_name), surname=esc(person.surname),
        email=esc(person.mail), cert_dns="<br>".join(esc(dn) for dn in person.cert_dns),
        message=esc(person.message), base=f"{PATH}/{esc(quote(person.uid, safe=''))}",
        csrf=csrf)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=esc(title), style=_STYLE, body=body), status,
                        headers=HEADERS)


def _listing(service: RegistrationService, caller: Principal, csrf: CsrfTokens,
             notice: str) -> HTMLResponse:
    people = service.pending(caller)  # authorizes: 403 for non-admins
    hidden = f'<input type="hidden" name="csrf" value="{esc(csrf.token(caller.user))}">'
    rows = "".join(_row(p, hidden) for p in people)
    table = ("<table><tr><th>User name</th><th>Name</th><th>Email</th><th>Certificate DN</th>"
             f"<th>Message</th><th>Decision</th></tr>{rows}</table>" if people
             else "<p>No pending applications.</p>")
    who = f"<p>Signed in as {esc(caller.user)}.</p>"
    return page("Pending registrations", notice + who + table)


def _error_page(exc: Forbidden | NotFound) -> HTMLResponse:
    status = 403 if exc.kind is ErrorKind.FORBIDDEN else 404
    return page("Registrations", f'<p class="error">{esc(exc.full_message)}</p>'
                f'<p><a href="{PATH}">Back to the pending registrations</a></p>', status)


def add_admin_page(router: APIRouter, service: RegistrationService, caller_dep: Any,
                   csrf: CsrfTokens | None = None) -> None:
    """Add GET /register/admin and its two POST actions to `router`; `caller_dep` is the
    `Depends(...)` marker that authenticates the caller."""
    tokens = csrf or CsrfTokens()

    @router.get(PATH, response_class=HTMLResponse, include_in_schema=False)
    def admin_page(done: str = "", uid: str = "", mailed: str = "",
                   caller: Principal = caller_dep) -> HTMLResponse:
        notice = ""
        if done in _DONE and uid:
            mail = ("the applicant was mailed" if mailed == "1"
                    else "the mail could not be sent (see the server log)")
            notice = f'<p class="notice">{esc(uid)} {done}; {mail}.</p>'
        try:
            return _listing(service, caller, tokens, notice)
        except Forbidden as exc:
            return _error_page(exc)

    @router.post(PATH + "/{uid}/{decision}", include_in_schema=False)
    def decide(request: Request, uid: str, decision: str, csrf: Annotated[str, Form()] = "",
               reason: Annotated[str, Form()] = "",
               caller: Principal = caller_dep) -> Response:
        try:
            tokens.check(request, caller.user, csrf)
            if decision == "approve":
                mailed = service.approve(uid, admin=caller)
            elif decision == "reject":
                mailed = service.reject(uid, admin=caller, reason=reason.strip()[:500])
            else:
                raise NotFound("registration decision", decision, listing="approve, reject")
        except (Forbidden, NotFound) as exc:
            return _error_page(exc)
        done = "approved" if decision == "approve" else "rejected"
        return RedirectResponse(f"{PATH}?done={done}&uid={quote(uid, safe='')}"
                                f"&mailed={int(mailed)}", 303, headers=HEADERS)
