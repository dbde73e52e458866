"""Marketplace commands of the `stratus` CLI (also usable as classic `stratus-*` scripts).

build/sign/validate run locally through the marketplace services; the others talk to a
marketplace over HTTP with httpx: `--marketplace URL`, else STRATUSLAB_MARKETPLACE_ENDPOINT or
`marketplace_endpoint` of the user config, else `<endpoint>/marketplace`.  Errors print
`Error: …` and exit non-zero.  Imports core, services and cli.config only; never drivers,
persistence or settings.  `COMMANDS` lists the commands for the main group.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from stratuslab.cli.config import load as load_config
from stratuslab.cli.errors import CliError
from stratuslab.cli.output import print_table, wide_option
from stratuslab.cli.progress import follow_job
from stratuslab.core.errors import CloudError
from stratuslab.core.marketplace import IDENTIFIER_RE, format_date
from stratuslab.services.marketplace import build, rdf, xmldsig
from stratuslab.services.marketplace.trust import SigningCredentials, TrustStore

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_ENDPOINT = "http://127.0.0.1:8080"


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(exc: CloudError) -> CliError:
    return CliError.of(exc)


def marketplace_url(ctx: click.Context, option: str | None) -> str:
    """--marketplace, else `marketplace_endpoint` of the user config, else <endpoint>/marketplace."""
    if option:
        return option.rstrip("/")
    obj = ctx.find_root().obj
    config = getattr(obj, "config", None) or load_config({})
    explicit = config.get("marketplace_endpoint")
    if explicit:
        return str(explicit).rstrip("/")
    return str(config.get("endpoint") or DEFAULT_ENDPOINT).rstrip("/") + "/marketplace"


def _marketplace_option(f: F) -> F:
    return click.option(
        "--marketplace", "marketplace", envvar="STRATUSLAB_MARKETPLACE_ENDPOINT",
        help="marketplace URL (default: <endpoint>/marketplace)",
    )(f)


def _signing_options(f: F) -> F:
    for opt in reversed([
        click.option("--p12-cert", type=click.Path(exists=True, dir_okay=False), help="PKCS#12 file"),
        click.option("--p12-password", default="", help="password of the PKCS#12 file"),
        click.option("--pem-key", type=click.Path(exists=True, dir_okay=False)),
        click.option("--pem-cert", type=click.Path(exists=True, dir_okay=False)),
        click.option("--pem-password", default=None, help="password of an encrypted PEM key"),
    ]):
        f = opt(f)
    return f


def _credentials(p12_cert: str | None, p12_password: str, pem_key: str | None,
                 pem_cert: str | None, pem_password: str | None) -> SigningCredentials:
    if p12_cert:
        return SigningCredentials.from_pkcs12(Path(p12_cert).read_bytes(), p12_password)
    if pem_key and pem_cert:
        return SigningCredentials.from_pem(
            Path(pem_key).read_bytes(), Path(pem_cert).read_bytes(), pem_password)
    raise click.UsageError("give --p12-cert/--p12-password, or --pem-key and --pem-cert")


def _http_error(url: str, resp: httpx.Response) -> CliError:
    """The marketplace's own message when it answered one, else the URL and the way out."""
    text = resp.text.strip()
    if resp.headers.get("content-type", "").startswith("application/json"):
        try:
            body = resp.json()
            err = body.get("error") if isinstance(body, dict) else None
            if isinstance(err, dict) and err.get("message"):
                hint = f"; {err['hint']}" if err.get("hint") else ""
                return CliError(f"{err['message']}{hint}", kind=err.get("kind"),
                                status=resp.status_code)
            text = ""  # e.g. {"detail": "Not Found"}: no route there
        except ValueError:
            pass
    if text and not text.startswith("<") and resp.status_code != 404:
        return CliError(f"{url}: {text[:500]}", status=resp.status_code)
    return CliError(
        f"{url} answered HTTP {resp.status_code} {resp.reason_phrase}; check --marketplace "
        "(or marketplace_endpoint in the user configuration): it is the marketplace's base URL, "
        "e.g. http://HOST:PORT/marketplace", status=resp.status_code)


