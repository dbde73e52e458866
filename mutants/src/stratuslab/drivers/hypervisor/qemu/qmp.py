"""QMP conversations with a VM's QEMU, through the `qemu.qmp` library, every step bounded in time.

`QmpSession` is a short synchronous conversation (connect, a few commands, maybe wait for an
event, disconnect) on its own private event loop, so any thread may hold one.  `open_client` is
the asynchronous connect the watcher threads use.  Library errors become `DriverError`s that
name the VM.  Unix socket paths longer than the kernel's limit are reached through
/proc/self/fd/<directory fd>/<name>.

Imports only the standard library, `qemu.qmp` and `core`.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from qemu.qmp import QMPClient, QMPError

from stratuslab.core.errors import DriverError

SUN_PATH_MAX = 100
Event = Mapping[str, Any]


def _connect_unix(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if len(str(path)) < SUN_PATH_MAX:
            sock.connect(str(path))
        else:
            dirfd = os.open(path.parent, os.O_PATH)
            try:
                sock.connect(f"/proc/self/fd/{dirfd}/{path.name}")
            finally:
                os.close(dirfd)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def open_client(path: Path, timeout: float, name: str = "qmp") -> QMPClient:
    """Connect and negotiate; raises OSError / QMPError / TimeoutError on failure."""
    sock = _connect_unix(path, timeout)
    client = QMPClient(name)
    try:
        await asyncio.wait_for(client.connect(sock), timeout)
    except BaseException:
        await client.disconnect()
        sock.close()
        raise
    return client


class QmpSession:
    """`with QmpSession(sock, vm="VM 7") as qmp: qmp.cmd("stop")`"""

    def __init__(self, path: Path, *, vm: str, timeout: float = 10.0) -> None:
        self.path = path
        self.vm = vm
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: QMPClient | None = None

    def __enter__(self) -> QmpSession:
        self._loop = asyncio.new_event_loop()
        try:
            self._client = self._run(open_client(self.path, self.timeout), self.timeout)
        except BaseException:
            self._loop.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._loop is not None
        try:
            if self._client is not None:
                self._loop.run_until_complete(asyncio.wait_for(self._client.disconnect(), 5))
        except (TimeoutError, QMPError, OSError, EOFError):
            pass
        finally:
            self._loop.close()

    def _run(self, coro: Any, timeout: float) -> Any:
        assert self._loop is not None
        try:
            return self._loop.run_until_complete(asyncio.wait_for(coro, timeout))
        except TimeoutError as exc:
            raise DriverError(f"{self.vm}: QEMU did not answer on QMP within {timeout:.0f} s") from exc
        except (QMPError, OSError, EOFError) as exc:
            raise DriverError(f"{self.vm}: QMP failed: {exc}") from exc

    def cmd(self, name: str, args: Mapping[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        assert self._client is not None
        return self._run(self._client.execute(name, dict(args or {})), timeout or self.timeout)

    def wait_event(
        self, name: str, timeout: float, match: Callable[[Event], bool] = lambda _e: True
    ) -> Event | None:
        """The first event called `name` that `match`es within `timeout` s, else None."""
        assert self._client is not None and self._loop is not None
        client = self._client

        async def _wait() -> Event:
            while True:
                event = await client.events.get()
                if event.get("event") == name and match(event):
                    return dict(event)

        try:
            result: Event = self._loop.run_until_complete(asyncio.wait_for(_wait(), timeout))
        except TimeoutError:
            return None
        return result


def try_connect(path: Path, *, vm: str, timeout: float) -> bool:
    """True when QEMU answers `query-status` on `path` (used to wait for a fresh QEMU)."""
    try:
        with QmpSession(path, vm=vm, timeout=timeout) as qmp:
            qmp.cmd("query-status")
    except (TimeoutError, DriverError, OSError, QMPError):
        return False
    return True
