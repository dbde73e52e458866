"""Registration front end: an HTML form at /register, a REST API under /api/v1/registrations
and the administrators' page at /register/admin (admin.py).

`make_router(service, admin=...)` returns a FastAPI router; `admin` is the dependency that
authenticates the caller (the REST adapter's principal dependency) and is used only on the
administrator routes.  Errors are CloudErrors for the app's one error mapper, except on the
HTML form, which shows them in the page.  Never import drivers, persistence or settings.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from stratuslab.api.credentials import cert_chain_of
from stratuslab.api.registration.admin import add_admin_page
from stratuslab.core.directory import DirectoryUser
from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput, QuotaExceeded
from stratuslab.services.auth.registration import Application, RegistrationService

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>"""
_FORM = """{notice}<form method="post" action="{action}">
<p><label>User name <input name="uid" pattern="\\w{{3,20}}" required value="{uid}"></label></p>
<p><label>Email <input name="email" type="email" required value="{email}"></label></p>
<p><label>Given name <input name="given_name" required value="{given_name}"></label></p>
<p><label>Surname <input name="surname" required value="{surname}"></label></p>
<p><label>Certificate DN (optional; connect over HTTPS with that certificate)
 <input name="cert_dn" value="{cert_dn}"></label></p>
<p><label>Password <input name="password" type="password" minlength="8" maxlength="20"
 required></label> <label>again <input name="password_check" type="password" required></label>
 (8-20 characters, three of: lower case, upper case, digits, symbols)</p>
<p><label>Message to the administrator <textarea name="message">{message}</textarea></label></p>
<p><label><input type="checkbox" name="agreement" value="yes" required> I accept the
 usage policy</label></p>
<p><button type="submit">Apply</button></p></form>"""


class ApplicationIn(BaseModel):
    uid: str
    email: str
    given_name: str
    surname: str
    password: str
    cert_dn: str | None = None
    message: str | None = Field(default=None, max_length=1000)


class Decision(BaseModel):
    reason: str = ""


def _person(user: DirectoryUser) -> dict[str, Any]:
    return {"uid": user.uid, "email": user.mail, "given_name": user.given_name,
            "surname": user.surname, "cert_dns": list(user.cert_dns),
            "status": user.status.value, "message": user.message}


def _form_page(action: str, notice: str = "", **values: str) -> str:
    fields = {k: html.escape(values.get(k, "") or "", quote=True)
              for k in ("uid", "email", "given_name", "surname", "cert_dn", "message")}
    body = _FORM.format(action=action, notice=notice, **fields)
    return _PAGE.format(title="Apply for an account", body=body)


def make_router(service: RegistrationService, *,
                admin: Callable[..., Principal]) -> APIRouter:
    router = APIRouter()
    # a dependency default, not an Annotated alias: annotations are strings resolved in the
    # module's globals, where a local alias would not be found
    caller_dep = Depends(admin)
    add_admin_page(router, service, caller_dep)

    @router.get("/register", response_class=HTMLResponse, include_in_schema=False)
    def form(request: Request) -> str:
        return _form_page(str(request.url.path))

    @router.post("/register", response_class=HTMLResponse, include_in_schema=False)
    def submit(request: Request, uid: Annotated[str, Form()], email: Annotated[str, Form()],
               given_name: Annotated[str, Form()], surname: Annotated[str, Form()],
               password: Annotated[str, Form()], password_check: Annotated[str, Form()],
               agreement: Annotated[str, Form()] = "", cert_dn: Annotated[str, Form()] = "",
               message: Annotated[str, Form()] = "") -> HTMLResponse:
        values = {"uid": uid, "email": email, "given_name": given_name, "surname": surname,
                  "cert_dn": cert_dn, "message": message}
        source = request.client.host if request.client else "unknown"
        try:
            if agreement != "yes":
                raise InvalidInput("registration refused: accept the usage policy",
                                   hint="tick the box and send the form again")
            answer = service.apply(Application(uid, email, given_name, surname, password,
                                               password_check, cert_dn or None,
                                               message or None, cert_chain_of(request.scope)),
                                   source=source)
        except (InvalidInput, QuotaExceeded) as exc:
            notice = f'<p class="error">{html.escape(exc.full_message)}</p>'
            status = 429 if isinstance(exc, QuotaExceeded) else 400
            return HTMLResponse(_form_page(str(request.url.path), notice, **values), status)
        return HTMLResponse(_PAGE.format(title="Thank you", body=f"<p>{html.escape(answer)}</p>"))

    @router.post("/api/v1/registrations", status_code=202)
    def apply(body: ApplicationIn, request: Request) -> dict[str, str]:
        source = request.client.host if request.client else "unknown"
        answer = service.apply(Application(body.uid, body.email, body.given_name, body.surname,
                                           body.password, None, body.cert_dn, body.message,
                                           cert_chain_of(request.scope)),
                               source=source)
        return {"status": "received", "message": answer}

    @router.get("/api/v1/registrations")
    def pending(caller: Principal = caller_dep) -> list[dict[str, Any]]:
        return [_person(u) for u in service.pending(caller)]

    @router.post("/api/v1/registrations/{uid}/approve")
    def approve(uid: str, caller: Principal = caller_dep) -> dict[str, Any]:
        return {"uid": uid, "status": "approved", "mailed": service.approve(uid, admin=caller)}

    @router.post("/api/v1/registrations/{uid}/reject")
    def reject(uid: str, body: Decision | None = None,
               caller: Principal = caller_dep) -> dict[str, Any]:
        mailed = service.reject(uid, admin=caller, reason=body.reason if body else "")
        return {"uid": uid, "status": "rejected", "mailed": mailed}

    return router
