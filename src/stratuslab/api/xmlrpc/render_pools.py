"""OpenNebula XML for users, groups, images, networks, hosts, VM templates, ACLs, datastores.

Element names and order follow share/doc/xsd/{user,group,image,vnet,host,vmtemplate,acl_pool,
datastore}.xsd (and their *_pool.xsd wrappers).  Quotas are rendered empty: quota accounting
belongs to the services and is not exposed here yet.  Imports only core and this package.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from stratuslab.api.xmlrpc import xmlout as x
from stratuslab.api.xmlrpc.backend import (
    AclRecord,
    DatastoreRecord,
    HostRecord,
    NetworkRecord,
    TemplateRecord,
)
from stratuslab.api.xmlrpc.render_vm import Ids
from stratuslab.api.xmlrpc.template import Value, parse
from stratuslab.core.entities import Group, Image, ImageState, User

_QUOTAS = ("DATASTORE_QUOTA", "NETWORK_QUOTA", "VM_QUOTA", "IMAGE_QUOTA")


#: 7.x groups carry VLAN rules for their virtual network templates: none here
_VLAN_RULES = x.node("VLAN_RULES", x.leaf("ID", -1))


def _quotas() -> str:
    return "".join(x.node(q) for q in _QUOTAS)


def _ids(tag: str, ids: Iterable[int]) -> str:
    return x.node(tag, (x.leaf("ID", i) for i in ids))


def owned(rec_id: int | None, owner: str, group: str, name: str, ids: Ids) -> str:
    return x.leaves(
        [
            ("ID", rec_id),
            ("UID", ids.user_id(owner)),
            ("GID", ids.group_id(group)),
            ("UNAME", owner),
            ("GNAME", group),
            ("NAME", name),
        ]
    )


# ---- users and groups -------------------------------------------------------------------


def kept(text: str | None) -> list[tuple[str, Value]]:
    """The attributes an object's stored TEMPLATE text holds (one.*.update)."""
    return list(parse(text).items) if text else []


def user_template(user: User) -> list[tuple[str, Value]]:
    roles: list[tuple[str, Value]] = [("ROLES", " ".join(user.roles))] if user.roles else []
    return roles + [(k, v) for k, v in kept(user.template) if k != "ROLES"]


def image_template(image: Image) -> list[tuple[str, Value]]:
    base: dict[str, Value] = {"FORMAT": image.format, "SHA1": image.sha1}
    if image.marketplace_id:
        base["MARKETPLACE_ID"] = image.marketplace_id
    return list(base.items()) + [(k, v) for k, v in kept(image.template) if k not in base]


def _user_fields(user: User, ids: Ids) -> str:
    group_ids = [ids.group_id(g) for g in user.groups] or [ids.group_id(user.primary_group)]
    return "".join(
        [
            x.leaf("ID", user.id),
            x.leaf("GID", group_ids[0]),
            _ids("GROUPS", group_ids),
            x.leaf("GNAME", user.primary_group),
            x.leaf("NAME", user.name),
            x.leaf("PASSWORD", "*"),  # hashes never leave the server
            x.leaf("AUTH_DRIVER", "x509" if user.dn else "core"),
            x.leaf("ENABLED", 1 if user.enabled else 0),
            x.template("TEMPLATE", user_template(user)),
        ]
    )


def user_xml(user: User, ids: Ids) -> str:
    return x.node(
        "USER", _user_fields(user, ids), _quotas(), x.node("DEFAULT_USER_QUOTAS", _quotas())
    )


def user_pool_xml(users: Iterable[User], ids: Ids) -> str:
    users = list(users)
    return x.node(
        "USER_POOL",
        (x.node("USER", _user_fields(u, ids)) for u in users),
        (x.node("QUOTAS", x.leaf("ID", u.id), _quotas()) for u in users),
        x.node("DEFAULT_USER_QUOTAS", _quotas()),
    )


def _group_fields(group: Group, member_ids: Sequence[int]) -> str:
    return "".join(
        [
            x.leaf("ID", group.id),
            x.leaf("NAME", group.name),
            x.template("TEMPLATE", {}),
            _ids("USERS", member_ids),
            x.node("ADMINS"),
        ]
    )


def group_xml(group: Group, member_ids: Sequence[int]) -> str:
    return x.node(
        "GROUP",
        _group_fields(group, member_ids),
        _quotas(),
        _VLAN_RULES,
        x.node("DEFAULT_GROUP_QUOTAS", _quotas()),
    )


def group_pool_xml(groups: Iterable[tuple[Group, Sequence[int]]]) -> str:
    groups = list(groups)
    return x.node(
        "GROUP_POOL",
        (x.node("GROUP", _group_fields(g, m)) for g, m in groups),
        (x.node("QUOTAS", x.leaf("ID", g.id), _quotas()) for g, _ in groups),
        _VLAN_RULES,
        x.node("DEFAULT_GROUP_QUOTAS", _quotas()),
    )


# ---- images -----------------------------------------------------------------------------

