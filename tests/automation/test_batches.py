"""Event chains in batches: many events at once fire as the events one by one (dedupe, loop guard,
waits), a rerun fires nothing new, and the statements of a batch do not grow with its events."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kvitt.automation import jobs as automation_jobs
from kvitt.automation import service as automation
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.automation.schemas import RuleCreate
from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant
from tests.conftest import TENANT_A, TENANT_B, make_tenant
from tests.webhooks.batching import counting_statements, issue_many, pending_events

RULES = [
    {
        "name": "Företag",
        "trigger": "invoice.issued",
        "conditions": [{"field": "customer.type", "op": "eq", "value": "company"}],
        "actions": [{"type": "add_tag", "tag": "b2b"}],
    },
    {
        "name": "Påminn om tre dagar",
        "trigger": "invoice.issued",
        "wait": {"days": 3},
        "actions": [{"type": "add_tag", "tag": "följ-upp"}],
    },
    {"name": "Öppnad", "trigger": "invoice.opened", "actions": [{"type": "add_tag", "tag": "läst"}]},
    {"name": "Avstängd", "trigger": "invoice.issued", "enabled": False, "actions": [{"type": "add_tag", "tag": "x"}]},
]


def add_rules(db: Database, tenant_id: int) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        for rule in RULES:
            automation.create_rule(session, tenant, RuleCreate.model_validate(rule))


def firings(db: Database, tenant_id: int) -> list[tuple[Any, ...]]:
    """(rule, invoice number, state, error, has a job, wait in days) without ids and times."""
    with db.transaction() as session:
        jobs = {
            job.payload["firing_id"]
            for job in session.scalars(select(OutboxJob).where(OutboxJob.kind == automation.RUN_JOB))
        }
        rows = session.execute(
            select(AutomationRule.name, Invoice.number, AutomationFiring)
            .join(AutomationRule, AutomationRule.id == AutomationFiring.rule_id)
            .join(Invoice, Invoice.id == AutomationFiring.invoice_id)
            .where(AutomationFiring.tenant_id == tenant_id)
        )
        return sorted(
            (
                name,
                number,
                f.state,
                f.error or "",
                f.id in jobs,
                (f.run_at - f.created_at).days,
                f.event_type,
                f.customer_id is not None,
            )
            for name, number, f in rows
        )


def opened_many_times(invoice_id: int, times: int, tag: str) -> list[dict[str, Any]]:
    return [
        {"type": "invoice.opened", "invoice_id": invoice_id, "data": {}, "event_job_id": f"{tag}{i}"}
        for i in range(times)
    ]


def test_a_batch_of_events_fires_as_the_events_one_by_one(db: Database) -> None:
    batched, _ = make_tenant(db, **TENANT_A)
    single, _ = make_tenant(db, **TENANT_B)
    for tenant_id in (batched, single):
        add_rules(db, tenant_id)
        issue_many(db, tenant_id, 30)

    # The issued invoices, and one invoice opened eight times in a day: a loop the guard stops.
    first_invoice = {
        tenant_id: min(int(e["invoice_id"]) for e in pending_events(db, tenant_id)) for tenant_id in (batched, single)
    }
    batch = pending_events(db, batched) + opened_many_times(first_invoice[batched], 8, "open")
    with db.transaction() as session:
        fired = automation.on_events(session, batched, batch)
    for event in pending_events(db, single) + opened_many_times(first_invoice[single], 8, "open"):
        with db.transaction() as session:
            automation_jobs.match_rules(session, single, [event])

    made = firings(db, batched)
    assert made == firings(db, single)
    assert fired == len(made) == 10 + 30 + 8
    states = [(m[0], m[2]) for m in made]
    assert states.count(("Öppnad", "skipped")) == 3 and states.count(("Öppnad", "waiting")) == 5
    assert states.count(("Påminn om tre dagar", "waiting")) == 30
    assert all(m[5] == 3 for m in made if m[0] == "Påminn om tre dagar")
    assert not any(m[0] == "Avstängd" for m in made)

    # The same events again (their jobs ran twice): nothing new fires.
    with db.transaction() as session:
        assert automation.on_events(session, batched, batch) == 0
    assert firings(db, batched) == made


def test_rule_matching_is_set_based(db: Database) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    add_rules(db, tenant_id)
    issue_many(db, tenant_id, 3)
    small = pending_events(db, tenant_id)
    issue_many(db, tenant_id, 60, first=3)
    large = [e for e in pending_events(db, tenant_id) if e not in small]
    assert len(large) >= 20 * len(small)
    statements = []
    for events in (small, large):
        with db.transaction() as session, counting_statements(db) as seen:
            assert automation.on_events(session, tenant_id, events) > 0
            session.flush()
        statements.append(len(seen))
    assert statements[0] == statements[1], statements

    # A tenant without rules for these events pays one statement per batch.
    other, _ = make_tenant(db, **TENANT_B)
    issue_many(db, other, 5)
    events = pending_events(db, other)
    with db.transaction() as session, counting_statements(db) as seen:
        assert automation.on_events(session, other, events) == 0
    assert len(seen) == 1


def _imports(path: Path, module: str) -> set[str]:
    """Every kvitt module ``module`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("kvitt")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kvitt"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_the_test_clock_and_event_chains_do_not_reach_the_worker() -> None:
    """automation.jobs -> automation.service -> testclock.service -> worker -> automation.jobs was a
    cycle: the worker imports every feature's jobs, so nothing a feature imports may import it."""
    root = Path(__file__).resolve().parents[2] / "src"
    modules = {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (root / "kvitt").rglob("*.py")
    }
    graph = {name: {m for m in _imports(path, name) if m in modules} for name, path in modules.items()}
    for start in ("kvitt.testclock.service", "kvitt.automation.service", "kvitt.automation.jobs"):
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo += graph.get(current, set())
        assert "kvitt.worker" not in seen, f"{start} reaches kvitt.worker"


def test_a_batch_of_firings_runs_as_the_firings_one_by_one_in_constant_statements(db: Database) -> None:
    batched, _ = make_tenant(db, **TENANT_A)
    single, _ = make_tenant(db, **TENANT_B)
    # Holds when the event comes (no tags yet); after the wait it is checked again, and by then
    # the first rule has tagged the companies: a firing must see what the ones before it in the
    # same batch did.
    untagged = {
        "name": "Inte företag, sedan",
        "trigger": "invoice.issued",
        "wait": {"days": 1},
        "conditions": [{"field": "customer.tags", "op": "not_contains", "value": "b2b"}],
        "actions": [{"type": "add_tag", "tag": "privat"}],
    }
    for tenant_id in (batched, single):
        add_rules(db, tenant_id)
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            automation.create_rule(session, tenant, RuleCreate.model_validate(untagged))
        issue_many(db, tenant_id, 30)
        events = pending_events(db, tenant_id)
        with db.transaction() as session:
            automation.on_events(session, tenant_id, events)

    def waiting(tenant_id: int) -> list[int]:
        with db.transaction() as session:
            query = select(AutomationFiring.id).where(AutomationFiring.tenant_id == tenant_id)
            return sorted(session.scalars(query.where(AutomationFiring.state == "waiting")))

    batch, one_by_one = waiting(batched), waiting(single)
    assert len(batch) == len(one_by_one) == 10 + 30 + 30
    with db.transaction() as session, counting_statements(db) as seen:
        tenant = session.get(Tenant, batched)
        assert tenant is not None
        automation.run_firings(session, tenant, batch)
        session.flush()
    for firing_id in one_by_one:
        with db.transaction() as session:
            tenant = session.get(Tenant, single)
            assert tenant is not None
            automation.run_firing(session, tenant, firing_id)
    assert firings(db, batched) == firings(db, single)
    states = [(m[0], m[2]) for m in firings(db, batched)]
    assert states.count(("Företag", "done")) == 10
    assert states.count(("Inte företag, sedan", "done")) == 20
    assert states.count(("Inte företag, sedan", "skipped")) == 10
    # The firings, rules, invoices and customers are read once; per firing only its own writes,
    # and one savepoint for the whole batch (none per firing while no action fails).
    per_firing = ("UPDATE automation_firings", "UPDATE customers", "SAVEPOINT", "RELEASE SAVEPOINT")
    reads = [s for s in seen if not s.startswith(per_firing)]
    assert len(reads) <= 6, reads
    assert sum(s.startswith("SAVEPOINT") for s in seen) == 1, [s for s in seen if "SAVEPOINT" in s]


def test_a_failing_firing_in_a_batch_fails_alone_and_undoes_only_its_own_actions(db: Database) -> None:
    """The batch runs under one savepoint; when an action fails, the batch runs again with a
    savepoint per firing: the failed firing's other actions are undone, the rest done once."""
    batched, _ = make_tenant(db, **TENANT_A)
    single, _ = make_tenant(db, **TENANT_B)
    fails_for_companies = {
        "name": "SMS till företag",  # the customers have no phone number: the send fails
        "trigger": "invoice.issued",
        "conditions": [{"field": "customer.type", "op": "eq", "value": "company"}],
        "actions": [{"type": "add_tag", "tag": "sms"}, {"type": "send", "channel": "sms"}],
    }
    for tenant_id in (batched, single):
        add_rules(db, tenant_id)
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            automation.create_rule(session, tenant, RuleCreate.model_validate(fails_for_companies))
        issue_many(db, tenant_id, 30)
        with db.transaction() as session:
            automation.on_events(session, tenant_id, pending_events(db, tenant_id))

    def due_now(tenant_id: int) -> list[int]:
        with db.transaction() as session:
            query = select(AutomationFiring.id).where(
                AutomationFiring.tenant_id == tenant_id,
                AutomationFiring.state == "waiting",
                AutomationFiring.run_at <= AutomationFiring.created_at,
            )
            return sorted(session.scalars(query))

    due = due_now(batched)
    with db.transaction() as session:
        tenant = session.get(Tenant, batched)
        assert tenant is not None
        automation.run_firings(session, tenant, due)
    for firing_id in due_now(single):
        with db.transaction() as session:
            tenant = session.get(Tenant, single)
            assert tenant is not None
            automation.run_firing(session, tenant, firing_id)

    def without_ids(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:  # errors name customer ids
        return [(*row[:3], re.sub(r"\d+", "N", row[3]), *row[4:]) for row in rows]

    assert without_ids(firings(db, batched)) == without_ids(firings(db, single))
    states = [(m[0], m[2]) for m in firings(db, batched)]
    assert states.count(("SMS till företag", "failed")) == 10
    assert states.count(("Företag", "done")) == 10
    with db.transaction() as session:
        tags = [
            (c.attributes or {}).get("tags", [])
            for c in session.scalars(select(Customer).where(Customer.tenant_id == batched, Customer.type == "company"))
        ]
    assert tags == [["b2b"]] * 10  # the failed firings' "sms" tags undone, "b2b" written once
