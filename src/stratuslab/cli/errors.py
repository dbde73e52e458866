"""The CLI's wire form of the error model: `Error: <object>; <way out>` on stderr and an exit
code by error kind, the same for errors of the server (the `kind` of the REST error body, else
the HTTP status) and errors raised in the client itself.

    0 success       2 usage (bad arguments or input)   3 not found
    4 conflict (state, duplicate, in use)   5 denied (authentication, permission, quota)
    6 unavailable (cloud unreachable, dependency not ready)   1 anything else
"""

from __future__ import annotations

from collections.abc import Mapping

import click
import httpx

from stratuslab.core.errors import CloudError, ErrorKind

EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_DENIED = 5
EXIT_UNAVAILABLE = 6

EXIT_BY_KIND: Mapping[str, int] = {
    ErrorKind.INVALID: EXIT_USAGE,
    ErrorKind.NOT_FOUND: EXIT_NOT_FOUND,
    ErrorKind.STATE: EXIT_CONFLICT,
    ErrorKind.CONFLICT: EXIT_CONFLICT,
    ErrorKind.QUOTA: EXIT_DENIED,
    ErrorKind.AUTHENTICATION: EXIT_DENIED,
    ErrorKind.FORBIDDEN: EXIT_DENIED,
    ErrorKind.UNAVAILABLE: EXIT_UNAVAILABLE,
    ErrorKind.DRIVER: EXIT_OTHER,
    ErrorKind.INTERNAL: EXIT_OTHER,
    ErrorKind.UNSUPPORTED: EXIT_OTHER,
}

EXIT_BY_STATUS: Mapping[int, int] = {
    400: EXIT_USAGE, 401: EXIT_DENIED, 403: EXIT_DENIED, 404: EXIT_NOT_FOUND,
    405: EXIT_USAGE, 409: EXIT_CONFLICT, 422: EXIT_USAGE, 502: EXIT_UNAVAILABLE,
    503: EXIT_UNAVAILABLE, 504: EXIT_UNAVAILABLE,
}


def exit_code(kind: str | None = None, status: int | None = None) -> int:
    """The exit code of an error of KIND (a CloudError kind), else of an HTTP STATUS."""
    if kind in EXIT_BY_KIND:
        return EXIT_BY_KIND[str(kind)]
    if status is not None:
        return EXIT_BY_STATUS.get(status, EXIT_OTHER)
    return EXIT_OTHER


class CliError(click.ClickException):
    """Printed as `Error: ...`; the exit code follows the error kind (module docstring)."""

    def __init__(self, message: str, *, kind: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        # click reads exit_code (declared a class variable) on the instance
        object.__setattr__(self, "exit_code", exit_code(kind, status))

    @classmethod
    def of(cls, exc: CloudError) -> CliError:
        return cls(exc.full_message, kind=exc.kind)


class Group(click.Group):
    """A command group whose commands' CloudErrors print as CLI errors with their exit codes."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CloudError as exc:
            raise CliError.of(exc) from exc
        except httpx.TransportError as exc:  # a command that talks HTTP by itself
            where = exc.request.url if exc._request is not None else "the cloud"
            raise CliError(f"cannot reach {where}: {exc}; check --endpoint and that "
                           "stratus-server runs", kind="unavailable") from exc