def _request(method: str, url: str, **kw: Any) -> httpx.Response:
    try:
        resp = httpx.request(method, url, timeout=60.0, **kw)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the marketplace at {url} ({exc}); check --marketplace",
                       kind="unavailable") from exc
    if resp.status_code >= 400:
        raise _http_error(url, resp)
    return resp


@click.command("build-metadata")
@click.argument("imagefile", type=click.Path(exists=True, dir_okay=False))
@click.option("--location", "locations", multiple=True, required=True, help="URL of the image (repeatable)")
@click.option("--email", required=True, help="endorser email")
@click.option("--os", "os_", default="", help="operating system, e.g. debian")
@click.option("--os-version", default="")
@click.option("--arch", default="x86_64")
@click.option("--kind", type=click.Choice(["machine", "disk"]), default="machine")
@click.option("--format", "fmt", type=click.Choice(["", "raw", "qcow2"]), default="", help="default: from the file name")
@click.option("--title", default="")
@click.option("--description", default="")
@click.option("--tag", "tags", multiple=True, help="tag (dcterms:alternative), repeatable")
@click.option("--inbound-port", "ports", multiple=True, type=int)
@click.option("--valid-days", type=int, default=182, help="validity of the endorsement")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="default: IMAGEFILE.xml")
def build_metadata(imagefile: str, locations: tuple[str, ...], email: str, os_: str,
                   os_version: str, arch: str, kind: str, fmt: str, title: str, description: str,
                   tags: tuple[str, ...], ports: tuple[int, ...], valid_days: int,
                   output: str | None) -> None:
    """Write the unsigned metadata entry of IMAGEFILE (the very bytes the locations serve: its
    size, checksums and compression, read from its first bytes) and print its path."""
    with open(imagefile, "rb") as fh:
        head = fh.read(8)
        fh.seek(0)
        size, checksums = build.digest_stream(fh)
    name = os.path.basename(imagefile)
    try:
        compression = build.compression_for(name, head, locations)
        entry = build.new_entry(
            size, checksums, email=email, now=_now(), validity=timedelta(days=valid_days),
            os=os_, os_version=os_version, arch=arch, kind=kind, format=fmt or build.format_of(name),
            compression=compression, locations=locations, title=title,
            description=description, tags=tags, inbound_ports=ports)
        doc = rdf.build_document(entry)
        rdf.parse_entry(doc)
    except CloudError as exc:
        raise _fail(exc) from exc
    path = Path(output or imagefile + ".xml")
    path.write_bytes(doc)
    click.echo(str(path))


@click.command("sign-metadata")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_signing_options
@click.option("--email", default=None, help="endorser email if the certificate carries none")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="default: sign in place")
def sign_metadata(file: str, p12_cert: str | None, p12_password: str, pem_key: str | None,
                  pem_cert: str | None, pem_password: str | None, email: str | None,
                  output: str | None) -> None:
    """Sign FILE (enveloped XML-DSig, RSA-SHA256) in place."""
    try:
        creds = _credentials(p12_cert, p12_password, pem_key, pem_cert, pem_password)
        signed = xmldsig.sign_document(Path(file).read_bytes(), creds, now=_now(), email=email)
    except CloudError as exc:
        raise _fail(exc) from exc
    Path(output or file).write_bytes(signed)
    click.echo(output or file)


@click.command("validate-metadata")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--ca-dir", envvar="X509_CERT_DIR", default="/etc/grid-security/certificates",
              show_default=True, help="trusted CA certificates (hashed or plain PEM)")
def validate_metadata(file: str, ca_dir: str) -> None:
    """Check FILE's format, signature, certificate chain and endorser."""
    raw = Path(file).read_bytes()
    try:
        if Path(ca_dir).is_dir():
            trust, note = TrustStore.from_directory(ca_dir), f"chain verified against {ca_dir}"
        else:
            trust = TrustStore((xmldsig.embedded_signer(raw),))
            note = f"certificate chain NOT checked (no CA directory {ca_dir})"
        verified = xmldsig.verify_document(raw, trust, now=_now())
    except CloudError as exc:
        raise _fail(exc) from exc
    e = verified.entry
    click.echo(f"valid: {e.identifier} endorsed by {e.email} on {e.key().split('/')[-1]} "
               f"({verified.signature_method}; {note})")


