"""OpenNebula ACL rules describing this cloud's fixed, built-in policy (`one.acl.info`).

The policy is not rule-based: owners manage their objects (permissions on each object),
administrators (role admin) may do everything, users (role user, gate role cloud-access) create
VMs, images and VM templates.  These rules say the same in OpenNebula's 64-bit masks (AclRule.h:
user/resource selectors, object-type bits, USE/MANAGE/ADMIN/CREATE rights); they cannot be
changed, so one.acl.addrule/delrule are refused with FIXED_POLICY.  Imports only this package.
"""

from __future__ import annotations

from collections.abc import Iterable

from stratuslab.api.xmlrpc.backend import AclRecord

INDIVIDUAL, GROUP, ALL = 0x1_0000_0000, 0x2_0000_0000, 0x4_0000_0000
OBJECTS = {
    "VM": 0x10_0000_0000, "HOST": 0x20_0000_0000, "NET": 0x40_0000_0000,
    "IMAGE": 0x80_0000_0000, "USER": 0x100_0000_0000, "TEMPLATE": 0x200_0000_0000,
    "GROUP": 0x400_0000_0000, "DATASTORE": 0x1000_0000_0000,
}
RIGHTS = {"USE": 0x1, "MANAGE": 0x2, "ADMIN": 0x4, "CREATE": 0x8}
FIXED_POLICY = (
    "ACL rules cannot be changed: this cloud's policy is built in (owners manage their objects, "
    "role admin may do everything, roles user and cloud-access create VMs, images and templates)"
)
FIXED_HINT = "give a user role admin, or share an object through its permissions, instead"


def _rule(rule_id: int, user: tuple[int, str], objects: list[str], rights: list[str]) -> AclRecord:
    resource = ALL
    for name in objects:
        resource |= OBJECTS[name]
    mask = 0
    for name in rights:
        mask |= RIGHTS[name]
    text = f"{user[1]} {'+'.join(objects)}/* {'+'.join(rights)} *"
    return AclRecord(rule_id, user[0], resource, mask, zone=ALL, text=text)


def acl_rules(users_gid: int, admin_uids: Iterable[int]) -> list[AclRecord]:
    """Rule 0: the users group creates VMs, images, templates; then one rule per admin."""
    rules = [_rule(0, (GROUP | users_gid, f"@{users_gid}"), ["VM", "IMAGE", "TEMPLATE"],
                   ["CREATE"])]
    for uid in sorted(admin_uids):
        rules.append(_rule(len(rules), (INDIVIDUAL | uid, f"#{uid}"), list(OBJECTS),
                           list(RIGHTS)))
    return rules
