"""What every part of the XML-RPC services backend shares: the services it translates to.

`Deps` is services.catalog.CloudServices: the cloud's services, typed (compute, images,
identity, templates, network, vm_nics, volumes, vm_volumes...) and the server's one
authenticator.  Imports core and services only.
"""

from __future__ import annotations

from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import NotFound, Unsupported
from stratuslab.services.catalog import CloudServices
from stratuslab.services.compute import ComputeService

#: id lookups for rendering UID/GID only (names are already visible to the caller)
LOOKUP = Principal("oneadmin", 0, ("oneadmin",), frozenset({Role.ADMIN.value}), "internal")
ALL = 100_000  # "no limit" for listings the adapter filters further


Deps = CloudServices  # the typed services every part translates to


def owner_names(deps: Deps, user_id: int, group_id: int) -> tuple[str | None, str | None]:
    """chown's ids (-1: keep) -> user and group names; an unknown id is NotFound."""
    owner = deps.identity.get_user(LOOKUP, user_id).name if user_id >= 0 else None
    group = None
    if group_id >= 0:
        group = next((g.name for g in deps.identity.list_groups(LOOKUP) if g.id == group_id),
                     None)
        if group is None:
            raise NotFound("group", group_id, "one.grouppool.info")
    return owner, group


def unsupported(what: str) -> Unsupported:
    return Unsupported(what)


def host_name(compute: ComputeService, host_id: int) -> str:
    """OpenNebula host id -> node name: hosts are numbered in the configuration's order."""
    names = compute.placement.names()
    if not 0 <= host_id < len(names):
        raise NotFound("host", host_id, "one.hostpool.info")
    return names[host_id]