@click.command("upload-metadata")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_marketplace_option
@click.pass_context
def upload_metadata(ctx: click.Context, file: str, marketplace: str | None) -> None:
    """Upload signed FILE; print the URL of the new entry."""
    url = marketplace_url(ctx, marketplace) + "/metadata"
    resp = _request("POST", url, content=Path(file).read_bytes(),
                    headers={"Content-Type": "application/rdf+xml"})
    click.echo(resp.headers.get("Location", resp.text.strip()))


@click.command("deprecate-metadata")
@click.argument("identifier")
@click.option("--email", required=True, help="endorser whose latest entry is deprecated")
@click.option("--reason", default="This image has been deprecated", show_default=True)
@_signing_options
@_marketplace_option
@click.pass_context
def deprecate_metadata(ctx: click.Context, identifier: str, email: str, reason: str,
                       p12_cert: str | None, p12_password: str, pem_key: str | None,
                       pem_cert: str | None, pem_password: str | None,
                       marketplace: str | None) -> None:
    """Re-sign the latest entry of IDENTIFIER by EMAIL as deprecated and upload it."""
    base = marketplace_url(ctx, marketplace)
    creds = _credentials(p12_cert, p12_password, pem_key, pem_cert, pem_password)
    listing = _request("GET", f"{base}/metadata/{identifier}/{email}",
                       params={"status": "all", "limit": "1"}, headers={"Accept": "application/json"})
    latest = listing.json()["entries"][0]
    raw = _request("GET", f"{base}/{latest['path']}", headers={"Accept": "application/xml"}).content
    try:
        signed = xmldsig.sign_document(xmldsig.mark_deprecated(raw, reason), creds, now=_now(), email=email)
    except CloudError as exc:
        raise _fail(exc) from exc
    resp = _request("POST", f"{base}/metadata", content=signed,
                    headers={"Content-Type": "application/rdf+xml"})
    click.echo(resp.headers.get("Location", resp.text.strip()))


def _print_table(entries: list[dict[str, Any]]) -> None:
    if not entries:
        click.echo("no matching image")
        return
    rows = [{**e, "osv": f"{e['os']} {e['os_version']}".strip()} for e in entries]
    print_table(rows, [("IDENTIFIER", "identifier"), ("OS", "osv"), ("ARCH", "arch"),
                       ("KIND", "kind"), ("ENDORSER", "email"), ("CREATED", "created"),
                       ("TITLE", "title")])


def _listed(e: dict[str, Any]) -> dict[str, Any]:
    """An entry with the listing contract's id, name, state and owner first."""
    now = format_date(_now())
    state = ("deprecated" if e.get("deprecated") is not None
             else "expired" if e.get("valid") and str(e["valid"]) < now else "valid")
    return {"id": e["identifier"], "name": e.get("title"), "state": state,
            "owner": e.get("email"), **e}


def _search(ctx: click.Context, marketplace: str | None, params: dict[str, Any],
            as_json: bool = False) -> None:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    resp = _request("GET", marketplace_url(ctx, marketplace) + "/metadata", params=clean,
                    headers={"Accept": "application/json"})
    if as_json:
        click.echo(json.dumps([_listed(e) for e in resp.json()["entries"]], indent=2))
    else:
        _print_table(resp.json()["entries"])


@click.command("list-images")
@click.option("--status", type=click.Choice(["valid", "expired", "deprecated", "latest", "all"]), default="valid")
@click.option("--limit", type=int, default=100)
@click.option("--offset", type=int, default=0)
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@_marketplace_option
@click.pass_context
def list_images(ctx: click.Context, status: str, limit: int, offset: int, as_json: bool,
                marketplace: str | None) -> None:
    """List marketplace images (latest valid entries by default)."""
    _search(ctx, marketplace, {"status": status, "limit": limit, "offset": offset}, as_json)


