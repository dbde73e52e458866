"""The one HTTP status of each CloudError kind, for every HTTP front end (REST, OCCI, the
marketplace, registration, the classic endpoints).  XML-RPC and the CLI have their own wire
forms (OpenNebula codes, exit codes).  Imports only core.
"""

from __future__ import annotations

from collections.abc import Mapping

from stratuslab.core.errors import CloudError, ErrorKind

STATUS: Mapping[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.STATE: 409,
    ErrorKind.CONFLICT: 409,
    ErrorKind.QUOTA: 403,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.DRIVER: 502,  # a backend (QEMU, tgt, dnsmasq...) failed: a bad gateway
    ErrorKind.INTERNAL: 500,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.UNSUPPORTED: 501,
}


def http_status(exc: CloudError) -> int:
    return STATUS.get(exc.kind, 500)
