"""A behaviour rule is counted with more memory and no parallel workers on PostgreSQL, for its
own statements only: in a read-only (autocommit) unit the settings are reset before the
connection goes back to the pool; in a transaction they end with it."""

from __future__ import annotations

from sqlalchemy import text

from kvitt.core.db import Database, is_postgresql
from kvitt.segments.service import WORK_MEM, roomy

BEHAVIOUR = [{"field": "open_balance", "op": "gt", "value": 0}]
ATTRIBUTE = [{"field": "attributes.plan", "op": "eq", "value": "Medium"}]


def test_the_settings_hold_inside_only(db: Database) -> None:
    with db.read() as session:
        if not is_postgresql(session):
            with roomy(session, BEHAVIOUR):  # nothing to set on SQLite
                assert session.execute(text("SELECT 1")).scalar() == 1
            return
        default = session.execute(text("SHOW work_mem")).scalar()
        assert default != WORK_MEM
        with roomy(session, ATTRIBUTE):  # a rule on the customer's own columns: nothing set
            assert session.execute(text("SHOW work_mem")).scalar() == default
        with roomy(session, BEHAVIOUR):
            assert session.execute(text("SHOW work_mem")).scalar() == WORK_MEM
            assert session.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
        assert session.execute(text("SHOW work_mem")).scalar() == default
    with db.transaction() as session, roomy(session, BEHAVIOUR):
        assert session.execute(text("SHOW work_mem")).scalar() == WORK_MEM
    with db.read() as session:
        assert session.execute(text("SHOW work_mem")).scalar() == default
        assert session.execute(text("SHOW max_parallel_workers_per_gather")).scalar() != "0"