@click.command("search-image")
@click.option("--os", "os_")
@click.option("--arch", "-a")
@click.option("--kind", type=click.Choice(["machine", "disk"]))
@click.option("--email", "-e", "endorser", help="endorser email")
@click.option("--tag")
@click.option("--description", "-d", "text", help="free text (title, description, os, tags)")
@click.option("--status", type=click.Choice(["valid", "expired", "deprecated", "latest", "all"]), default="valid")
@click.option("--limit", type=int, default=100)
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@_marketplace_option
@click.pass_context
def search_image(ctx: click.Context, os_: str | None, arch: str | None, kind: str | None,
                 endorser: str | None, tag: str | None, text: str | None, status: str,
                 limit: int, as_json: bool, marketplace: str | None) -> None:
    """Search marketplace images."""
    _search(ctx, marketplace, {"os": os_, "arch": arch, "kind": kind, "endorser": endorser,
                               "tag": tag, "q": text, "status": status, "limit": limit}, as_json)


@click.command("show-image")
@click.argument("identifier")
@_marketplace_option
@click.pass_context
def show_image(ctx: click.Context, identifier: str, marketplace: str | None) -> None:
    """Show the entries of one image (all statuses, latest per endorser)."""
    resp = _request("GET", f"{marketplace_url(ctx, marketplace)}/metadata/{identifier}",
                    params={"status": "latest"}, headers={"Accept": "application/json"})
    click.echo(json.dumps(resp.json()["entries"], indent=2))


@click.command("policy-image")
@click.argument("identifier")
@click.option("--marketplace", "marketplace", help="ask this marketplace's own policy instead of "
              "the cloud's (default: the cloud's site policy)")
@click.pass_context
def policy_image(ctx: click.Context, identifier: str, marketplace: str | None) -> None:
    """Explain the site policy's verdict on IDENTIFIER."""
    if marketplace:
        data = _request("GET", f"{marketplace.rstrip('/')}/policy/{identifier}",
                        headers={"Accept": "application/json"}).json()
    else:
        data = ctx.obj.api.get(f"/api/v1/images/marketplace/{identifier}/policy")
    for v in data["verdicts"]:
        word = "allowed" if v["allowed"] else "refused"
        signer = f" ({v['signer']}{'' if v.get('verified', True) else ', unverified'})" \
            if v.get("signer") else ""
        click.echo(f"{identifier} by {v['email']}{signer}: {word}: {'; '.join(v['reasons'])}")
    if not data["allowed"]:
        raise CliError(
            f"image {identifier} isn't valid according to site policy (reasons above); "
            "ask its endorser for a signed, unexpired entry, or have the cloud administrator "
            "admit it in the [policy] section of stratus-server (whitelists and blacklists)",
            kind="forbidden")


def is_marketplace_id(text: str) -> bool:
    return bool(IDENTIFIER_RE.match(text))


def fetch_image(api: Any, identifier: str, *, kernel_image: int | None = None) -> int:
    """Have the cloud verify and (once per node) download IDENTIFIER; its cloud image id.

    Shows a progress bar (a line per step when stderr is not a terminal)."""
    made = api.post(f"/api/v1/images/marketplace/{identifier}",
                    json={"kernel_image": kernel_image})
    if made.get("image"):
        return int(made["image"]["id"])
    job = follow_job(api, made["job"]["id"], identifier)
    if job["state"] != "done" or not job.get("image_id"):
        raise CliError(
            f"marketplace image {identifier} was not imported: {job.get('error') or job['state']}")
    return int(job["image_id"])


@click.command("import-image")
@click.argument("identifier")
@click.option("--kernel-image", type=int, help="boot the disk with the kernel, initrd and command "
              "line of this cloud image (disks without a boot loader)")
@click.pass_context
def import_image(ctx: click.Context, identifier: str, kernel_image: int | None) -> None:
    """Verify, apply the site policy to and download marketplace image IDENTIFIER; print the
    cloud image id (run-instance IDENTIFIER does this by itself)."""
    click.echo(str(fetch_image(ctx.obj.api, identifier, kernel_image=kernel_image)))


COMMANDS: list[click.Command] = [
    build_metadata, sign_metadata, validate_metadata, upload_metadata, deprecate_metadata,
    list_images, show_image, search_image, policy_image, import_image,
]
