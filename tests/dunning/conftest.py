"""Riksbanken's reference rates come with migration 0008; on PostgreSQL the test database is
emptied between tests (TRUNCATE of every table), so put them back for the tests that use one."""

from __future__ import annotations

import importlib
from datetime import date

import pytest
from sqlalchemy import select

from kvitt.dunning.models import ReferenceRate


@pytest.fixture(autouse=True)
def _reference_rates(request: pytest.FixtureRequest) -> None:
    if "db" not in request.fixturenames:
        return
    db = request.getfixturevalue("db")
    seeds = importlib.import_module("kvitt.migrations.versions.0008_dunning").REFERENCE_RATES
    with db.transaction() as session:
        known = set(session.scalars(select(ReferenceRate.valid_from)))
        for day, rate, source in seeds:
            if date.fromisoformat(day) not in known:
                session.add(ReferenceRate(valid_from=date.fromisoformat(day), rate_bp=rate, source=source))
