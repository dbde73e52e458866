"""Instance types and the checks of a run-instance request (no side effects).  Imports core."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Image, InstanceType
from stratuslab.core.errors import InvalidInput
from stratuslab.core.instance import is_reserved_context_key
from stratuslab.core.quotas import ComputeUsage
from stratuslab.core.requirements import parse
from stratuslab.core.scheduler import rank_policy

HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
CONTEXT_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LISTING = "stratus describe-instance"
MAX_COUNT = 100
MAX_CPU = 128
MAX_RAM_MIB = 1024 * 1024
GIB = 1024**3


def check_name(name: str) -> None:
    if not HOSTNAME_RE.match(name):
        raise InvalidInput(
            f"VM name {name!r} is not a valid host name",
            hint="use letters, digits and '-', at most 63 characters",
        )


@dataclass(frozen=True)
class InstanceTypes:
    types: Mapping[str, InstanceType]
    default: str

    def get(self, name: str | None) -> InstanceType:
        key = name or self.default
        if key not in self.types:
            raise InvalidInput(
                f"instance type {key!r} does not exist",
                hint=f"choose one of {', '.join(self.types)} (stratus list-types)",
            )
        return self.types[key]


def validate_run(types: InstanceTypes, cmd: RunInstance) -> InstanceType:
    itype = types.get(cmd.instance_type)
    if not 1 <= cmd.count <= MAX_COUNT:
        raise InvalidInput(f"instance count {cmd.count} is out of range (1-{MAX_COUNT})")
    if cmd.cpu is not None and not 1 <= cmd.cpu <= MAX_CPU:
        raise InvalidInput(f"--cpu {cmd.cpu} is out of range (1-{MAX_CPU})")
    if cmd.ram_mib is not None and not 64 <= cmd.ram_mib <= MAX_RAM_MIB:
        raise InvalidInput(f"--ram {cmd.ram_mib} MiB is out of range (64-{MAX_RAM_MIB})")
    if cmd.swap_mib is not None and not 0 <= cmd.swap_mib <= MAX_RAM_MIB:
        raise InvalidInput(f"--swap {cmd.swap_mib} MiB is out of range (0-{MAX_RAM_MIB})")
    if cmd.name is not None:
        check_name(cmd.name)
    parse(cmd.requirements)  # refused here, with the place, not when a host is sought
    if cmd.rank:
        rank_policy(cmd.rank)
    for gb in cmd.volatile_gb:
        if not 1 <= gb <= 1024:
            raise InvalidInput(f"volatile disk of {gb} GB is out of range (1-1024 GB)")
    for key in cmd.context:
        if is_reserved_context_key(key):
            raise InvalidInput(f"context key {key} is set by StratusLab itself",
                               hint="choose another name for your --context value")
        if not CONTEXT_KEY_RE.match(key):
            raise InvalidInput(f"context key {key!r} is not valid", hint="use [A-Za-z_][A-Za-z0-9_]*")
    if cmd.context_method not in ("cloud-init", "one"):
        raise InvalidInput(
            f"context method {cmd.context_method!r} is unknown", hint="use cloud-init or one"
        )
    return itype


def disk_gb(image: Image, cmd: RunInstance) -> int:
    """What one VM's disks take: its root image (rounded up to GiB) and its volatile disks."""
    return math.ceil(image.size_bytes / GIB) + sum(cmd.volatile_gb)


def run_demand(itype: InstanceType, image: Image, cmd: RunInstance) -> ComputeUsage:
    """What `cmd` asks of the quotas, all its VMs together."""
    one = ComputeUsage(1, cmd.cpu or itype.cpu, cmd.ram_mib or itype.ram_mib, disk_gb(image, cmd))
    return one * cmd.count
