"""Authorization: one policy every service asks before acting.

Three layers, in order:
1. the gate: a principal needs the `cloud-access` role (StratusLab's requirement), `user`,
   or `admin`;
2. per-service rules (`SERVICE_RULES`): e.g. only admins see quarantine, only endorsers who
   authenticated with a certificate may upload to the marketplace;
3. per-object OpenNebula-style permission bits: owner / group / other, each `u` (use: see,
   list, read), `m` (manage: change, act, delete), `a` (admin: chown, chmod), written
   `"um-u-----"` or as digits `"640"` (see Permissions.parse).  Objects the caller may not
   even use answer NotFound (404), never Forbidden, so their existence does not leak.
Imports only core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import Forbidden, InvalidInput, NotFound

ENDORSER = "endorser"
CERT_METHODS = frozenset({"x509", "proxy", "voms"})


class Right(StrEnum):
    USE = "u"
    MANAGE = "m"
    ADMIN = "a"


#: what each action needs on the object
ACTION_RIGHTS: Mapping[str, Right] = {
    "list": Right.USE, "read": Right.USE, "use": Right.USE, "attach": Right.USE,
    "update": Right.MANAGE, "action": Right.MANAGE, "delete": Right.MANAGE,
    "manage": Right.MANAGE, "chown": Right.ADMIN, "chmod": Right.ADMIN, "admin": Right.ADMIN,
}


#: OpenNebula's lock levels (one.vm.lock, one.image.lock): which rights' actions a lock stops;
#: reading the object is never stopped.  0 is unlocked.
LOCK_LEVELS: Mapping[int, tuple[str, frozenset[Right]]] = {
    1: ("USE", frozenset(Right)), 2: ("MANAGE", frozenset({Right.MANAGE, Right.ADMIN})),
    3: ("ADMIN", frozenset({Right.ADMIN})), 4: ("ALL", frozenset(Right)),
}


def check_lock_level(level: int) -> None:
    if level != 0 and level not in LOCK_LEVELS:
        raise InvalidInput(f"lock level {level} is not 1 (USE), 2 (MANAGE), 3 (ADMIN) or 4 (ALL)")


def check_lock(lock: int, action: str, *, what: str, ident: object) -> None:
    """Forbidden when `lock` (a LOCK_LEVELS key, 0 none) stops `action` on the object."""
    name, stopped = LOCK_LEVELS.get(lock, ("", frozenset()))
    if action not in ("list", "read") and ACTION_RIGHTS.get(action) in stopped:
        raise Forbidden(f"{what} {ident} is locked ({name}): it may not be changed or used "
                        f"that way ({action})", hint=f"unlock it first (unlock {what} {ident})")


@dataclass(frozen=True, slots=True)
class Permissions:
    """Rights of the owner, the owner's group, and everyone else."""

    owner: frozenset[Right] = frozenset({Right.USE, Right.MANAGE})
    group: frozenset[Right] = frozenset()
    other: frozenset[Right] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Permissions:
        """`"um-u-----"` (nine letters, OpenNebula order) or octal `"640"` (u=4 m=2 a=1)."""
        text = text.replace(" ", "")
        if len(text) == 3 and all(d in "01234567" for d in text):
            classes = [frozenset(r for r, bit in ((Right.USE, 4), (Right.MANAGE, 2),
                                                  (Right.ADMIN, 1)) if int(d) & bit)
                       for d in text]
        elif len(text) == 9 and all(text[i] in ("-", "uma"[i % 3]) for i in range(9)):
            classes = [frozenset(Right(c) for c in text[i:i + 3] if c != "-")
                       for i in (0, 3, 6)]
        else:
            raise InvalidInput(f"permissions {text!r} are neither 9 letters nor 3 digits",
                               hint='write e.g. "um-u-----" or "640"')
        return cls(*classes)

    def __str__(self) -> str:
        return "".join(r.value if r in cls else "-" for cls in (self.owner, self.group,
                                                               self.other)
                       for r in (Right.USE, Right.MANAGE, Right.ADMIN))


PRIVATE = Permissions()


@dataclass(frozen=True, slots=True)
class ServiceRule:
    roles: frozenset[str] = frozenset()  # any of these (admins always pass)
    cert_only: bool = False  # the principal must have authenticated with a certificate
    why: str = ""


SERVICE_RULES: Mapping[str, ServiceRule] = {
    "quarantine.list": ServiceRule(why="only administrators see quarantined disks"),
    "quarantine.purge": ServiceRule(why="only administrators purge quarantine"),
    "registration.approve": ServiceRule(why="only administrators approve registrations"),
    "users.manage": ServiceRule(why="only administrators manage users"),
    "hosts.manage": ServiceRule(why="only administrators manage hosts"),
    "marketplace.upload": ServiceRule(
        roles=frozenset({ENDORSER}), cert_only=True,
        why="only endorsers authenticated with their certificate may upload metadata"),
}


