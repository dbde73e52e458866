"""Keeping the CRLs of trusted CAs fresh, for both trust stores of the cloud: the login chain's
(`x509/trust.py`, `[auth.x509]`) and the marketplace's (`services/marketplace/trust.py`).

`CrlRefresher.refresh()` (a `PeriodicWorker` round, every `crl_refresh` seconds of the store's
section, and once at start) fetches, for every CA of the trust store that publishes a CRL, the
list from its first location that answers, keeps it only when it is issued and signed by that CA
and newer than the one at hand, and writes it atomically into the fetched-CRL directory, which the
trust store reads beside the CA directory.  A failed fetch keeps the old list (which fails closed
once past its nextUpdate) and is reported.  Imports core, `cryptography` and the sibling CRL
module only; the HTTP fetch comes by constructor (`CrlFetcher`).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from stratuslab.core.errors import CloudError, Unavailable
from stratuslab.services.auth.x509.crl import CRL, crl_for, load_crl
from stratuslab.services.periodic import PeriodicWorker

log = logging.getLogger(__name__)


class CrlFetcher(Protocol):
    def fetch(self, url: str) -> bytes:
        """The body at `url`; raises CloudError when it cannot be fetched."""
        ...


class CrlSource(Protocol):
    """What the refresher reads of a trust store (both stores of the cloud have it)."""

    @property
    def cas(self) -> Sequence[x509.Certificate]: ...
    @property
    def crls(self) -> Sequence[CRL]: ...
    @property
    def crl_urls(self) -> Mapping[bytes, tuple[str, ...]]: ...


def _dn(name: x509.Name) -> str:
    return name.rfc4514_string()


@dataclass
class RefreshReport:
    updated: list[str] = field(default_factory=list)  # CA subjects with a newer CRL
    failed: list[str] = field(default_factory=list)  # "<CA>: <why>"


def crl_file_name(ca: x509.Certificate) -> str:
    return hashlib.sha256(ca.subject.public_bytes()).hexdigest()[:16] + ".crl"


class CrlRefresher:
    def __init__(self, trust: Callable[[], CrlSource], fetcher: CrlFetcher,
                 directory: Path) -> None:
        self.trust = trust
        self.fetcher = fetcher
        self.directory = directory

    def worker(self, name: str, every: int) -> PeriodicWorker:
        """The worker that refreshes at start, then every `every` seconds (with some jitter)."""
        return PeriodicWorker(name, self.refresh, interval=every, jitter=min(60.0, every / 10),
                              run_first=True)

    def refresh(self) -> RefreshReport:
        report = RefreshReport()
        store = self.trust()
        for ca in store.cas:
            urls = store.crl_urls.get(ca.subject.public_bytes(), ())
            if not urls:
                continue
            try:
                if self._refresh_one(ca, urls, store):
                    report.updated.append(_dn(ca.subject))
            except CloudError as exc:
                report.failed.append(f"{_dn(ca.subject)}: {exc.full_message}")
                log.warning("CRL of CA %s not refreshed: %s", _dn(ca.subject), exc.full_message)
        return report

    def _refresh_one(self, ca: x509.Certificate, urls: tuple[str, ...],
                     store: CrlSource) -> bool:
        problems: list[str] = []
        for url in urls:
            try:
                crl = load_crl(self.fetcher.fetch(url))
            except CloudError as exc:
                problems.append(exc.message)
                continue
            except ValueError as exc:
                problems.append(f"{url} sent no CRL ({exc})")
                continue
            if crl_for((crl,), ca) is None:
                problems.append(f"the CRL at {url} is not issued and signed by this CA")
                continue
            held = crl_for(store.crls, ca)
            if held is not None and held.last_update_utc >= crl.last_update_utc:
                return False  # nothing newer
            self._write(ca, crl)
            return True
        raise Unavailable("; ".join(problems) or "no location answered")

    def _write(self, ca: x509.Certificate, crl: x509.CertificateRevocationList) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / crl_file_name(ca)
        partial = final.with_suffix(".partial")
        partial.write_bytes(crl.public_bytes(Encoding.PEM))
        os.replace(partial, final)
        log.info("CRL of CA %s refreshed (issued %s)", _dn(ca.subject), crl.last_update_utc)
