"""One error tree for the whole cloud.

Every error has a kind (mapped to a wire form in exactly one place per front end), a message that
names the object and its state, and a hint that says the way out.  Must not import anything but
the standard library.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    INVALID = "invalid"  # malformed or out-of-range input
    NOT_FOUND = "not_found"  # no such object (or not visible to the caller)
    STATE = "state"  # object is in a state that does not allow the action
    CONFLICT = "conflict"  # concurrent change, duplicate name, object in use
    QUOTA = "quota"  # quota exceeded
    AUTHENTICATION = "authentication"
    FORBIDDEN = "forbidden"
    DRIVER = "driver"  # a backend (hypervisor, storage, network) failed
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"  # a dependency is not ready (schema, node)
    UNSUPPORTED = "unsupported"  # a request this cloud does not implement (yet)


class CloudError(Exception):
    """Base of every error a user may see."""

    kind: ClassVar[ErrorKind] = ErrorKind.INTERNAL
    template: ClassVar[str] = "{message}"
    hint_template: ClassVar[str] = ""

    def __init__(self, message: str | None = None, *, hint: str | None = None, **fields: Any):
        self.fields = fields
        if message is None:
            message = self.template.format(**fields)
        if hint is None and self.hint_template:
            hint = self.hint_template.format(**fields)
        self.message = message
        self.hint = hint or ""
        super().__init__(self.full_message)

    @property
    def full_message(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class InvalidInput(CloudError):
    kind = ErrorKind.INVALID


class NotFound(CloudError):
    kind = ErrorKind.NOT_FOUND
    template = "{what} {ident} does not exist"
    hint_template = "list them with: {listing}"

    def __init__(self, what: str, ident: object, listing: str = "stratus describe-instance"):
        super().__init__(what=what, ident=ident, listing=listing)


class InvalidState(CloudError):
    kind = ErrorKind.STATE
    template = "{what} {name} is {state}; cannot {action} (allowed from: {allowed})"


class Conflict(CloudError):
    kind = ErrorKind.CONFLICT


class QuotaExceeded(CloudError):
    kind = ErrorKind.QUOTA


class AuthenticationFailed(CloudError):
    kind = ErrorKind.AUTHENTICATION
    template = "authentication failed"
    hint_template = "check the user name and password (or certificate) given to the client"


class Forbidden(CloudError):
    kind = ErrorKind.FORBIDDEN


class DriverError(CloudError):
    """A backend failed; the message carries the backend's own text (e.g. QEMU's stderr)."""

    kind = ErrorKind.DRIVER


class Unavailable(CloudError):
    kind = ErrorKind.UNAVAILABLE


class Unsupported(CloudError):
    """A valid request that this cloud does not implement (yet); `what` names the feature."""

    kind = ErrorKind.UNSUPPORTED
    template = "{what} is not supported by this cloud yet"

    def __init__(self, what: str, *, hint: str | None = None):
        super().__init__(hint=hint, what=what)
