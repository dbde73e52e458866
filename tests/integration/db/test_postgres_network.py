"""Leases on a real PostgreSQL: concurrent acquires lose races inside SAVEPOINTs and retry, so
no address is ever leased twice and none is skipped."""

from __future__ import annotations

import pytest
from tests.contract.test_network_repo_sql import make_uow, race_leases
from tests.integration.db.conftest import reset

pytestmark = pytest.mark.integration


def test_concurrent_acquires_never_duplicate_an_address_postgresql(postgres_url: str) -> None:
    reset(postgres_url)
    uow = make_uow(postgres_url)
    race_leases(uow, threads=8, each=6)
    uow.engine.dispose()
