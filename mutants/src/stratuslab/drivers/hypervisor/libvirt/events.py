"""Libvirt's event loop, which delivers domain lifecycle events to registered callbacks.

The libvirt library keeps one event implementation per process and it must be registered before
the connections that use it are opened; this module starts it once (a daemon thread running
`virEventRunDefaultImpl`) for every driver instance of the process.  That process-wide state is
libvirt's, not ours: this is the one place that touches it.

Imports only the standard library and `libvirt`.
"""

from __future__ import annotations

import logging
import threading

import libvirt

log = logging.getLogger("stratuslab.libvirt")
_guard = threading.Lock()
_started: list[threading.Thread] = []


def ensure_event_loop() -> None:
    with _guard:
        if _started:
            return
        libvirt.virEventRegisterDefaultImpl()
        # errors reach callers as exceptions; the library would also print each one on stderr
        libvirt.registerErrorHandler(_quiet, None)
        thread = threading.Thread(target=_run, name="libvirt-events", daemon=True)
        thread.start()
        _started.append(thread)


def _quiet(_ctx: object, _error: object) -> None:
    return None


def _run() -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except libvirt.libvirtError as exc:  # keep delivering events whatever one call did
            log.warning("libvirt event loop: %s", exc)
