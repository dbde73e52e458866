"""A node as the services see it: the drivers that act on one hypervisor host.

Only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratuslab.core.hypervisor import HypervisorPort
from stratuslab.core.instance import InstanceStoragePort


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    hypervisor: HypervisorPort
    storage: InstanceStoragePort
