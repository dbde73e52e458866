"""The authorization policy, written out case by case (tables by hand, never derived from the
policy's own constants): who may do which action on an object with which permission bits, the
gate, the per-service rules, the permission syntax, and what each refusal says."""

from __future__ import annotations

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, InvalidInput, NotFound
from stratuslab.services.policy import (
    Permissions,
    Right,
    authorize,
    authorize_service,
    check_gate,
    check_may_start,
    rights_of,
)

OWNER = Principal("olive", 7, ("physics",), frozenset({"cloud-access"}), "password")
MEMBER = Principal("gus", 8, ("physics", "extra"), frozenset({"user"}), "password")
STRANGER = Principal("sam", 9, ("chemistry",), frozenset({"cloud-access"}), "password")
ADMIN = Principal("root", 0, (), frozenset({"admin"}), "password")
NOBODY = Principal("dave", 4, ("physics",), frozenset({"endorser"}), "x509")  # no cloud access

OK, HIDDEN, REFUSED = "ok", "not found", "forbidden"

#: (who, permissions, action) -> outcome; the object belongs to olive (id 7), group physics
CASES = [
    (OWNER, "um-------", "read", OK), (OWNER, "um-------", "delete", OK),
    (OWNER, "um-------", "chown", REFUSED), (OWNER, "uma------", "chmod", OK),
    (OWNER, "u--------", "update", REFUSED), (OWNER, "---------", "read", HIDDEN),
    (OWNER, "---u-----", "read", OK),  # olive is in physics too
    (MEMBER, "um-------", "read", HIDDEN), (MEMBER, "um-u-----", "read", OK),
    (MEMBER, "um-u-----", "attach", OK), (MEMBER, "um-u-----", "action", REFUSED),
    (MEMBER, "um-um----", "delete", OK), (MEMBER, "um-um----", "admin", REFUSED),
    (MEMBER, "um----u--", "list", OK), (MEMBER, "um-----m-", "delete", HIDDEN),
    (STRANGER, "um-um----", "read", HIDDEN), (STRANGER, "um-um-u--", "use", OK),
    (STRANGER, "um-um-u--", "manage", REFUSED), (STRANGER, "um-um-uma", "chown", OK),
    (STRANGER, "660", "read", HIDDEN), (STRANGER, "664", "read", OK),
    (STRANGER, "667", "chmod", OK), (STRANGER, "665", "delete", REFUSED),
    (ADMIN, "---------", "chown", OK), (ADMIN, "---------", "read", OK),
]


def _outcome(who: Principal, perms: str, action: str, owner: int | str = 7) -> str:
    try:
        authorize(who, action, owner, "physics", perms, what="VM", ident=17)
    except NotFound:
        return HIDDEN
    except Forbidden:
        return REFUSED
    return OK


@pytest.mark.parametrize("who,perms,action,expected", CASES,
                         ids=[f"{c[0].user}-{c[1]}-{c[2]}" for c in CASES])
def test_each_case_gets_its_answer(who: Principal, perms: str, action: str,
                                   expected: str) -> None:
    assert _outcome(who, perms, action) == expected


def test_the_owner_is_matched_by_id_or_by_name_never_by_the_other() -> None:
    assert _outcome(OWNER, "um-------", "read", owner=7) == OK
    assert _outcome(OWNER, "um-------", "read", owner="olive") == OK
    assert _outcome(OWNER, "um-------", "read", owner=8) == HIDDEN
    assert _outcome(OWNER, "um-------", "read", owner="7") == HIDDEN
    assert _outcome(STRANGER, "um-------", "read", owner="olive") == HIDDEN


def test_an_object_without_group_grants_nothing_through_groups() -> None:
    assert rights_of(MEMBER, 7, None, Permissions.parse("um-um----")) == set()
    assert rights_of(MEMBER, 7, "physics", Permissions.parse("um-um----")) == {Right.USE,
                                                                               Right.MANAGE}
    assert rights_of(ADMIN, 7, None, Permissions.parse("---------")) == set(Right)


def test_a_hidden_object_is_reported_missing_with_the_listing_command() -> None:
    with pytest.raises(NotFound) as err:
        authorize(STRANGER, "read", 7, "physics", "um-------", what="volume", ident="3f2a",
                  listing="stratus describe-volumes")
    assert "volume 3f2a does not exist" in err.value.message
    assert "stratus describe-volumes" in err.value.full_message


def test_a_refusal_names_the_user_the_action_the_object_and_its_permissions() -> None:
    with pytest.raises(Forbidden) as err:
        authorize(MEMBER, "delete", 7, "physics", "um-u-----", what="VM", ident=17)
    assert err.value.message == "user gus may not delete VM 17 (permissions um-u-----)"
    assert err.value.hint == "ask its owner to share it or change its permissions"


def test_an_unknown_action_is_refused_and_the_known_ones_listed() -> None:
    with pytest.raises(Forbidden) as err:
        authorize(ADMIN, "frob", 7, "physics", what="VM", ident=17)
    assert err.value.message == "unknown action 'frob' on VM 17"
    assert err.value.hint == ("actions: action, admin, attach, chmod, chown, delete, list, "
                              "manage, read, update, use")


@pytest.mark.parametrize("who,passes", [(OWNER, True), (MEMBER, True), (ADMIN, True),
                                        (NOBODY, False)])
