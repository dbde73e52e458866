from __future__ import annotations

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, NotFound
from stratuslab.services.policy import Permissions, authorize, authorize_service

ALICE = Principal("alice", 1, ("physics",), frozenset({"cloud-access"}), "password")
BOB = Principal("bob", 2, ("physics",), frozenset({"cloud-access"}), "password")
CAROL = Principal("carol", 3, ("chemistry",), frozenset({"user"}), "ldap")
ADMIN = Principal("root", 0, (), frozenset({"admin"}), "password")
PENDING = Principal("dave", 4, (), frozenset(), "ldap")


@pytest.mark.parametrize("action", ["list", "read", "update", "action", "delete", "chown"])
def test_other_users_private_objects_are_not_found(action) -> None:
    with pytest.raises(NotFound):
        authorize(BOB, action, 1, "physics", "um-------", what="VM", ident=17)


def test_owner_may_use_and_manage_but_not_admin_by_default() -> None:
    authorize(ALICE, "read", 1, "physics")
    authorize(ALICE, "delete", 1, "physics")
    with pytest.raises(Forbidden):
        authorize(ALICE, "chmod", 1, "physics")


def test_group_use_lets_members_see_but_not_change() -> None:
    authorize(BOB, "read", "alice", "physics", "um-u-----")
    with pytest.raises(Forbidden, match="may not delete VM 17"):
        authorize(BOB, "delete", "alice", "physics", "um-u-----", what="VM", ident=17)
    with pytest.raises(NotFound):
        authorize(CAROL, "read", "alice", "physics", "um-u-----")


def test_other_bits_and_octal_form_agree() -> None:
    assert Permissions.parse("640") == Permissions.parse("um-u-----")
    assert str(Permissions.parse("644")) == "um-u--u--"
    authorize(CAROL, "read", 1, "physics", "644")


def test_admin_may_do_everything() -> None:
    assert authorize(ADMIN, "chown", 1, "physics", "u--------") is None  # no refusal raised


def test_without_cloud_access_nothing_is_allowed() -> None:
    with pytest.raises(Forbidden, match="no cloud access"):
        authorize(PENDING, "read", 4, None)


def test_only_admins_see_quarantine() -> None:
    authorize_service(ADMIN, "quarantine.list")
    with pytest.raises(Forbidden, match="only administrators"):
        authorize_service(ALICE, "quarantine.list")


def test_marketplace_upload_needs_endorser_role_and_a_certificate() -> None:
    endorser_cert = Principal("eve", 5, (), frozenset({"cloud-access", "endorser"}), "x509")
    endorser_pw = Principal("eve", 5, (), frozenset({"cloud-access", "endorser"}), "password")
    authorize_service(endorser_cert, "marketplace.upload")
    with pytest.raises(Forbidden, match="certificate"):
        authorize_service(endorser_pw, "marketplace.upload")
    with pytest.raises(Forbidden):
        authorize_service(ALICE, "marketplace.upload")
