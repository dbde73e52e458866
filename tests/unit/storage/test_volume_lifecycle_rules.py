"""Volume lifecycle rules case by case (tables written by hand): which volume may be deleted,
attached or switched read-only, how an attachment's mode is chosen, and what each refusal says
(its way out included)."""

from __future__ import annotations

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, InvalidInput
from stratuslab.core.volumes import (
    AttachRefusal,
    Volume,
    VolumeAttached,
    VolumeNotFound,
    VolumeStateError,
)
from stratuslab.services.storage import rules

U = "3f2a0c1e-0000-4000-8000-000000000001"
ALICE = Principal("alice", 1, groups=("physics",))
GUS = Principal("gus", 3, groups=("physics",))  # same group, not the owner
ADMIN = Principal("root", 0, roles=frozenset({"admin"}))


def vol(**kw: object) -> Volume:
    base: dict[str, object] = dict(uuid=U, owner="alice", group="physics", size_gb=5,
                                   pool="default", tag="data", state="ready")
    base.update(kw)
    return Volume(**base)  # type: ignore[arg-type]


DELETE_CASES = [  # (kind, state, vm_id, attached_to) -> None or (error, message, hint)
    ("persistent", "ready", None, (), None),
    ("persistent", "failed", None, (), None),
    ("persistent", "quarantined", None, (), None),
    ("root", "quarantined", 17, (), None),
    ("volatile", "ready", None, (), None),  # a volatile disk whose VM is gone
    ("persistent", "creating", None, (), (VolumeStateError,
     f"volume {U} is creating; cannot delete (allowed from: ready)",
     f"wait until it is ready: stratus describe-volumes {U}")),
    ("persistent", "deleting", None, (), (VolumeStateError,
     f"volume {U} is deleting; cannot delete (allowed from: ready)",
     "it is being deleted; create a new volume")),
    ("persistent", "ready", None, (17,), (VolumeAttached, f"volume {U} is attached to VM 17",
                                          f"detach it first: stratus detach-volume -i 17 {U}")),
    ("volatile", "ready", 17, (17,), (VolumeStateError,
     f"volume {U} is volatile; cannot delete (allowed from: persistent volumes)",
     "it goes away with VM 17: stratus kill-instance 17")),
    ("root", "ready", 17, (17,), (VolumeStateError,
     f"volume {U} is root of VM 17; cannot delete (allowed from: quarantined root volumes)",
     "it goes to quarantine with VM 17: stratus kill-instance 17")),
]


@pytest.mark.parametrize("kind,state,vm_id,attached,expected", DELETE_CASES)
def test_which_volumes_may_be_deleted(kind: str, state: str, vm_id: int | None,
                                      attached: tuple[int, ...], expected: object) -> None:
    v = vol(kind=kind, state=state, vm_id=vm_id, attached_to=attached)
    if expected is None:
        assert rules.check_deletable(v) is None
        return
    error, message, hint = expected  # type: ignore[misc]
    with pytest.raises(error) as err:
        rules.check_deletable(v)
    assert (err.value.message, err.value.hint) == (message, hint)


@pytest.mark.parametrize("kind,state,expected", [
    ("persistent", "ready", None), ("root", "ready", None),
    ("volatile", "ready", (f"volume {U} is volatile; cannot attach to VM 9 (allowed from: "
                           "persistent or root volumes)",
                           "volatile disks live and die with their VM; create a persistent "
                           "volume instead")),
    ("persistent", "creating", (f"volume {U} is creating; cannot attach to VM 9 (allowed from: "
                                "ready)", f"wait until it is ready: stratus describe-volumes {U}")),
    ("persistent", "failed", (f"volume {U} is failed; cannot attach to VM 9 (allowed from: "
                              "ready)", f"delete it and create it again: stratus delete-volume {U}")),
    ("persistent", "quarantined", (f"volume {U} is quarantined; cannot attach to VM 9 (allowed "
                                   "from: ready)",
                                   "an admin may restore it before the quarantine is purged")),
])
def test_which_volumes_may_be_attached(kind: str, state: str, expected: object) -> None:
    v = vol(kind=kind, state=state)
    if expected is None:
        assert rules.check_attachable(v, 9) is None
        return
    with pytest.raises(VolumeStateError) as err:
        rules.check_attachable(v, 9)
    assert (err.value.message, err.value.hint) == expected


def test_a_lost_attach_race_names_the_holder_or_the_state() -> None:
    held = rules.refusal_error(vol(), 9, AttachRefusal("ready", holder=4))
    assert isinstance(held, VolumeAttached) and held.message == f"volume {U} is attached to VM 4"
    gone = rules.refusal_error(vol(), 9, AttachRefusal("deleting"))
    assert isinstance(gone, VolumeStateError)
    assert gone.message == f"volume {U} is deleting; cannot attach to VM 9 (allowed from: ready)"


