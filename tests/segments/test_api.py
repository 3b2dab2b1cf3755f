"""``/api/v1/segments``: save with checks, count, preview, customers; chosen in dunning and chains."""

from __future__ import annotations

from typing import Any

from kvitt.core.db import Database
from kvitt.customers.models import Customer
from kvitt.dunning import policies
from kvitt.segments import service
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.segments.isolation_cases import _created

MEDIUM = {"field": "attributes.plan", "op": "eq", "value": "Medium"}


def _customers(api: Api, plans: list[str | None]) -> list[int]:
    ids = []
    for n, plan in enumerate(plans):
        attributes = {"plan": plan} if plan else {}
        ids.append(
            _created(api.post("/customers", {"customer_no": f"K{n}", "name": f"Kund {n}", "attributes": attributes}))[
                "id"
            ]
        )
    return ids


def test_create_count_preview_and_customers_with_pagination(api: Api) -> None:
    ids = _customers(api, ["Medium", "Bas", "Medium", None, "Medium"])
    segment = _created(api.post("/segments", {"name": "Medium", "match": "all", "conditions": [MEDIUM]}))
    assert segment["customer_count"] == 3 and segment["counted_at"] is not None
    preview = api.post(
        "/segments/preview",
        {"match": "any", "conditions": [MEDIUM, {"field": "attributes.plan", "op": "eq", "value": "Bas"}]},
    )
    assert preview.status_code == 200 and preview.json()["count"] == 4
    assert preview.json()["text"].startswith("4 customers, e.g. Kund 0")
    first = api.get(f"/segments/{segment['id']}/customers", params={"limit": 2}).json()
    assert [c["id"] for c in first["data"]] == [ids[4], ids[2]] and first["has_more"]
    rest = api.get(f"/segments/{segment['id']}/customers", params={"limit": 2, "starting_after": ids[2]}).json()
    assert [c["id"] for c in rest["data"]] == [ids[0]] and not rest["has_more"]


def test_update_recounts_and_delete(api: Api) -> None:
    _customers(api, ["Medium", "Bas"])
    segment = _created(api.post("/segments", {"name": "Medium", "conditions": [MEDIUM]}))
    changed = api.patch(
        f"/segments/{segment['id']}",
        {"match": "any", "conditions": [MEDIUM, {"field": "attributes.plan", "op": "eq", "value": "Bas"}]},
    )
    assert changed.status_code == 200 and changed.json()["customer_count"] == 2
    assert api.post("/segments", {"name": "Medium", "conditions": []}).status_code == 409
    assert api.delete(f"/segments/{segment['id']}").json()["deleted"] is True
    assert api.get(f"/segments/{segment['id']}").status_code == 404


def test_bad_rules_are_refused_at_save_time_naming_the_condition(api: Api) -> None:
    cases: list[dict[str, Any]] = [
        {"field": "attributes.plan.name", "op": "eq", "value": "x"},
        {"field": "type", "op": "eq", "value": 3},
        {"field": "no_such_field", "op": "eq", "value": "x"},
        {"field": "open_balance", "op": "gt", "value": "lots"},
    ]
    for bad in cases:
        refused = api.post("/segments", {"name": "X", "conditions": [MEDIUM, bad]})
        assert refused.status_code == 400 or refused.status_code == 422, refused.text
        assert refused.json()["error"]["param"] == "conditions[1]", refused.text
    assert api.get("/segments").json()["data"] == []


def test_a_dunning_policy_can_choose_a_segment(api: Api, db: Database) -> None:
    ids = _customers(api, ["Medium", "Bas"])
    segment = _created(api.post("/segments", {"name": "Medium", "conditions": [MEDIUM]}))
    body = {
        "name": "Mild",
        "priority": 1,
        "rules": [{"field": "segment", "op": "eq", "value": segment["id"]}],
        "steps": [{"days": 30, "after": "due"}],
    }
    policy = _created(api.post("/dunning-policies", body))
    with db.read() as session:
        tenant = session.get_one(Tenant, api.tenant_id)
        active = policies.active_in_order(session, tenant)
        from sqlalchemy import select

        chosen = dict(
            session.execute(
                select(Customer.id, policies.policy_of_customer(active, service.business_date(session, tenant))).where(
                    Customer.tenant_id == tenant.id
                )
            ).all()
        )
    default = next(p.id for p in active if p.is_default)
    assert chosen == {ids[0]: policy["id"], ids[1]: default}
    wrong = {**body, "name": "W", "rules": [{"field": "segment", "op": "gt", "value": 1}]}
    assert api.post("/dunning-policies", wrong).status_code in (400, 422)


def test_an_event_chain_can_name_segments(api: Api, db: Database) -> None:
    ids = _customers(api, ["Medium", "Bas"])
    segment = _created(api.post("/segments", {"name": "Medium", "conditions": [MEDIUM]}))
    from kvitt.automation import conditions
    from kvitt.automation import service as automation

    with db.read() as session:
        tenant = session.get_one(Tenant, api.tenant_id)
        facts = automation.facts_for_many(
            session,
            tenant,
            [{"type": "x", "customer_id": i} for i in ids],
            today=service.business_date(session, tenant),
        )
    rule = [{"field": "customer.segments", "op": "contains", "value": segment["id"]}]
    assert [conditions.holds(rule, f) for f in facts] == [True, False]


def test_the_daily_job_keeps_the_count_current(api: Api, db: Database) -> None:
    from kvitt.core.outbox import OutboxJob
    from kvitt.segments.jobs import RECOUNT_JOB, run_recount

    _customers(api, ["Medium"])
    segment = _created(api.post("/segments", {"name": "Medium", "conditions": [MEDIUM]}))
    assert segment["customer_count"] == 1
    _created(api.post("/customers", {"customer_no": "NEW", "name": "Ny", "attributes": {"plan": "Medium"}}))
    assert api.get(f"/segments/{segment['id']}").json()["customer_count"] == 1  # counted when saved
    with db.transaction() as session:
        run_recount(session, OutboxJob(kind=RECOUNT_JOB, tenant_id=api.tenant_id, payload={}))
    assert api.get(f"/segments/{segment['id']}").json()["customer_count"] == 2
