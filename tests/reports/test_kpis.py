"""The KPIs (``GET /api/v1/reports/kpis``) against a naive computation over every row.

The data is made through the real services and the real worker: invoices issued, delivered by
email to an SMTP server on loopback (one address refused, so its invoices fall back to a
letter) and by letter to a print folder, paid by hand, through the API and by bank payments
with BGMax channel codes, credited, written off and written about by their recipients. The
worker runs the events through the reports subscriber, which marks the days; the endpoint
refreshes them and reads the aggregates. ``tests/reports/naive.py`` computes every figure from
every row, from the definitions in docs/reports.md.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from kvitt.core import clock
from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import PENDING, OutboxJob
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import CreditIn, InvoiceCreate, LineIn
from kvitt.payments import service as payments
from kvitt.reports import facts, jobs, kpis
from kvitt.reports.models import DailyFact, DirtyDay, ReceivableFlow
from kvitt.tenants.models import Tenant
from kvitt.web import messages
from kvitt.worker import Worker
from tests.conftest import Api
from tests.loopback import Mailbox
from tests.reports.naive import naive_kpis, rounded

START = date(2026, 1, 1)
TODAY = date(2026, 9, 30)
_serial = itertools.count(1)


# --- helpers ------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def drain(db: Database, rounds: int = 30) -> None:
    """Run the worker until nothing is left, pulling waiting jobs (print slots, retries) forward."""
    worker = Worker(db, worker_id="kpi-test")
    for _ in range(rounds):
        with db.transaction() as session:
            session.execute(update(OutboxJob).where(OutboxJob.state == PENDING).values(run_at=utcnow()))
        if not worker.run_until_idle():
            return


def customer(api: Api, delivery_method: str, email: str | None = None) -> int:
    n = next(_serial)
    body = {
        "customer_no": f"K{n}",
        "name": f"Kund {n}",
        "address_line1": "Storgatan 1",
        "postal_code": "11122",
        "city": "Stockholm",
        "delivery_method": delivery_method,
    }
    if email:
        body["email"] = email
    return int(ok(api.post("/customers", body), 201)["id"])


def kpi(api: Api, start: date, end: date) -> dict[str, Any]:
    return dict(ok(api.get("/reports/kpis", params={"from": start.isoformat(), "to": end.isoformat()})))


def naive(db: Database, tenant_id: int, start: date, end: date) -> dict[str, Any]:
    with db.transaction() as session:
        return naive_kpis(session, tenant_id, start, end)


def assert_matches(api: Api, db: Database, start: date, end: date) -> dict[str, Any]:
    got = kpi(api, start, end)
    assert got == naive(db, api.tenant_id, start, end), (start, end)
    aging = ok(api.get("/reports/aging", params={"as_of": end.isoformat()}))
    assert got["outstanding"] == aging["total"]["total"]
    return got


# One invoice's life: customer (0 email, 1 refused email -> letter, 2 letter), invoice day
# after START, payment terms, kronor, payments (days after the invoice, percent of what is
# left, method), a message from the recipient, and an ending (none, credit, write-off).
METHODS = ("manual", "api", "bankgiro:1", "bankgiro:3", "bankgiro:4")
lives = st.tuples(
    st.integers(0, 2),
    st.integers(0, 150),
    st.integers(0, 40),
    st.integers(1, 900),
    st.lists(st.tuples(st.integers(0, 90), st.sampled_from((25, 50, 100)), st.sampled_from(METHODS)), max_size=2),
    st.booleans(),
    st.sampled_from(("none", "none", "credit", "write_off")),
)


def make_life(db: Database, tenant_id: int, customer_id: int, life: tuple[Any, ...]) -> None:
    _, day, terms, kronor, pays, message, ending = life
    invoice_date = START + timedelta(days=day)
    data = InvoiceCreate(
        customer=customer_id,
        lines=[LineIn(description="Abonnemang", quantity=Decimal(1), unit_price=kronor * 100, vat_rate=0)],
        invoice_date=invoice_date,
        due_date=invoice_date + timedelta(days=terms),
        invoice_fee=False,
    )
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        (invoice_id,) = invoices.create_and_issue(session, tenant, [data], today=invoice_date, actor="test")
    for offset, percent, method in pays:
        with db.transaction() as session:
            tenant = session.get_one(Tenant, tenant_id)
            invoice = invoices.get(session, tenant, invoice_id)
            if invoice.remaining <= 0 or invoice.state in ("credited", "written_off", "paid"):
                break
            amount = max(100, invoice.remaining * percent // 100)
            source, _, channel = method.partition(":")
            incoming = payments.Incoming(
                amount=min(amount, invoice.remaining),
                date=invoice_date + timedelta(days=offset),
                source=source,
                reference=invoice.ocr,
                details={"channel": int(channel)} if channel else {},
                invoice_id=None if source == "bankgiro" else invoice.id,
                customer_id=None if source == "bankgiro" else invoice.customer_id,
            )
            payments.receive(session, tenant, [incoming], file_id=None, today=TODAY, actor="test")
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        invoice = invoices.get(session, tenant, invoice_id)
        if message:
            messages.post_message(session, tenant_id, invoice_id, author="recipient", text="Varför så dyrt?")
        today = invoice_date + timedelta(days=100)
        if ending == "credit" and invoice.remaining > 0:
            invoices.credit(session, tenant, invoice, CreditIn(mode="remaining"), today=today, actor="test")
        elif ending == "write_off" and invoice.remaining > 0:
            invoices.write_off(session, tenant, invoice, today=today, reason="konkurs", actor="test")


@pytest.fixture
def people(api: Api, mailbox: Mailbox, delivery_env: dict[str, Any]) -> list[int]:
    mailbox.refuse["nej@example.se"] = "550 5.1.1 no such user"
    return [
        customer(api, "email", "ja@example.se"),
        customer(api, "email", "nej@example.se"),
        customer(api, "letter"),
    ]


# --- the figures against the naive computation --------------------------------------------------


def test_kpis_equal_the_naive_computation_over_generated_histories(
    api: Api, db: Database, people: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)

    @given(
        histories=st.lists(lives, min_size=1, max_size=5),
        periods=st.lists(st.tuples(st.integers(-5, 300), st.integers(0, 120)), min_size=1, max_size=3),
    )
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(histories: list[tuple[Any, ...]], periods: list[tuple[int, int]]) -> None:
        for life in histories:
            make_life(db, api.tenant_id, people[life[0]], life)
        drain(db)
        for offset, length in periods:
            start = START + timedelta(days=offset)
            assert_matches(api, db, start, start + timedelta(days=length))

    check()
    # Over the whole history, every channel and most methods have been seen.
    whole = assert_matches(api, db, START, TODAY)
    assert whole["invoices_issued"] > 0 and whole["invoices_sent"]["email"] > 0
    assert whole["invoices_sent"]["letter"] > 0 and whole["delivery_failures"]["by_channel"].get("email", 0) > 0


def test_a_worked_example(api: Api, db: Database, people: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Three invoices in March, figures worked out by hand."""
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    ja, nej, letter = people
    # 1000 kr by email, due 03-31, paid 03-25 by internet bank (6 days early).
    make_life(db, api.tenant_id, ja, (0, 59, 30, 1000, [(24, 100, "bankgiro:1")], True, "none"))
    # 500 kr to the refused address (letter), due 03-31, paid 04-10 on a paper slip (10 days late).
    make_life(db, api.tenant_id, nej, (1, 59, 30, 500, [(40, 100, "bankgiro:3")], False, "none"))
    # 300 kr by letter, due 03-16, half paid by hand on 03-20, the rest open.
    make_life(db, api.tenant_id, letter, (2, 60, 14, 300, [(18, 50, "manual")], False, "none"))
    drain(db)
    march = assert_matches(api, db, date(2026, 3, 1), date(2026, 3, 31))
    assert march["invoices_issued"] == 3 and march["invoiced"] == 180000
    assert march["paid"] == 100000 + 15000  # the paper slip is dated in April
    # Open at 03-31: the 500 kr (due that day: current) and 150 kr 15 days past due.
    assert march["outstanding"] == 65000 and march["overdue"] == 15000
    assert march["aging"] == {"current": 50000, "1_30": 15000, "31_60": 0, "61_90": 0, "over_90": 0, "total": 65000}
    assert march["dso_days"] == {"value": "11.2", "numerator": 65000 * 31, "denominator": 180000}
    assert march["invoices_sent"] == {"email": 1, "sms": 0, "einvoice": 0, "letter": 2}
    assert march["digital_send_share"]["value"] == "0.3333"
    assert march["delivery_failures"] == {"total": 1, "by_channel": {"email": 1}}
    assert march["payments"] == {"bankgiro_online": 1, "manual": 1}
    assert march["digital_payment_share"]["value"] == "0.5000"
    assert march["invoices_paid"]["web"] == 1 and march["invoices_paid"]["all"] == 1
    assert march["avg_days_paid_after_due"]["web"]["value"] == "-6.0"
    assert march["messages"] == 1 and march["messages_per_1000_invoices"]["value"] == "333.33"
    april = assert_matches(api, db, date(2026, 4, 1), date(2026, 4, 30))
    assert april["invoices_issued"] == 0 and april["paid"] == 50000
    assert april["invoices_paid"]["letter"] == 1 and april["avg_days_paid_after_due"]["letter"]["value"] == "10.0"
    assert april["paid_before_due_share"]["letter"]["value"] == "0.0000"
    assert april["payments"] == {"bankgiro_paper": 1} and april["digital_payment_share"]["value"] == "0.0000"