#: (caller, volume visibility, volume readonly, write asked) -> read-only? or "refused"
MODE_CASES = [
    (ALICE, "private", False, None, False), (ALICE, "private", False, True, False),
    (ALICE, "private", False, False, True), (ALICE, "private", True, True, True),
    (ADMIN, "private", False, None, False), (ADMIN, "public", False, True, False),
    (GUS, "public", False, None, True), (GUS, "public", False, False, True),
    (GUS, "public", False, True, "refused"), (GUS, "public", True, True, True),
]


@pytest.mark.parametrize("who,visibility,readonly,write,expected", MODE_CASES)
def test_the_mode_of_an_attachment(who: Principal, visibility: str, readonly: bool,
                                   write: bool | None, expected: object) -> None:
    v = vol(visibility=visibility, readonly=readonly)
    if expected == "refused":
        with pytest.raises(Forbidden) as err:
            rules.attach_readonly(who, v, write=write)
        assert err.value.message == (f"volume {U} belongs to alice; only its owner may attach "
                                     "it for writing")
        assert err.value.hint == (f"attach it read-only: stratus run-instance --readonly-disk {U},"
                                  f" or make a copy you own: stratus create-volume --cow {U}")
        return
    assert rules.attach_readonly(who, v, write=write) is expected


@pytest.mark.parametrize("readonly_now,attached,wanted,refused", [
    (False, (), True, False), (True, (), False, False), (False, (3,), False, False),
    (True, (3,), True, False), (False, (3,), True, True), (True, (3, 4), False, True),
])
def test_switching_read_only_needs_a_detached_volume(readonly_now: bool,
                                                     attached: tuple[int, ...], wanted: bool,
                                                     refused: bool) -> None:
    v = vol(readonly=readonly_now, attached_to=attached)
    if not refused:
        assert rules.check_readonly_change(v, wanted) is None
        return
    with pytest.raises(VolumeAttached) as err:
        rules.check_readonly_change(v, wanted)
    assert err.value.message == f"volume {U} is attached to VM {attached[0]}"


def test_an_unknown_state_gets_the_generic_hint() -> None:
    err = rules.not_ready(vol(state="ready"), "frob", state="ready")
    assert err.hint == f"see stratus describe-volumes {U}"
    assert err.message == f"volume {U} is ready; cannot frob (allowed from: ready)"


@pytest.mark.parametrize("size,message", [
    (0, "size of new volume is 0 GiB; it must be between 1 and 1024 GiB"),
    (1025, "size of new volume is 1025 GiB; it must be between 1 and 1024 GiB"),
    ("5", "size of new volume must be a whole number of GiB, not '5'"),
    (True, "size of new volume must be a whole number of GiB, not True"),
    (2.5, "size of new volume must be a whole number of GiB, not 2.5"),
])
def test_size_refusals_say_the_range(size: object, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        rules.validate_size(size)
    assert (err.value.message, err.value.hint) == (message, "give -s/--size between 1 and 1024")
    assert rules.validate_size(1) == 1 and rules.validate_size(1024, what="x") == 1024


def test_tag_refusals_say_the_limit_or_the_bad_characters() -> None:
    assert rules.validate_tag("x" * 40) == "x" * 40
    with pytest.raises(InvalidInput) as err:
        rules.validate_tag("x" * 41, what="volume 7")
    assert (err.value.message, err.value.hint) == (
        "tag of volume 7 is 41 characters long; at most 40 are allowed",
        "shorten -t/--tag to 40 characters")
    with pytest.raises(InvalidInput) as err:
        rules.validate_tag("a\x1fb")
    assert (err.value.message, err.value.hint) == (
        "tag of new volume contains control characters", "use printable characters only")
    assert rules.validate_tag("a b~") == "a b~"  # space (32) and printable ones pass


def test_visibility_refusal_lists_the_choices() -> None:
    assert rules.validate_visibility("public") == "public"
    with pytest.raises(InvalidInput) as err:
        rules.validate_visibility("shared", what="volume 7")
    assert (err.value.message, err.value.hint) == (
        "visibility of volume 7 is 'shared'; it must be one of private, public",
        "use --private (the default) or --public")


def test_only_the_owner_or_an_admin_changes_a_visible_volume() -> None:
    public = vol(visibility="public")
    assert rules.changeable(ALICE, public, U, "resize") is public
    assert rules.changeable(ADMIN, public, U, "resize") is public
    with pytest.raises(Forbidden) as err:
        rules.changeable(GUS, public, U, "resize")
    assert (err.value.message, err.value.hint) == (
        f"volume {U} belongs to alice; only its owner may resize it",
        f"make a copy-on-write child you own: stratus create-volume --cow {U}")
    with pytest.raises(VolumeNotFound):
        rules.changeable(GUS, vol(), U, "resize")  # private: not even seen
    with pytest.raises(VolumeNotFound):
        rules.visible(ALICE, vol(state="deleted"), U)