#: OpenNebula IMAGE_STATES: 1 READY, 3 DISABLED, 4 LOCKED, 5 ERROR, 7 DELETE.
IMAGE_STATE_NUMBERS: Mapping[str, int] = {
    ImageState.READY.value: 1,
    ImageState.DISABLED.value: 3,
    ImageState.IMPORTING.value: 4,  # LOCKED: being downloaded
    ImageState.DELETED.value: 7,
}


def image_xml(image: Image, ids: Ids, vm_ids: Sequence[int] = ()) -> str:
    state = IMAGE_STATE_NUMBERS.get(image.state, 5)  # 5 ERROR for anything unknown
    return x.node(
        "IMAGE",
        owned(image.id, image.owner, image.group, image.name, ids),
        x.lock(image.lock),
        x.permissions("110", "100" if image.public else "000", "100" if image.public else "000"),
        x.leaves(
            [
                ("TYPE", 0),  # OS
                ("DISK_TYPE", 0),  # FILE
                ("PERSISTENT", 0),
                ("REGTIME", x.epoch(image.created_at)),
                ("MODTIME", x.epoch(image.created_at)),
                ("SOURCE", image.path),
                ("PATH", image.source or ""),
                ("FORMAT", image.format),
                ("FS", ""),
                ("SIZE", image.size_bytes // (1024 * 1024)),
                ("STATE", state),
                ("PREV_STATE", state),
                ("RUNNING_VMS", len(vm_ids)),
                ("CLONING_OPS", 0),
                ("CLONING_ID", -1),
                ("TARGET_SNAPSHOT", -1),
                ("DATASTORE_ID", 1),
                ("DATASTORE", "default"),
            ]
        ),
        _ids("VMS", vm_ids),
        x.node("CLONES"),
        x.node("APP_CLONES"),
        x.template("TEMPLATE", image_template(image)),
        x.node(
            "SNAPSHOTS",
            x.leaves([("ALLOW_ORPHANS", "NO"), ("CURRENT_BASE", -1), ("NEXT_SNAPSHOT", 0)]),
        ),
        x.node("BACKUP_INCREMENTS"),
    )


def image_pool_xml(images: Iterable[Image], ids: Ids) -> str:
    return x.node("IMAGE_POOL", (image_xml(i, ids) for i in images))


# ---- networks ---------------------------------------------------------------------------


#: 7.x AR elements in the schema's order (after AR_ID, IP, MAC, NEXT_INDEX)
_AR_TAIL = ("PARENT_NETWORK_AR_ID", "SHARED", "SIZE", "TYPE", "VLAN_ID", "ULA_PREFIX", "VN_MAD",
            "MAC_END", "IP_END")  # fmt: skip


def _mac(ip: str) -> str:
    """OpenNebula's MAC for an IPv4 address: the 02:00 prefix, then the address's bytes."""
    try:
        packed = ipaddress.IPv4Address(ip).packed
    except ValueError:
        return ""
    return "02:00:" + ":".join(f"{b:02x}" for b in packed)


def _address_range(index: int, ar: Mapping[str, object], *, pool: bool = False) -> str:
    """One AR; in a pool (vnet_pool.xsd) without the end addresses and lease count."""
    given = {str(k).upper(): str(v) for k, v in ar.items()}
    given.setdefault("TYPE", "IP4")
    given.setdefault("SIZE", "1")
    if given.get("IP") and not given.get("IP_END"):
        size = int(given["SIZE"]) if given["SIZE"].isdigit() else 1
        given["IP_END"] = str(ipaddress.IPv4Address(given["IP"]) + max(0, size - 1))
    fields = [("AR_ID", str(index))]
    if given.get("IP"):
        fields.append(("IP", given["IP"]))
    fields += [("MAC", given.get("MAC") or _mac(given.get("IP", ""))), ("NEXT_INDEX", "0")]
    tail = _AR_TAIL[:-2] if pool else _AR_TAIL
    fields += [(k, given[k]) for k in tail if k in given]
    if not pool:
        fields.append(("USED_LEASES", given.get("USED_LEASES", "0")))
    return x.node("AR", (x.cdata(k, v) for k, v in fields))


def vnet_xml(net: NetworkRecord | Mapping[str, object], ids: Ids, *, pool: bool = False) -> str:
    if not isinstance(net, NetworkRecord):
        net = NetworkRecord.from_mapping(net)
    return x.node(
        "VNET",
        owned(net.id, net.owner, net.group, net.name, ids),
        x.rights(net.permissions),
        _ids("CLUSTERS", [0]),
        x.leaves(
            [
                ("BRIDGE", net.bridge),
                ("BRIDGE_TYPE", "linux"),
                ("STATE", 1),  # READY
                ("PREV_STATE", 1),
                ("PARENT_NETWORK_ID", "" if net.parent_id is None else net.parent_id),
                ("TEMPLATE_ID", -1),
                ("VN_MAD", "bridge"),
                ("PHYDEV", ""),
                ("VLAN_ID", net.vlan_id),
                ("OUTER_VLAN_ID", ""),
                ("VLAN_ID_AUTOMATIC", 0),
                ("OUTER_VLAN_ID_AUTOMATIC", 0),
                ("USED_LEASES", net.used_leases),
            ]
        ),
        x.node("VROUTERS"),
        x.node("UPDATED_VMS"),
        x.node("OUTDATED_VMS"),
        x.node("UPDATING_VMS"),
        x.node("ERROR_VMS"),
        x.template("TEMPLATE", {"BRIDGE": net.bridge, **net.attrs}),
        x.node("AR_POOL", (_address_range(i, ar, pool=pool) for i, ar in enumerate(net.address_ranges))),
    )


def vnet_pool_xml(nets: Iterable[NetworkRecord | Mapping[str, object]], ids: Ids) -> str:
    return x.node("VNET_POOL", (vnet_xml(n, ids, pool=True) for n in nets))


# ---- hosts, templates, ACLs, datastores ------------------------------------------------


def host_xml(host: HostRecord) -> str:
    share = x.leaves(
        [
            ("MEM_USAGE", host.used_mem_kib),
            ("CPU_USAGE", host.used_cpu),
            ("TOTAL_MEM", host.total_mem_kib),
            ("TOTAL_CPU", host.total_cpu),
            ("MAX_MEM", host.total_mem_kib),
            ("MAX_CPU", host.total_cpu),
            ("RUNNING_VMS", host.running_vms),
            ("VMS_THREAD", 1),
        ]
    )
    return x.node(
        "HOST",
        x.leaves(
            [
                ("ID", host.id),
                ("NAME", host.name),
                ("STATE", host.state),
                ("PREV_STATE", host.state),
                ("IM_MAD", host.im_mad),
                ("VM_MAD", host.vm_mad),
                ("CLUSTER_ID", host.cluster_id),
                ("CLUSTER", host.cluster),
            ]
        ),
        x.node(
            "HOST_SHARE",
            share,
            x.node("DATASTORES", x.leaves([("DISK_USAGE", 0), ("FREE_DISK", 0), ("MAX_DISK", 0),
                                           ("USED_DISK", 0)])),  # fmt: skip
            x.node("PCI_DEVICES"),
            x.node("NUMA_NODES"),
        ),
        _ids("VMS", host.vm_ids),
        x.template("TEMPLATE", {"HOSTNAME": host.name, **host.attrs}),
        x.node("MONITORING"),
    )


def host_pool_xml(hosts: Iterable[HostRecord]) -> str:
    return x.node("HOST_POOL", (host_xml(h) for h in hosts))


def vmtemplate_xml(rec: TemplateRecord, ids: Ids) -> str:
    return x.node(
        "VMTEMPLATE",
        owned(rec.id, rec.owner, rec.group, rec.name, ids),
        x.rights(rec.permissions),
        x.leaf("REGTIME", x.epoch(rec.created_at)),
        x.template("TEMPLATE", parse(rec.body)),
    )


def vmtemplate_pool_xml(recs: Iterable[TemplateRecord], ids: Ids) -> str:
    return x.node("VMTEMPLATE_POOL", (vmtemplate_xml(r, ids) for r in recs))


def acl_pool_xml(rules: Iterable[AclRecord]) -> str:
    def one(rule: AclRecord) -> str:
        return x.node(
            "ACL",
            x.leaves(
                [
                    ("ID", rule.id),
                    ("USER", format(rule.user, "X")),
                    ("RESOURCE", format(rule.resource, "X")),
                    ("RIGHTS", format(rule.rights, "X")),
                    ("ZONE", format(rule.zone, "X")),
                    ("STRING", rule.text),
                ]
            ),
        )

    return x.node("ACL_POOL", (one(r) for r in rules))


def datastore_xml(ds: DatastoreRecord) -> str:
    return x.node(
        "DATASTORE",
        owned(ds.id, "oneadmin", "oneadmin", ds.name, _AdminIds()),
        x.permissions("110", "100", "100"),
        x.leaves(
            [
                ("DS_MAD", ds.ds_mad),
                ("TM_MAD", ds.tm_mad),
                ("BASE_PATH", ds.base_path),
                ("TYPE", ds.type),
                ("DISK_TYPE", 0),
                ("STATE", 0),
            ]
        ),
        _ids("CLUSTERS", [0]),
        x.leaves([("TOTAL_MB", ds.total_mb), ("FREE_MB", ds.free_mb), ("USED_MB", ds.used_mb)]),
        _ids("IMAGES", ds.image_ids),
        x.template("TEMPLATE", {"DS_MAD": ds.ds_mad, "TM_MAD": ds.tm_mad}),
    )


def datastore_pool_xml(stores: Iterable[DatastoreRecord]) -> str:
    return x.node("DATASTORE_POOL", (datastore_xml(d) for d in stores))


class _AdminIds:
    """Datastores belong to the cloud administrator (uid 0, gid 0), as in OpenNebula."""

    def user_id(self, name: str) -> int:
        return 0

    def group_id(self, name: str) -> int:
        return 0
