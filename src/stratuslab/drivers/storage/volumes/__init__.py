"""Volume backends (`file`, `iscsi`, `simulated`) and the factory that builds one per storage
pool from its settings table.

Settings (the lead's `settings.py` passes the tables through unchanged):

    [storage]
    default_pool = "default"

    [storage.pools.default]
    backend = "file"                 # file | iscsi | simulated
    path = "/var/lib/stratuslab/volumes/default"   # default: <data_dir>/volumes/<pool>

    [storage.pools.san]
    backend = "iscsi"
    path = "/srv/stratuslab/san"
    portal = "127.0.0.1:3260"        # where tgtd listens (loopback by default)
    control_port = 7100              # tgtd -C: its own management socket
    netns = ""                       # run tgtd inside this network namespace
    initiators = ["127.0.0.1"]       # addresses allowed to log in, or ["ALL"]
    manage_daemon = true             # start (or adopt) tgtd on first export; stop() ends it;
                                     # close() at server shutdown leaves it serving

Imports `core` and `drivers._process` (through the backends) only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from stratuslab.core.errors import InvalidInput
from stratuslab.drivers.storage.volumes.base import VolumeBackend
from stratuslab.drivers.storage.volumes.file import FileBackend
from stratuslab.drivers.storage.volumes.iscsi import IscsiBackend
from stratuslab.drivers.storage.volumes.simulated import SimulatedBackend
from stratuslab.drivers.storage.volumes.tgt import TgtConfig, TgtDaemon

__all__ = [
    "FileBackend",
    "IscsiBackend",
    "SimulatedBackend",
    "TgtConfig",
    "TgtDaemon",
    "VolumeBackend",
    "build_backend",
    "build_backends",
]

_KEYS: Mapping[str, frozenset[str]] = {
    "file": frozenset({"backend", "path"}),
    "simulated": frozenset({"backend", "path"}),
    "iscsi": frozenset(
        {"backend", "path", "portal", "control_port", "netns", "initiators", "manage_daemon",
         "chap"}
    ),
}


def build_backend(name: str, table: Mapping[str, Any], *, data_dir: str) -> VolumeBackend:
    """The backend of pool `name` from its `[storage.pools.<name>]` table.  No I/O: iSCSI
    starts tgtd on first export."""
    key = f"storage.pools.{name}"
    kind = str(table.get("backend", "file"))
    if kind not in _KEYS:
        raise InvalidInput(
            f"setting {key}.backend: {kind!r} is not a volume backend",
            hint=f"choose one of: {', '.join(sorted(_KEYS))}",
        )
    unknown = sorted(set(table) - _KEYS[kind])
    if unknown:
        raise InvalidInput(
            f"setting {key}.{unknown[0]} is unknown for backend {kind}",
            hint=f"known keys: {', '.join(sorted(_KEYS[kind]))}",
        )
    path = str(table.get("path") or os.path.join(data_dir, "volumes", name))
    builders: Mapping[str, Callable[[], VolumeBackend]] = {
        "file": lambda: FileBackend(path),
        "simulated": lambda: SimulatedBackend(os.path.join(path, "simulated-volumes.json")),
        "iscsi": lambda: _iscsi(key, path, table, data_dir),
    }
    return builders[kind]()


def build_backends(
    pools: Mapping[str, Mapping[str, Any]], *, data_dir: str
) -> dict[str, VolumeBackend]:
    return {name: build_backend(name, table, data_dir=data_dir) for name, table in pools.items()}


def _iscsi(key: str, path: str, table: Mapping[str, Any], data_dir: str) -> IscsiBackend:
    host, sep, port = str(table.get("portal", "127.0.0.1:3260")).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InvalidInput(
            f"setting {key}.portal: {table.get('portal')!r} is not host:port",
            hint='write e.g. portal = "127.0.0.1:3260"',
        )
    initiators = table.get("initiators", ["127.0.0.1"])
    if isinstance(initiators, str):
        initiators = [i.strip() for i in initiators.split(",") if i.strip()]
    try:
        control_port = int(table.get("control_port", 7100))
    except (TypeError, ValueError):
        raise InvalidInput(f"setting {key}.control_port must be a number") from None
    config = TgtConfig(
        control_port=control_port,
        portal_host=host,
        portal_port=int(port),
        netns=str(table.get("netns") or "") or None,
        state_dir=os.path.join(data_dir, "tgt"),
    )
    return IscsiBackend(
        path,
        TgtDaemon(config),
        initiators=tuple(str(i) for i in initiators),
        manage_daemon=bool(table.get("manage_daemon", True)),
        chap=bool(table.get("chap", True)),
    )