def test_the_gate_needs_cloud_access_user_or_admin(who: Principal, passes: bool) -> None:
    if passes:
        assert check_gate(who) is None
        return
    with pytest.raises(Forbidden) as err:
        check_gate(who)
    assert err.value.message == "user dave has no cloud access"
    assert err.value.hint == "ask an administrator to approve your registration (cloud-access)"
    with pytest.raises(Forbidden, match="no cloud access"):
        authorize(NOBODY, "read", 4, "physics", "uma------")


@pytest.mark.parametrize("rule", ["quarantine.list", "quarantine.purge", "registration.approve",
                                  "users.manage", "hosts.manage"])
def test_admin_only_services(rule: str) -> None:
    assert authorize_service(ADMIN, rule) is None
    with pytest.raises(Forbidden) as err:
        authorize_service(OWNER, rule)
    assert err.value.message.startswith(f"user olive may not {rule}: only administrators ")
    assert err.value.hint == "ask an administrator for the role"


def test_an_unknown_service_rule_is_refused_even_for_admins() -> None:
    with pytest.raises(Forbidden) as err:
        authorize_service(ADMIN, "nuke.everything")
    assert err.value.message == "no authorization rule 'nuke.everything'"
    assert err.value.hint == "report this as a bug"


@pytest.mark.parametrize("method,roles,outcome", [
    ("x509", {"cloud-access", "endorser"}, OK),
    ("proxy", {"cloud-access", "endorser"}, OK),
    ("voms", {"cloud-access", "endorser"}, OK),
    ("password", {"cloud-access", "endorser"}, "certificate"),
    ("token", {"cloud-access", "endorser"}, "certificate"),
    ("x509", {"cloud-access"}, "role"),
    ("x509", {"admin"}, OK),
    ("password", {"admin"}, "certificate"),  # even an admin signs with a certificate
])
def test_marketplace_uploads_need_the_endorser_role_and_a_certificate(
    method: str, roles: set[str], outcome: str
) -> None:
    who = Principal("eve", 5, (), frozenset(roles), method)
    if outcome == OK:
        assert authorize_service(who, "marketplace.upload") is None
        return
    with pytest.raises(Forbidden) as err:
        authorize_service(who, "marketplace.upload")
    why = "only endorsers authenticated with their certificate may upload metadata"
    if outcome == "certificate":
        assert err.value.message == f"user eve authenticated by {method}: {why}"
        assert err.value.hint == "connect with your certificate (/cert endpoint)"
    else:
        assert err.value.message == f"user eve may not marketplace.upload: {why}"
        assert err.value.hint == "ask an administrator for the role"


@pytest.mark.parametrize("text,owner,group,other", [
    ("um-u-----", "um", "u", ""), ("uma------", "uma", "", ""), ("---------", "", "", ""),
    ("-m---au--", "m", "a", "u"), ("640", "um", "u", ""), ("751", "uma", "ua", "a"),
    ("000", "", "", ""), ("7 7 7", "uma", "uma", "uma"), ("um- u-- ---", "um", "u", ""),
])
def test_permission_syntax(text: str, owner: str, group: str, other: str) -> None:
    p = Permissions.parse(text)
    assert (p.owner, p.group, p.other) == tuple(frozenset(Right(c) for c in s)
                                                 for s in (owner, group, other))
    assert str(p) == "".join(s.ljust(3, "-") if s else "---" for s in (
        "".join(c if c in owner else "-" for c in "uma"),
        "".join(c if c in group else "-" for c in "uma"),
        "".join(c if c in other else "-" for c in "uma")))


@pytest.mark.parametrize("text", ["", "64", "6400", "um-u----", "um-u------", "abc", "6a0",
                                  "umx------", "UM-------", "u-m------", "uu-------", "680"])
def test_bad_permission_syntax_says_what_is_expected(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Permissions.parse(text)
    assert err.value.message == (f"permissions {text.replace(' ', '')!r} are neither 9 letters "
                                 "nor 3 digits")
    assert err.value.hint == 'write e.g. "um-u-----" or "640"'


def test_private_is_owner_use_and_manage() -> None:
    assert str(Permissions()) == "um-------"


def test_defaults_name_an_object_and_the_instance_listing_and_keep_it_private() -> None:
    with pytest.raises(NotFound) as err:
        authorize(STRANGER, "read", 7, "physics")
    assert err.value.message == "object ? does not exist"
    assert err.value.hint == "list them with: stratus describe-instance"
    with pytest.raises(NotFound):
        authorize(MEMBER, "read", 7, "physics")  # private: the group sees nothing
    assert authorize(OWNER, "delete", 7, "physics") is None
    with pytest.raises(Forbidden) as refused:
        authorize(OWNER, "chmod", 7, "physics")
    assert refused.value.message == "user olive may not chmod object ? (permissions um-------)"


def test_a_limited_proxy_may_not_start_vms() -> None:
    limited = Principal("olive", 7, ("physics",), frozenset({"cloud-access"}), "proxy",
                        limited=True)
    assert check_may_start(OWNER) is None
    assert authorize(limited, "delete", 7, "physics") is None  # it may still manage
    with pytest.raises(Forbidden) as err:
        check_may_start(limited)
    assert err.value.message == ("user olive connected with a limited proxy, which may not "
                                 "start VMs")
    assert err.value.hint == ("make a full proxy (grid-proxy-init or voms-proxy-init without "
                              "-limited)")
    with pytest.raises(Forbidden, match="no cloud access"):
        check_may_start(NOBODY)