# --- the aggregates: refresh, rebuild, idempotency ----------------------------------------------


def _all_facts(db: Database, tenant_id: int) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    with db.transaction() as session:
        rows = session.execute(
            select(DailyFact.day, DailyFact.measure, DailyFact.dim, DailyFact.count, DailyFact.amount).where(
                DailyFact.tenant_id == tenant_id
            )
        )
        flows = session.execute(
            select(ReceivableFlow.day, ReceivableFlow.due_date, ReceivableFlow.amount).where(
                ReceivableFlow.tenant_id == tenant_id
            )
        )
        return {tuple(r) for r in rows}, {tuple(f) for f in flows}


def test_events_mark_days_and_a_rebuild_from_scratch_gives_the_same_aggregates(
    api: Api, db: Database, people: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    make_life(db, api.tenant_id, people[0], (0, 10, 30, 400, [(5, 50, "api"), (40, 100, "bankgiro:1")], True, "none"))
    make_life(db, api.tenant_id, people[2], (2, 20, 10, 700, [], False, "write_off"))
    drain(db)
    with db.transaction() as session:
        marked = set(session.scalars(select(DirtyDay.day).where(DirtyDay.tenant_id == api.tenant_id)))
    # The subscriber marked the invoice days, the payment days and the write-off's day; a few
    # events ask for no job: the reader refreshes.
    days = [START + timedelta(days=d) for d in (10, 15, 50, 20, 120)]
    assert set(days) <= marked
    assert _all_facts(db, api.tenant_id) == (set(), set())
    assert naive(db, api.tenant_id, START, TODAY) == kpi(api, START, TODAY)
    with db.transaction() as session:
        assert session.scalars(select(DirtyDay.day).where(DirtyDay.tenant_id == api.tenant_id)).all() == []
    incremental = _all_facts(db, api.tenant_id)
    assert {row[0] for row in incremental[0]} >= set(days) - {START + timedelta(days=120)}
    with db.transaction() as session:
        session.execute(delete(DailyFact))
        session.execute(delete(ReceivableFlow))
    with db.transaction() as session:
        facts.rebuild(session, session.get_one(Tenant, api.tenant_id))
    assert _all_facts(db, api.tenant_id) == incremental
    with db.transaction() as session:  # marking and refreshing again changes nothing
        tenant = session.get_one(Tenant, api.tenant_id)
        facts.mark_dirty(session, tenant.id, [START + timedelta(days=d) for d in range(0, 80)])
        facts.refresh(session, tenant)
    assert _all_facts(db, api.tenant_id) == incremental


def test_the_refresh_job_is_asked_for_once_per_slot(api: Api, db: Database, people: list[int]) -> None:
    with db.transaction() as session:
        now = utcnow()
        for _ in range(3):
            jobs.request_refresh(session, api.tenant_id, now)
        jobs.request_refresh(session, api.tenant_id, now + timedelta(seconds=jobs.SLOT_SECONDS))
    with db.transaction() as session:
        found = session.scalars(select(OutboxJob).where(OutboxJob.kind == jobs.REFRESH_JOB)).all()
        assert len(found) == 2


def test_a_bulk_command_is_refreshed_by_the_worker_not_the_reader(api: Api, db: Database, people: list[int]) -> None:
    """A billing run's batch (bundled events) asks for a refresh job: the facts exist before anyone reads."""
    lines = [LineIn(description="Abonnemang", unit_price=10000, vat_rate=0)]
    day = START + timedelta(days=31)
    data = [InvoiceCreate(customer=people[i % 3], lines=lines, invoice_date=day, invoice_fee=False) for i in range(60)]
    with db.transaction() as session:
        invoices.create_and_issue(session, session.get_one(Tenant, api.tenant_id), data, today=day, actor="test")
    drain(db)  # the deliveries' events afterwards are a few at a time: they only mark, for the reader
    with db.transaction() as session:
        ran = session.scalars(select(OutboxJob.state).where(OutboxJob.kind == jobs.REFRESH_JOB)).all()
    assert ran and set(ran) == {"done"}
    issued = {(m, n, a) for d, m, dim, n, a in _all_facts(db, api.tenant_id)[0] if d == day and m == "issued"}
    assert issued == {("issued", 60, 600000)}


# --- the API: periods, CSV, tenants -------------------------------------------------------------


def test_csv_has_a_row_per_figure_and_key_equal_to_the_json(
    api: Api, db: Database, people: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    make_life(db, api.tenant_id, people[0], (0, 3, 20, 250, [(2, 100, "bankgiro:1")], True, "none"))
    drain(db)
    params = {"from": "2026-01-01", "to": "2026-01-31"}
    body = ok(api.get("/reports/kpis", params=params))
    response = api.get("/reports/kpis.csv", params=params)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["figure"] for r in rows} == set(kpis.FIGURES)
    cells = {(r["figure"], r["key"]): r for r in rows}
    assert cells[("invoiced", "")]["value"] == str(body["invoiced"]) == "25000"
    assert cells[("aging", "total")]["value"] == str(body["aging"]["total"])
    share = cells[("digital_send_share", "")]
    assert (share["value"], share["numerator"], share["denominator"]) == ("1.0000", "1", "1")
    assert cells[("digital_send_share", "by_channel.email")]["value"] == "1.0000"
    assert cells[("paid_before_due_share", "web")]["value"] == body["paid_before_due_share"]["web"]["value"]
    one = api.get("/reports/kpis.csv", params={**params, "figure": "dso_days"})
    assert [r["figure"] for r in csv.DictReader(io.StringIO(one.text))] == ["dso_days"]
    assert api.get("/reports/kpis.csv", params={**params, "figure": "nonsense"}).status_code == 422


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "9999-12-01", "to": "9999-12-31"}, "from"),  # schemathesis: a day past it overflowed
        ({"from": "0001-01-01", "to": "0001-01-31"}, "from"),
    ],
)
def test_bad_periods_are_refused_by_name(api: Api, params: dict[str, str], param: str) -> None:
    assert ok(api.get("/reports/kpis", params=params), 422)["error"]["param"] == param


