"""Pure rules of volumes: validation messages, filters, visibility."""

from __future__ import annotations

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.errors import ErrorKind, Forbidden, InvalidInput, NotFound
from stratuslab.core.volumes import ParentKind, ParentRef, Volume, VolumeAttached
from stratuslab.services.storage import rules
from stratuslab.services.storage.filters import matches, parse_filter, parse_filters

ALICE = Principal("alice", 1, groups=("physics",))
BOB = Principal("bob", 2, groups=("chem",))
ADMIN = Principal("root", 0, roles=frozenset({"admin"}))
UUID = "3f2a0c1e-0000-4000-8000-000000000001"


def vol(**kw: object) -> Volume:
    base: dict[str, object] = dict(
        uuid=UUID, owner="alice", group="physics", size_gb=5, pool="default", tag="data"
    )
    base.update(kw)
    return Volume(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 2000, -1, 1025])
def test_size_out_of_range_is_refused_naming_the_range(size: int) -> None:
    with pytest.raises(InvalidInput) as err:
        rules.validate_size(size)
    assert f"{size} GiB" in err.value.message
    assert "between 1 and 1024" in err.value.full_message


@pytest.mark.parametrize("size", [1, 1024])
def test_size_limits_are_inclusive(size: int) -> None:
    assert rules.validate_size(size) == size


def test_size_that_is_not_an_integer_is_refused() -> None:
    with pytest.raises(InvalidInput):
        rules.validate_size("5")
    with pytest.raises(InvalidInput):
        rules.validate_size(True)


def test_tag_of_41_characters_is_refused_and_40_accepted() -> None:
    assert rules.validate_tag("x" * 40) == "x" * 40
    with pytest.raises(InvalidInput) as err:
        rules.validate_tag("x" * 41, what=f"volume {UUID}")
    assert UUID in err.value.message and "41 characters" in err.value.message
    assert "shorten -t/--tag to 40" in err.value.hint


def test_unknown_visibility_is_refused() -> None:
    with pytest.raises(InvalidInput, match="--private"):
        rules.validate_visibility("shared")


def test_malformed_uuid_is_not_found_not_invalid() -> None:
    with pytest.raises(NotFound):
        rules.validate_uuid("../../etc/passwd")
    assert rules.validate_uuid(UUID.upper()) == UUID


def test_private_volume_of_another_user_is_not_found_not_forbidden() -> None:
    with pytest.raises(NotFound) as err:
        rules.visible(BOB, vol(), UUID)
    assert err.value.kind == ErrorKind.NOT_FOUND
    assert "alice" not in err.value.full_message


def test_public_volume_is_visible_but_only_its_owner_changes_it() -> None:
    public = vol(visibility="public")
    assert rules.visible(BOB, public, UUID) is public
    with pytest.raises(Forbidden, match="only its owner may delete"):
        rules.changeable(BOB, public, UUID, "delete")
    assert rules.changeable(ADMIN, public, UUID, "delete") is public
    assert rules.changeable(ALICE, public, UUID, "delete") is public


def test_attached_volume_cannot_be_deleted_and_the_message_names_the_vm() -> None:
    with pytest.raises(VolumeAttached) as err:
        rules.check_deletable(vol(state="ready", attached_to=(17,)))
    assert err.value.full_message == (
        f"volume {UUID} is attached to VM 17; detach it first: stratus detach-volume -i 17 {UUID}"
    )


def test_volume_still_creating_cannot_be_attached() -> None:
    with pytest.raises(rules.VolumeStateError, match="wait until it is ready"):
        rules.check_attachable(vol(state="creating"), 3)


def test_filters_are_key_pattern_and_and_combined() -> None:
    v = vol(state="ready", attached_to=(4, 17))
    assert matches(v, parse_filters(["tag:^da", "owner:ali"]))
    assert not matches(v, parse_filters(["tag:^da", "owner:bob"]))
    assert matches(v, parse_filters(["size:^5$", "vm:17"]))
    assert matches(v, parse_filters(["id:0001$"]))
    assert matches(v, ())


@pytest.mark.parametrize(
    ("text", "hint"),
    [("tag", "key:pattern"), ("colour:red", "known fields"), ("tag:" + "a" * 201, "at most 200")],
)
def test_bad_filter_is_refused_with_the_way_out(text: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_filter(text)
    assert hint in err.value.full_message


def test_parent_reference_round_trips() -> None:
    ref = ParentRef.parse(f"volume:{UUID}")
    assert ref.kind == ParentKind.VOLUME and str(ref) == f"volume:{UUID}"
    with pytest.raises(ValueError):
        ParentRef.parse("snapshot:x")
