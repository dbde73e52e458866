"""Representations of marketplace entries and endorsers: XML (signed originals), JSON and HTML.

Every link is relative, so the app works at `/` (standalone) and under `/marketplace`
(all-in-one).  Imports core only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from stratuslab.core.marketplace import EndorserSummary, EntryPage, StoredEntry, format_date

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>\s*")


def entry_json(stored: StoredEntry) -> dict[str, Any]:
    e = stored.entry
    return {
        "identifier": e.identifier,
        "email": e.email,
        "created": format_date(e.created),
        "subject": e.endorsement.endorser.subject,
        "issuer": e.endorsement.endorser.issuer,
        "latest": stored.latest,
        "valid": format_date(e.valid_until) if e.valid_until else None,
        "deprecated": e.deprecated,
        "type": e.type,
        "kind": e.kind,
        "os": e.os,
        "os_version": e.os_version,
        "arch": e.arch,
        "format": e.format,
        "compression": e.compression,
        "bytes": e.bytes,
        "checksums": {c.algorithm: c.value for c in e.checksums},
        "locations": list(e.locations),
        "title": e.title,
        "description": e.description,
        "version": e.version,
        "tags": list(e.tags),
        "inbound_ports": list(e.inbound_ports),
        "path": f"metadata/{entry_path(stored)}",
    }


def entry_path(stored: StoredEntry) -> str:
    e = stored.entry
    return f"{e.identifier}/{quote(e.email, safe='@')}/{format_date(e.created)}"


def page_json(page: EntryPage) -> dict[str, Any]:
    return {
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "entries": [entry_json(s) for s in page.entries],
    }


def entries_xml(entries: Sequence[StoredEntry]) -> bytes:
    """The signed originals, concatenated inside <metadata> (what the original server answered)."""
    parts = [b"<?xml version='1.0' encoding='UTF-8'?>\n<metadata>\n"]
    for stored in entries:
        parts.append(_XML_DECL.sub(b"", stored.raw).rstrip() + b"\n")
    parts.append(b"</metadata>\n")
    return b"".join(parts)


def endorser_json(summary: EndorserSummary) -> dict[str, Any]:
    return {
        "email": summary.email,
        "subject": summary.subject,
        "issuer": summary.issuer,
        "entries": summary.entries,
        "last_created": format_date(summary.last_created) if summary.last_created else None,
    }


def endorsers_xml(summaries: Sequence[EndorserSummary]) -> bytes:
    rows = "".join(
        f"<endorser><email>{_x(s.email)}</email><subject>{_x(s.subject)}</subject>"
        f"<issuer>{_x(s.issuer)}</issuer><entries>{s.entries}</entries></endorser>\n"
        for s in summaries
    )
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<endorsers>\n{rows}</endorsers>\n".encode()


def _x(text: str) -> str:
    return html.escape(text, quote=True)


_STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#eee}"
)


def html_page(title: str, body: str, *, prefix: str = "") -> str:
    """`prefix` leads from the current path back to the app root (e.g. "../../")."""
    nav = (
        f'<p><a href="{prefix}">home</a> · <a href="{prefix}metadata?format=html">images</a> · '
        f'<a href="{prefix}endorsers?format=html">endorsers</a></p>'
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_x(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{_x(title)}</h1>{nav}{body}</body></html>"
    )


def html_search_form(prefix: str = "") -> str:
    return (
        f'<form action="{prefix}metadata" method="get"><input type="hidden" name="format" '
        'value="html">search <input name="q"> os <input name="os" size="8"> arch '
        '<input name="arch" size="6"> status <select name="status"><option>valid</option>'
        "<option>expired</option><option>deprecated</option><option>all</option></select> "
        '<button type="submit">search</button></form>'
    )


def html_entries(entries: Sequence[StoredEntry], *, prefix: str = "", total: int | None = None) -> str:
    head = "<tr><th>identifier</th><th>title</th><th>os</th><th>arch</th><th>kind</th>" \
           "<th>endorser</th><th>created</th><th>valid until</th><th>status</th></tr>"
    rows = []
    for s in entries:
        e = s.entry
        status = f"deprecated: {e.deprecated}" if e.deprecated is not None else (
            "latest" if s.latest else "superseded")
        rows.append(
            f'<tr><td><a href="{prefix}metadata/{entry_path(s)}?format=html">{_x(e.identifier)}</a>'
            f"</td><td>{_x(e.title)}</td><td>{_x(e.os)} {_x(e.os_version)}</td><td>{_x(e.arch)}</td>"
            f"<td>{_x(e.kind)}</td><td>{_x(e.email)}</td><td>{format_date(e.created)}</td>"
            f"<td>{format_date(e.valid_until) if e.valid_until else ''}</td><td>{_x(status)}</td></tr>"
        )
    count = f"<p>{total} entries</p>" if total is not None else ""
    return f"{count}<table>{head}{''.join(rows)}</table>"


def html_entry(stored: StoredEntry, *, prefix: str = "") -> str:
    data = entry_json(stored)
    rows = "".join(
        f"<tr><th>{_x(k)}</th><td>{_x(str(v))}</td></tr>" for k, v in data.items() if k != "path"
    )
    raw = f'<p><a href="{prefix}metadata/{entry_path(stored)}">signed original (XML)</a></p>'
    return f"<table>{rows}</table>{raw}"


def html_endorsers(summaries: Sequence[EndorserSummary], *, prefix: str = "") -> str:
    rows = "".join(
        f'<tr><td><a href="{prefix}endorsers/{quote(s.email, safe="@")}?format=html">'
        f"{_x(s.email)}</a></td><td>{_x(s.subject)}</td><td>{_x(s.issuer)}</td>"
        f"<td>{s.entries}</td></tr>"
        for s in summaries
    )
    return f"<table><tr><th>email</th><th>subject</th><th>issuer</th><th>entries</th></tr>{rows}</table>"