def test_default_period_is_this_month_up_to_today(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: date(2026, 5, 17))
    body = ok(api.get("/reports/kpis"))
    assert (body["from"], body["to"]) == ("2026-05-01", "2026-05-17")
    assert body["invoices_issued"] == 0 and body["dso_days"]["value"] is None


def test_another_tenants_figures_never_appear(
    api: Api, api_b: Api, db: Database, people: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    b_customer = customer(api_b, "letter")
    make_life(db, api_b.tenant_id, b_customer, (2, 5, 10, 900, [(1, 50, "manual")], True, "none"))
    make_life(db, api.tenant_id, people[2], (2, 5, 10, 100, [], False, "none"))
    drain(db)
    mine, theirs = kpi(api, START, TODAY), kpi(api_b, START, TODAY)
    assert (mine["invoiced"], mine["paid"], mine["messages"]) == (10000, 0, 0)
    assert (theirs["invoiced"], theirs["paid"], theirs["messages"]) == (90000, 45000, 1)
    assert mine == naive(db, api.tenant_id, START, TODAY) and theirs == naive(db, api_b.tenant_id, START, TODAY)


def test_requires_an_api_key(client: Any) -> None:
    assert client.get("/api/v1/reports/kpis").status_code == 401
    assert client.get("/api/v1/reports/kpis.csv").status_code == 401


# --- pure parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "places"),
    [(1, 3, 4), (2, 3, 4), (1, 8, 2), (-1, 8, 2), (-13, 2, 0), (5, 1000, 2), (0, 7, 1), (7, 0, 2), (10**18, 3, 4)],
)
def test_ratio_rounds_half_away_from_zero_exactly(numerator: int, denominator: int, places: int) -> None:
    r = kpis.Ratio(numerator, denominator, places)
    assert (None if r.value is None else str(r.value)) == rounded(numerator, denominator, places)


