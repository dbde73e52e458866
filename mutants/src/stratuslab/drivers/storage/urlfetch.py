"""Downloads of user-supplied URLs without server-side request forgery.

A URL a user gives (an image to import) must never make the server reach itself, its node
agents, a cloud metadata service or the site's private network.  `UrlFetcher.chunks(url)`:

- accepts http and https only;
- resolves the host once and refuses it when any address is not globally routable (loopback,
  private, link-local — which holds 169.254.169.254 —, carrier-grade NAT, multicast, reserved,
  unspecified, IPv4-mapped forms of those), unless the admin setting `allow_hosts` names the
  host; then connects to exactly the address it checked (no second lookup that DNS rebinding
  could answer differently; TLS still verifies the certificate against the host name);
- follows at most `max_redirects` redirects itself, checking every hop the same way;
- stops past `max_bytes` (the announced Content-Length is checked first) or `max_seconds`.

Every failure raises the same `DownloadRefused` message whatever the cause, so the answer is no
oracle of what listens where; the cause goes to the server log for the admin.  Imports core and
httpx only.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from stratuslab.core.errors import InvalidInput

log = logging.getLogger(__name__)
CHUNK = 1 << 20
Resolver = Callable[[str, int], Sequence[str]]


class DownloadRefused(InvalidInput):
    """One message for every way a user URL fails: refused address, unreachable, HTTP error,
    too large, too slow."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"image source {_printable(url)} could not be downloaded",
            hint="give an http(s) URL of a public server that answers 200 with the image "
            "within the size and time limits; an admin finds the cause in the server log",
        )


class _Refused(Exception):
    """The internal cause (logged, never shown to the user)."""


@dataclass(frozen=True)
class FetchLimits:
    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = 16 * 1024**3
    max_seconds: float = 3600.0
    max_redirects: int = 5
    connect_timeout: float = 15.0


def _printable(url: str) -> str:
    return "".join(c for c in url[:200] if c.isprintable())


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


class UrlFetcher:
    def __init__(
        self, limits: FetchLimits | None = None, *, resolver: Resolver = system_resolver,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.resolver = resolver
        self._allowed = {h.strip().lower().strip("[]") for h in self.limits.allow_hosts}

    def chunks(self, url: str) -> Iterator[bytes]:
        """The body of `url`, chunk by chunk, within the limits; DownloadRefused otherwise."""
        try:
            yield from self._follow(url)
        except (_Refused, httpx.HTTPError, OSError, ValueError, UnicodeError) as exc:
            log.warning("download of %s refused: %s", _printable(url), exc)
            raise DownloadRefused(url) from None

    def _follow(self, url: str) -> Iterator[bytes]:
        deadline = time.monotonic() + self.limits.max_seconds
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            target, host, address = self._check(current)
            timeout = httpx.Timeout(self.limits.connect_timeout, read=60.0)
            headers = {"Host": _host_header(current)}
            extensions = {"sni_hostname": host} if target.startswith("https:") else {}
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                request = client.build_request("GET", target, headers=headers,
                                               extensions=extensions)
                resp = client.send(request, stream=True)
                try:
                    if resp.is_redirect:
                        location = resp.headers.get("location", "")
                        current = urljoin(current, location)
                        continue
                    if resp.status_code != 200:
                        raise _Refused(f"{address} answered HTTP {resp.status_code}")
                    yield from self._body(resp, deadline)
                    return
                finally:
                    resp.close()
        raise _Refused(f"more than {self.limits.max_redirects} redirects")

    def _body(self, resp: httpx.Response, deadline: float) -> Iterator[bytes]:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise _Refused(f"announces {declared} bytes, over max_bytes {self.limits.max_bytes}")
        size = 0
        for chunk in resp.iter_raw(CHUNK):
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise _Refused(f"sent more than max_bytes {self.limits.max_bytes}")
            if time.monotonic() > deadline:
                raise _Refused(f"took longer than {self.limits.max_seconds} s")
            yield chunk

    def _check(self, url: str) -> tuple[str, str, str]:
        """(URL to request with the host replaced by the checked address, host, address)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise _Refused(f"scheme {parts.scheme!r} is not http or https")
        if parts.username or parts.password:
            raise _Refused("credentials in the URL")
        host = (parts.hostname or "").lower()
        if not host:
            raise _Refused("no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = list(self.resolver(host, port))
        if not addresses:
            raise _Refused(f"{host} has no address")
        if host not in self._allowed:
            bad = [a for a in addresses if not is_public(a)]
            if bad:
                raise _Refused(f"{host} resolves to non-public {bad[0]} (not in allow_hosts)")
        address = addresses[0].split("%", 1)[0]
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host, address


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]
