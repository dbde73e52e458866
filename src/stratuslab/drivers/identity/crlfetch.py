"""Fetching a CRL from a CA's distribution point over http(s).

The URLs come from the site's own CA directory (certificate extensions, `.crl_url` files), so
they are the operator's, not a user's; the body is still capped and the call timed out, and a
failure is a `DriverError` naming the URL.  Imports core and httpx only.
"""

from __future__ import annotations

import httpx

from stratuslab.core.errors import DriverError

CHUNK = 64 * 1024


class HttpCrlFetcher:
    def __init__(self, *, timeout: float = 20.0, max_bytes: int = 32 * 1024 * 1024,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.transport = transport

    def fetch(self, url: str) -> bytes:
        """The body of `url` (DER or PEM; the caller parses and checks it)."""
        if not url.lower().startswith(("http://", "https://")):
            raise DriverError(f"CRL location {url} is not an http(s) URL")
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport,
                              follow_redirects=True) as client, \
                    client.stream("GET", url) as resp:
                resp.raise_for_status()
                chunks, size = [], 0
                for chunk in resp.iter_bytes(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise DriverError(f"CRL at {url} is larger than {self.max_bytes} bytes; "
                                          "refused")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise DriverError(f"cannot fetch the CRL at {url} ({exc})",
                              hint="check that the CA's distribution point answers") from exc