def test_months_back_end_on_the_given_day() -> None:
    assert kpis.months_back(date(2026, 3, 15), 3) == [
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 15)),
    ]


def test_payment_methods() -> None:
    assert [facts.payment_method("bankgiro", c) for c in (1, 2, 3, 4, None)] == [
        "bankgiro_online",
        "bankgiro_online",
        "bankgiro_paper",
        "autogiro",
        "bankgiro_unknown",
    ]
    assert facts.payment_method("swish", None) == "swish"


def test_the_worker_refreshes_every_tenant_once_a_day(api: Api, db: Database, people: list[int]) -> None:
    """What migration 0016 marks (an installation's history) is computed by the worker, not by a request."""
    make_life(db, api.tenant_id, people[2], (2, 5, 10, 100, [], False, "none"))
    drain(db)  # the events are handled; their slot refresh jobs wait (and are dropped here)
    with db.transaction() as session:
        session.execute(delete(OutboxJob).where(OutboxJob.kind == jobs.REFRESH_JOB))
        facts.mark_dirty(session, api.tenant_id, [START + timedelta(days=5)])
    worker = Worker(db, worker_id="daily")
    worker.schedule_daily(date(2026, 1, 10))
    with db.transaction() as session:
        daily = session.scalars(select(OutboxJob.dedupe_key).where(OutboxJob.kind == jobs.REFRESH_JOB)).all()
        assert daily == [f"{jobs.REFRESH_JOB}:{api.tenant_id}:2026-01-10"]
        session.execute(update(OutboxJob).where(OutboxJob.state == PENDING).values(run_at=utcnow()))
    worker.run_until_idle()
    assert _all_facts(db, api.tenant_id)[0]
    with db.transaction() as session:
        assert session.scalars(select(DirtyDay.day).where(DirtyDay.tenant_id == api.tenant_id)).all() == []


def test_the_subscriber_costs_the_same_statements_for_3_events_or_120(db: Database) -> None:
    from tests.conftest import TENANT_A, make_tenant
    from tests.webhooks.batching import counting_statements, issue_many, pending_events

    tenant_id, _ = make_tenant(db, **TENANT_A)
    issue_many(db, tenant_id, 3)
    small = pending_events(db, tenant_id)
    issue_many(db, tenant_id, 60, first=3)
    large = [e for e in pending_events(db, tenant_id) if e not in small]
    assert len(small) == 6 and len(large) == 120  # created and issued, each invoice
    seen_counts = []
    for batch in (small, large):
        with db.transaction() as session, counting_statements(db) as seen:
            jobs.mark_touched_days(session, tenant_id, batch)
        seen_counts.append(len(seen))
    # Two reads (invoice dates, booking dates) and the marks; the bulk batch also asks for its job.
    assert seen_counts == [3, 4], seen_counts
