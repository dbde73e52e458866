"""Volume backends (`file`, `iscsi`, `simulated`, or any installed package's) and the factories
that build one per storage pool from its settings table, found by the pool's `backend` name in
the `stratuslab.volume_backends` entry-point group.

Settings (the lead's `settings.py` passes the tables through unchanged):

    [storage]
    default_pool = "default"

    [storage.pools.default]
    backend = "file"                 # file | iscsi | simulated | an installed backend's name
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
from collections.abc import Mapping
from typing import Any, Protocol

from stratuslab.core.errors import InvalidInput
from stratuslab.drivers.registry import DriverKind, build
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


class BackendFactory(Protocol):
    """What a `stratuslab.volume_backends` entry point names: the backend of pool `pool` from
    its settings table (unknown keys refused, see `pool_path`), with no I/O."""

    def __call__(self, pool: str, table: Mapping[str, Any], *, data_dir: str) -> VolumeBackend: ...

FILE_KEYS = frozenset({"backend", "path"})
ISCSI_KEYS = frozenset({"backend", "path", "portal", "control_port", "netns", "initiators",
                        "manage_daemon", "chap"})


def build_backend(name: str, table: Mapping[str, Any], *, data_dir: str) -> VolumeBackend:
    """The backend of pool `name` from its `[storage.pools.<name>]` table, made by the factory
    its `backend` names (entry point group stratuslab.volume_backends).  No I/O: iSCSI starts
    tgtd on first export."""
    kind = str(table.get("backend", "file"))
    return build(DriverKind.VOLUME_BACKEND, kind, VolumeBackend, name, table, data_dir=data_dir,
                 setting=f"storage.pools.{name}.backend")


def build_backends(
    pools: Mapping[str, Mapping[str, Any]], *, data_dir: str
) -> dict[str, VolumeBackend]:
    return {name: build_backend(name, table, data_dir=data_dir) for name, table in pools.items()}


def pool_path(pool: str, table: Mapping[str, Any], *, data_dir: str,
              keys: frozenset[str]) -> str:
    """The pool's directory, after refusing a key its backend does not know (every factory's
    first step; `keys` are the ones it reads)."""
    unknown = sorted(set(table) - keys)
    if unknown:
        raise InvalidInput(
            f"setting storage.pools.{pool}.{unknown[0]} is unknown for backend "
            f"{table.get('backend', 'file')}",
            hint=f"known keys: {', '.join(sorted(keys))}",
        )
    return str(table.get("path") or os.path.join(data_dir, "volumes", pool))


def file_backend(pool: str, table: Mapping[str, Any], *, data_dir: str) -> VolumeBackend:
    return FileBackend(pool_path(pool, table, data_dir=data_dir, keys=FILE_KEYS))


def simulated_backend(pool: str, table: Mapping[str, Any], *, data_dir: str) -> VolumeBackend:
    path = pool_path(pool, table, data_dir=data_dir, keys=FILE_KEYS)
    return SimulatedBackend(os.path.join(path, "simulated-volumes.json"))


def iscsi_backend(pool: str, table: Mapping[str, Any], *, data_dir: str) -> VolumeBackend:
    path = pool_path(pool, table, data_dir=data_dir, keys=ISCSI_KEYS)
    return _iscsi(f"storage.pools.{pool}", path, table, data_dir)


BUILT_IN: tuple[BackendFactory, ...] = (file_backend, simulated_backend, iscsi_backend)


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
