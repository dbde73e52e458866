"""An agent's link to its front end: reports (heartbeat, capacity, VM states) pushed over HTTPS
with the host's certificate; the front end's certificate must chain to the cloud CA."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from stratuslab.core.errors import Unavailable
from stratuslab.core.nodewire import AgentReport, encode, error_from

REPORT_TIMEOUT = 10.0


class FrontEndLink:
    def __init__(self, server: str, *, ca: Path, cert: Path, key: Path) -> None:
        self.server = server.rstrip("/")
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
        context.load_cert_chain(str(cert), str(key))
        self._client = httpx.Client(verify=context, timeout=REPORT_TIMEOUT)

    def report(self, report: AgentReport) -> None:
        try:
            answer = self._client.post(f"{self.server}/api/v1/agent/report", json=encode(report))
        except httpx.HTTPError as exc:
            raise Unavailable(f"the front end at {self.server} does not answer: {exc}") from None
        if answer.status_code != 200:
            try:
                err = answer.json().get("error") or {}
            except ValueError:
                err = {}
            raise error_from(str(err.get("kind", "unavailable")),
                             str(err.get("message", f"HTTP {answer.status_code}")),
                             str(err.get("hint", "")))

    def close(self) -> None:
        self._client.close()
