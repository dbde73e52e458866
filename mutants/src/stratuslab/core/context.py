"""The request id of the operation being carried out, across threads and layers.

A front end binds the id of each request (the client's X-Request-ID, or a new one); a job
created while it is bound records it, and the job runner binds it again while the job runs, so
every log line of one operation -- API, job steps, driver commands -- carries the same id.
Standard library only.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_REQUEST_ID: ContextVar[str | None] = ContextVar("stratuslab_request_id", default=None)
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


def new_request_id() -> str:
    return "req-" + secrets.token_hex(8)


def acceptable_request_id(given: str | None) -> str:
    """A client-chosen id if it is short and plain (it lands in logs), else a new one."""
    return given if given and _SAFE.match(given) else new_request_id()


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[None]:
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)
