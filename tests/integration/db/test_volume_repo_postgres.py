"""The VolumeRepo / StorageQuotaRepo contract (tests/contract/test_volume_repo_contract.py) on a
real PostgreSQL: the same race tests, where READ COMMITTED row locks decide the winner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.contract.test_volume_repo_contract import (  # noqa: F401  (collected here)
    UowFactory,
    sql_uow,
    test_attach_to_a_volume_not_ready_is_refused_with_its_state,
    test_concurrent_exclusive_attaches_exactly_one_wins,
    test_delete_guard_and_attach_race_exactly_one_wins,
    test_deleted_volumes_disappear_from_get_and_list,
    test_list_shows_own_and_public_volumes,
    test_quota_charges_are_conditional_and_never_exceed_the_limit,
    test_same_vm_attaching_again_changes_nothing,
    test_shared_attachments_coexist_but_exclude_a_writer,
)
from tests.integration.db.conftest import reset

pytestmark = pytest.mark.integration


@pytest.fixture
def uow(postgres_url: str) -> Iterator[UowFactory]:
    reset(postgres_url)
    factory = sql_uow(postgres_url)
    yield factory
    factory.engine.dispose()