def check_gate(principal: Principal) -> None:
    if principal.is_admin or {Role.CLOUD_ACCESS.value, Role.USER.value} & principal.roles:
        return
    raise Forbidden(f"user {principal.user} has no cloud access",
                    hint="ask an administrator to approve your registration (cloud-access)")


def check_may_start(principal: Principal) -> None:
    """Starting VMs submits work on the caller's behalf: a limited proxy may not (as grid job
    managers refuse limited proxies)."""
    check_gate(principal)
    if principal.limited:
        raise Forbidden(f"user {principal.user} connected with a limited proxy, which may not "
                        "start VMs", hint="make a full proxy (grid-proxy-init or voms-proxy-init"
                        " without -limited)")


def authorize_service(principal: Principal, rule_name: str) -> None:
    """Per-service rules; unknown rule names are a programming error, refused loudly."""
    check_gate(principal)
    rule = SERVICE_RULES.get(rule_name)
    if rule is None:
        raise Forbidden(f"no authorization rule {rule_name!r}", hint="report this as a bug")
    if rule.cert_only and principal.method not in CERT_METHODS:
        raise Forbidden(f"user {principal.user} authenticated by {principal.method}: "
                        f"{rule.why}", hint="connect with your certificate (/cert endpoint)")
    if principal.is_admin and not rule.cert_only:
        return
    if not (principal.is_admin or rule.roles & principal.roles):
        raise Forbidden(f"user {principal.user} may not {rule_name}: {rule.why}",
                        hint="ask an administrator for the role")


def rights_of(principal: Principal, obj_owner: int | str, obj_group: str | None,
              perms: Permissions) -> frozenset[Right]:
    if principal.is_admin:
        return frozenset(Right)
    mine = obj_owner == (principal.user_id if isinstance(obj_owner, int) else principal.user)
    rights: set[Right] = set(perms.other)
    if mine:
        rights |= perms.owner
    if obj_group is not None and obj_group in principal.groups:
        rights |= perms.group
    return frozenset(rights)


def checked_permissions(principal: Principal, text: str, *, what: str) -> str:
    """New rights for `what` (e.g. "VM 7"): valid, and the ADMIN right given to the group or to
    everyone only by administrators; answers the canonical nine letters.  Changing rights needs
    MANAGE on the object (the caller checks), as OpenNebula's chmod does."""
    try:
        perms = Permissions.parse(text)
    except ValueError:  # a letter other than u, m, a or -
        raise InvalidInput(f"permissions {text!r} of {what} are not valid",
                           hint='write e.g. "um-u-----" or "640"') from None  # fmt: skip
    if not principal.is_admin and any(Right.ADMIN in c for c in (perms.group, perms.other)):
        raise Forbidden(f"user {principal.user} may not give the admin right on {what}",
                        hint="share use (u) or manage (m) only")  # fmt: skip
    return str(perms)


def check_chown(principal: Principal, *, what: str, owner: str | None, group: str | None,
                current_owner: str) -> None:
    """Giving an object away (OpenNebula chown, MANAGE checked by the caller): to another user
    only administrators; to a group, the owner only a group of their own."""
    if owner is not None and owner != current_owner and not principal.is_admin:
        raise Forbidden(f"user {principal.user} may not give {what} to user {owner}",
                        hint="only administrators change owners")
    if group is not None and not principal.is_admin and group not in principal.groups:
        raise Forbidden(f"user {principal.user} is not in group {group}; cannot give {what} "
                        "to it", hint=f"your groups: {', '.join(principal.groups) or 'none'}")


def authorize(principal: Principal, action: str, obj_owner: int | str, obj_group: str | None,
              perms: Permissions | str = PRIVATE, *, what: str = "object",
              ident: object = "?", listing: str = "stratus describe-instance",
              lock: int = 0) -> None:
    """Raise NotFound when the caller may not see the object, Forbidden when they may see it
    but not do `action` (or its `lock` stops the action: admins too); return None when
    allowed.  Admins may do everything else."""
    check_gate(principal)
    if isinstance(perms, str):
        perms = Permissions.parse(perms)
    needed = ACTION_RIGHTS.get(action)
    if needed is None:
        raise Forbidden(f"unknown action {action!r} on {what} {ident}",
                        hint=f"actions: {', '.join(sorted(ACTION_RIGHTS))}")
    rights = rights_of(principal, obj_owner, obj_group, perms)
    if Right.USE not in rights:
        raise NotFound(what, ident, listing)
    if needed not in rights:
        raise Forbidden(f"user {principal.user} may not {action} {what} {ident} "
                        f"(permissions {perms})",
                        hint="ask its owner to share it or change its permissions")
    check_lock(lock, action, what=what, ident=ident)
