"""The hand-over to collection, end to end against the agency simulator over HTTP.

Fees at hand-over: a consumer's inkassokrav at most 180 kr (förordning 1981:1057 2 §), a
company's 450 kr förseningsersättning instead (Lag 1981:739 4 a §).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob, batch_handler_for, handler_for
from kvitt.dunning import collection, extensions, jobs, tick
from kvitt.dunning.models import CollectionCase, CollectionEvent
from kvitt.invoices import service as invoices
from kvitt.invoices.models import InvoiceEvent
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.collection_agency import create_app
from tests.conftest import Api
from tests.dunning.helpers import load

DAY = "2026-03-15"


@pytest.fixture
def agency() -> Iterator[RunningServer]:
    with serve_in_thread(create_app({"sim-key": "norrsken"})) as server:
        yield server


def _overdue(api: Api, no: str, kind: str) -> dict:  # type: ignore[type-arg]
    customer = api.post("/customers", {"customer_no": no, "name": f"Kund {no}", "type": kind}).json()
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 40000, "vat_rate": 25}
    body = {"customer": customer["id"], "lines": [line], "invoice_date": "2026-01-01", "due_date": "2026-01-31"}
    draft = api.post("/invoices", body).json()
    return dict(api.post(f"/invoices/{draft['id']}/issue").json())


def _run_jobs(db: Database, kind: str, payload: dict | None = None) -> int:  # type: ignore[type-arg]
    with db.transaction() as session:
        found = list(session.scalars(select(OutboxJob).where(OutboxJob.kind == kind, OutboxJob.state == "pending")))
        if payload is not None:
            found = [OutboxJob(tenant_id=found[0].tenant_id if found else 1, kind=kind, payload=payload)]
        handler, batch = handler_for(kind), batch_handler_for(kind)
        assert handler is not None or batch is not None
        for job in found:
            if batch is not None:
                assert not batch(session, [job])
            elif handler is not None:
                handler(session, job)
            job.state = "done"
        return len(found)


def test_hand_over_submit_collect_and_return(api: Api, db: Database, agency: RunningServer) -> None:
    steps = [{"days": 30, "after": "due", "action": "collection", "fee": 18000, "interest": True}]
    assert api.post("/dunning-policies", {"name": "Inkasso", "priority": 1, "steps": steps}).status_code == 201
    assert api.patch("/dunning-settings", {"agency_url": agency.url, "agency_api_key": "sim-key"}).status_code == 200
    person = _overdue(api, "P1", "individual")
    company = _overdue(api, "F1", "company")
    result = api.post("/dunning/run", {"date": DAY}).json()
    assert result["collections"] == 2 and result["reminders"] == 0
    cases = {c["invoice"]: c for c in api.get("/collection-cases").json()["data"]}
    assert (cases[person["id"]]["fee_kind"], cases[person["id"]]["fee"]) == ("inkassokrav", 18000)
    assert (cases[company["id"]]["fee_kind"], cases[company["id"]]["fee"]) == ("forseningsersattning", 45000)
    for invoice in (person, company):
        assert api.get(f"/invoices/{invoice['id']}").json()["state"] == "in_collection"
        # the case carries the fee and the late interest, as a charge invoice handed over with it
        assert cases[invoice["id"]]["charges"] > cases[invoice["id"]]["fee"]
    assert api.post("/dunning/run", {"date": DAY}).json()["collections"] == 0

    assert _run_jobs(db, tick.SUBMIT_CASE_JOB) == 2
    opened = {c["invoice"]: c for c in api.get("/collection-cases").json()["data"]}
    assert {c["state"] for c in opened.values()} == {"open"}
    sim = httpx.Client(base_url=agency.url, headers={"Authorization": "Bearer sim-key"}, timeout=10)
    remote = sim.get(f"/v1/cases/{opened[person['id']]['external_id']}").json()
    assert remote["principal"] == person["total"] and remote["fee_kind"] == "inkassokrav"

    # The debtor pays the agency in full for one case; the other is given back uncollectable.
    paid_case = opened[person["id"]]["external_id"]
    owed = sim.get(f"/v1/cases/{paid_case}").json()["outstanding"]
    assert sim.post(f"/v1/cases/{paid_case}/payments", json={"amount": owed, "date": "2026-04-02"}).status_code == 200
    returned_case = opened[company["id"]]["external_id"]
    assert sim.post(f"/v1/cases/{returned_case}/close", json={"reason": "uncollectable"}).status_code == 200

    _run_jobs(db, jobs.SYNC_JOB, {"date": "2026-04-03"})
    assert api.get(f"/invoices/{person['id']}").json()["state"] == "paid"
    assert api.get(f"/invoices/{company['id']}").json()["state"] == "overdue"
    types = [e["type"] for e in api.get(f"/invoices/{person['id']}/events").json()["data"]]
    assert "collection_payment" in types and "in_collection" in types
    company_types = [e["type"] for e in api.get(f"/invoices/{company['id']}/events").json()["data"]]
    assert "collection_ended" in company_types
    final = {c["invoice"]: c for c in api.get("/collection-cases").json()["data"]}
    assert final[person["id"]]["collected"] == owed and final[company["id"]]["closed_reason"] == "uncollectable"

    # Reading the agency's events again from the start applies none of them twice.
    with db.transaction() as session:
        tenant = load(session, api.tenant_id)
        extensions.settings_of(session, tenant).agency_cursor = 0
        events_before = session.scalar(select(func.count()).select_from(CollectionEvent))
        assert collection.sync(session, tenant, collection.agency_for(session, tenant), today=date(2026, 4, 4)) == 0  # type: ignore[arg-type]
        assert session.scalar(select(func.count()).select_from(CollectionEvent)) == events_before
        assert invoices.get(session, tenant, person["id"]).paid == person["total"]
        charges = session.scalars(select(CollectionCase.data)).all()
        assert all(data["charge_invoices"] for data in charges)
        assert (
            session.scalar(
                select(func.count()).select_from(InvoiceEvent).where(InvoiceEvent.type == "collection_payment")
            )
            == 1
        )

    export = api.get("/collection-cases/export")
    lines = export.text.strip().split("\r\n")
    assert lines[0].startswith("case_id;creditor_reference;") and len(lines) == 3
    assert any(";inkassokrav;18000" in line for line in lines) and any(
        ";forseningsersattning;45000" in line for line in lines
    )


def test_without_an_agency_the_case_waits_for_the_export_file(api: Api, db: Database) -> None:
    steps = [{"days": 1, "after": "due", "action": "collection"}]
    api.post("/dunning-policies", {"name": "Inkasso", "priority": 1, "steps": steps})
    _overdue(api, "P1", "individual")
    api.post("/dunning/run", {"date": DAY})
    assert _run_jobs(db, tick.SUBMIT_CASE_JOB) == 1
    (case,) = api.get("/collection-cases").json()["data"]
    assert case["state"] == "pending" and case["fee"] == 0 and case["fee_kind"] is None


def test_money_paid_to_the_creditor_directly_is_reported_to_the_agency(
    api: Api, db: Database, agency: RunningServer
) -> None:
    import kvitt.invoices.jobs  # noqa: F401 - the domain-event job's handler
    from kvitt.invoices.timeline import DOMAIN_EVENT_JOB

    steps = [{"days": 1, "after": "due", "action": "collection"}]
    api.post("/dunning-policies", {"name": "Inkasso", "priority": 1, "steps": steps})
    api.patch("/dunning-settings", {"agency_url": agency.url, "agency_api_key": "sim-key"})
    invoice = _overdue(api, "P1", "individual")
    api.post("/dunning/run", {"date": DAY})
    _run_jobs(db, tick.SUBMIT_CASE_JOB)
    (case,) = api.get("/collection-cases").json()["data"]
    paid = api.post(f"/invoices/{invoice['id']}/payments", {"amount": 10000, "date": "2026-03-20"})
    assert paid.status_code == 200, paid.text
    _run_jobs(db, DOMAIN_EVENT_JOB)
    assert _run_jobs(db, jobs.REPORT_PAYMENT_JOB) == 1
    sim = httpx.Client(base_url=agency.url, headers={"Authorization": "Bearer sim-key"}, timeout=10)
    remote = sim.get(f"/v1/cases/{case['external_id']}").json()
    assert remote["paid_directly"] == 10000 and remote["collected"] == 0
