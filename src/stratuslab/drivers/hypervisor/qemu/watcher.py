"""One thread per running VM that notices, within a fraction of a second, when its QEMU ends.

The thread waits on a pidfd of the QEMU process (works for adopted processes that are not our
children) and listens on the VM's second QMP monitor (`events.sock`) for `SHUTDOWN`, which tells
a guest-initiated power-off from a crash.  When the process is gone it reaps it if it is our
child and hands (vm_id, the SHUTDOWN event if any, the exit status if known) to the driver.

Imports only the standard library, `qemu.qmp` and the driver's own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qemu.qmp import QMPClient, QMPError

from stratuslab.drivers._process import Process, TimeoutExpired
from stratuslab.drivers.hypervisor.qemu import console, layout
from stratuslab.drivers.hypervisor.qemu.qmp import open_client

log = logging.getLogger(__name__)

DRAIN_SECONDS = 0.3  # events QEMU wrote just before dying are still in the socket buffer


@dataclass(frozen=True, slots=True)
class Exit:
    vm_id: int
    pid: int
    shutdown: Mapping[str, Any] | None  # data of the SHUTDOWN event, if one came
    returncode: int | None  # None when the process was not our child


ExitHandler = Callable[[Exit], None]


class Watcher(threading.Thread):
    def __init__(
        self,
        vm_id: int,
        instance: layout.InstanceDir,
        pid: int,
        *,
        proc: Process | None,
        on_exit: ExitHandler,
        console_max_bytes: int = console.DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__(name=f"qemu-watch-{vm_id}", daemon=True)
        self.vm_id = vm_id
        self.instance = instance
        self.pid = pid
        self.proc = proc
        self.on_exit = on_exit
        self.console_max_bytes = console_max_bytes
        self._loop = asyncio.new_event_loop()
        self._stop_event = asyncio.Event()
        self._shutdown: dict[str, Any] | None = None

    def stop(self) -> None:
        """Stop watching (the VM keeps running)."""
        with contextlib.suppress(RuntimeError):  # loop already closed: nothing to stop
            self._loop.call_soon_threadsafe(self._stop_event.set)

    def run(self) -> None:
        try:
            exited = self._loop.run_until_complete(self._main())
        except Exception:  # a watcher must never die silently
            log.exception("watcher of VM %s failed", self.vm_id)
            exited = False
        finally:
            self._loop.close()
        if exited:
            self.on_exit(Exit(self.vm_id, self.pid, self._shutdown, self._reap()))

    async def _main(self) -> bool:
        loop = asyncio.get_running_loop()
        exited = asyncio.Event()
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return True
        loop.add_reader(pidfd, exited.set)
        events = asyncio.create_task(self._listen(exited))
        trimmer = asyncio.create_task(self._trim_console())
        waits = [asyncio.create_task(exited.wait()), asyncio.create_task(self._stop_event.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if exited.is_set():
                await asyncio.sleep(DRAIN_SECONDS)
            return exited.is_set()
        finally:
            for task in (events, trimmer, *waits):
                task.cancel()
            await asyncio.gather(events, trimmer, *waits, return_exceptions=True)
            loop.remove_reader(pidfd)
            os.close(pidfd)

    async def _trim_console(self) -> None:
        """Keep the console log within its bound while the VM runs (console.py)."""
        log_path = self.instance.file(layout.CONSOLE_LOG)
        while True:
            try:
                console.trim(log_path, self.console_max_bytes)
            except OSError as exc:
                log.warning("VM %s: cannot trim the console log: %s", self.vm_id, exc)
            await asyncio.sleep(console.INTERVAL_S)

    async def _listen(self, exited: asyncio.Event) -> None:
        client: QMPClient | None = None
        while client is None and not exited.is_set():
            try:
                client = await open_client(self.instance.file(layout.EVENTS_SOCK), 2.0, "events")
            except (TimeoutError, OSError, QMPError, EOFError):
                await asyncio.sleep(0.5)
        if client is None:
            return
        try:
            async for event in client.events:
                if event.get("event") == "SHUTDOWN":
                    data = event.get("data")
                    self._shutdown = dict(data) if isinstance(data, dict) else {}
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(client.disconnect())

    def _reap(self) -> int | None:
        if self.proc is not None:
            try:
                return self.proc.wait(timeout=10)
            except TimeoutExpired:
                return None
        try:  # an adopted QEMU may still be our child (a driver re-created in the same process)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status) if pid else None
