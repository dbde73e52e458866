"""`stratus registration list|approve UID|reject UID --reason TEXT` (administrators).

Talks to the registration REST API (/api/v1/registrations) that the server offers when LDAP is
configured.  Never import drivers, persistence or settings.
"""

from __future__ import annotations

import click

from stratuslab.cli.client import Api
from stratuslab.cli.output import print_json, print_table, wide_option


def _api(ctx: click.Context) -> Api:
    return ctx.obj.api  # type: ignore[no-any-return]


@click.group("registration")
def registration() -> None:
    """Pending account applications (admin)."""


@registration.command("list")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@click.pass_context
def registration_list(ctx: click.Context, as_json: bool) -> None:
    rows = _api(ctx).get("/api/v1/registrations")
    if as_json:
        print_json(rows)
        return
    for r in rows:
        r["name"] = f"{r.get('given_name') or ''} {r.get('surname') or ''}".strip()
        r["dns"] = ", ".join(r.get("cert_dns") or [])
    print_table(rows, [("uid", "uid"), ("email", "email"), ("name", "name"),
                       ("certificate", "dns"), ("message", "message")])


@registration.command("approve")
@click.argument("uid")
@click.pass_context
def registration_approve(ctx: click.Context, uid: str) -> None:
    """Activate UID, add it to cloud-access and mail them."""
    answer = _api(ctx).post(f"/api/v1/registrations/{uid}/approve")
    mailed = "" if answer.get("mailed") else " (the applicant could not be mailed)"
    click.echo(f"{uid} approved{mailed}")


@registration.command("reject")
@click.argument("uid")
@click.option("--reason", default="", help="told to the applicant")
@click.pass_context
def registration_reject(ctx: click.Context, uid: str, reason: str) -> None:
    """Delete the application of UID and mail them the reason."""
    answer = _api(ctx).post(f"/api/v1/registrations/{uid}/reject", json={"reason": reason})
    mailed = "" if answer.get("mailed") else " (the applicant could not be mailed)"
    click.echo(f"{uid} rejected{mailed}")


COMMANDS: list[click.Command] = [registration]
