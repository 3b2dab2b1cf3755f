"""The accounts-receivable aging report, as of past and present dates, against the ledger.

Invoices are built through the API with explicit invoice and due dates, then paid (with dated
payments), credited and written off; credits and write-offs are dated by the business clock,
which the tests set. The report as of a date must show exactly what was open on that date, in
the bucket of its days past due, and its grand total must be the ledger's receivables balance
(BAS 1510) as of the same date.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import NoMatchFound

from kvitt.core import clock
from kvitt.core.db import Database
from kvitt.ledger import service as ledger
from kvitt.reports.aging import BUCKETS, boundaries, bucket_of
from kvitt.reports.api import router as reports_router
from tests.conftest import Api

ZERO = dict.fromkeys(BUCKETS, 0)


@pytest.fixture(autouse=True)
def reports_in_app(app: Any) -> None:
    """Until app.py includes the reports router, include it here."""
    try:
        app.url_path_for("aging_report")
    except NoMatchFound:
        app.include_router(reports_router, prefix="/api/v1")


# --- helpers ------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def make_customer(api: Api, customer_no: str, name: str | None = None) -> int:
    body = {"customer_no": customer_no, "name": name or f"Kund {customer_no}", "type": "individual"}
    return int(ok(api.post("/customers", body), 201)["id"])


def make_invoice(api: Api, customer_id: int, amount: int, invoice_date: date, due_date: date) -> int:
    """An issued invoice of exactly ``amount`` öre (whole kronor, VAT 0 %: no rounding line)."""
    assert amount % 100 == 0
    lines = [{"description": "Abonnemang", "quantity": "1", "unit_price": amount, "vat_rate": 0}]
    draft = ok(
        api.post(
            "/invoices",
            {
                "customer": customer_id,
                "lines": lines,
                "invoice_date": invoice_date.isoformat(),
                "due_date": due_date.isoformat(),
            },
        ),
        201,
    )
    issued = ok(api.post(f"/invoices/{draft['id']}/issue"))
    assert issued["total"] == amount and issued["due_date"] == due_date.isoformat()
    return int(issued["id"])


def pay(api: Api, invoice_id: int, amount: int, on: date) -> None:
    ok(api.post(f"/invoices/{invoice_id}/payments", {"amount": amount, "date": on.isoformat()}))


def set_today(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """Credits and write-offs are dated on the business day they are made."""
    monkeypatch.setattr(clock, "today", lambda: day)


def report(api: Api, as_of: date | str | None = None, **params: Any) -> dict[str, Any]:
    if as_of is not None:
        params["as_of"] = as_of if isinstance(as_of, str) else as_of.isoformat()
    body = ok(api.get("/reports/aging", params=params))
    assert body["object"] == "aging_report" and body["currency"] == "SEK"
    assert body["buckets"] == list(BUCKETS)
    for amounts in [body["total"], *body["customers"]]:
        assert amounts["total"] == sum(amounts[b] for b in BUCKETS), amounts
    return dict(body)


def nonzero(amounts: dict[str, Any]) -> dict[str, int]:
    return {bucket: amounts[bucket] for bucket in BUCKETS if amounts[bucket]}


def by_customer(body: dict[str, Any]) -> dict[int, dict[str, int]]:
    return {row["customer"]: nonzero(row) for row in body["customers"]}


def ledger_receivables(db: Database, tenant_id: int, as_of: date) -> int:
    with db.transaction() as session:
        return ledger.account_balances(session, tenant_id, until=as_of).get("1510", 0)


def assert_agrees_with_ledger(api: Api, db: Database, as_of: date) -> dict[str, Any]:
    body = report(api, as_of)
    assert body["total"]["total"] == ledger_receivables(db, api.tenant_id, as_of), as_of
    assert body["total"] == {**ZERO, **_sum_rows(body["customers"])}
    return body


def _sum_rows(rows: list[dict[str, Any]]) -> dict[str, int]:
    keys = [*BUCKETS, "total"]
    return {key: sum(row[key] for row in rows) for key in keys}


# --- the buckets --------------------------------------------------------------------------------


def test_bucket_boundaries_in_days_past_due() -> None:
    d = date(2026, 6, 30)
    expected = {
        d + timedelta(days=1): "current",
        d: "current",
        d - timedelta(days=1): "1_30",
        d - timedelta(days=30): "1_30",
        d - timedelta(days=31): "31_60",
        d - timedelta(days=60): "31_60",
        d - timedelta(days=61): "61_90",
        d - timedelta(days=90): "61_90",
        d - timedelta(days=91): "over_90",
        date(2000, 1, 1): "over_90",
    }
    assert {due: bucket_of(due, d) for due in expected} == expected
    # Near the start of the calendar the boundaries that do not exist become date.min.
    assert boundaries(date(1, 1, 15)) == (date(1, 1, 15), date.min, date.min, date.min)
    assert bucket_of(date.min, date(1, 1, 15)) == "1_30"


def test_each_invoice_lands_in_the_bucket_of_its_days_past_due(api: Api, db: Database) -> None:
    d = date(2026, 6, 30)
    customer = make_customer(api, "1001")
    amounts = {}
    for k, days_past_due in enumerate([-1, 0, 1, 30, 31, 60, 61, 90, 91]):
        due = d - timedelta(days=days_past_due)
        amount = 100 * 2**k  # each bucket's sum shows which invoices it holds
        make_invoice(api, customer, amount, due - timedelta(days=30), due)
        amounts[days_past_due] = amount
    body = assert_agrees_with_ledger(api, db, d)
    assert by_customer(body) == {
        customer: {
            "current": amounts[-1] + amounts[0],
            "1_30": amounts[1] + amounts[30],
            "31_60": amounts[31] + amounts[60],
            "61_90": amounts[61] + amounts[90],
            "over_90": amounts[91],
        }
    }


# --- a history of payments, credits and write-offs ----------------------------------------------


def _history(api: Api, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int]:
    """Three customers and six invoices in the first half of 2026 (see the test below)."""
    x = make_customer(api, "X", "Xenia Ek")
    y = make_customer(api, "Y", "Yngve Björk")
    z = make_customer(api, "Z", "Zara Lind")
    set_today(monkeypatch, date(2026, 1, 10))

    def pay_on(invoice: int, amount: int, day: date) -> None:
        # A payment cannot be dated after the business date: register each on its own day.
        set_today(monkeypatch, day)
        pay(api, invoice, amount, day)

    a1 = make_invoice(api, x, 100000, date(2026, 1, 10), date(2026, 2, 9))
    a3 = make_invoice(api, y, 70000, date(2026, 2, 1), date(2026, 3, 3))
    a2 = make_invoice(api, x, 50000, date(2026, 3, 1), date(2026, 3, 31))
    a6 = make_invoice(api, x, 10000, date(2026, 4, 1), date(2026, 5, 1))
    a4 = make_invoice(api, y, 40000, date(2026, 4, 20), date(2026, 5, 20))
    a5 = make_invoice(api, z, 25000, date(2026, 5, 1), date(2026, 5, 31))

    pay_on(a1, 30000, date(2026, 2, 20))
    pay_on(a1, 20000, date(2026, 5, 1))
    set_today(monkeypatch, date(2026, 4, 5))
    note = ok(api.post(f"/invoices/{a6}/credit", {"mode": "full"}), 201)
    assert note["invoice_date"] == "2026-04-05"
    set_today(monkeypatch, date(2026, 4, 10))
    ok(api.post(f"/invoices/{a2}/credit", {"mode": "amount", "amount": 20000}), 201)
    pay_on(a4, 40000, date(2026, 5, 15))
    set_today(monkeypatch, date(2026, 6, 15))
    written_off = ok(api.post(f"/invoices/{a3}/write-off", {"reason": "konkurs"}))
    assert written_off["written_off"] == 70000
    pay_on(a5, 5000, date(2026, 6, 20))
    pay_on(a5, 3000, date(2026, 7, 10))  # dated after some of the report dates below
    set_today(monkeypatch, date(2026, 8, 1))
    return x, y, z


def test_report_as_of_past_dates_follows_payments_credits_and_write_offs(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y, z = _history(api, monkeypatch)
    expected: dict[date, dict[int, dict[str, int]]] = {
        # Before the first invoice: nothing is owed.
        date(2026, 1, 5): {},
        # The invoice date counts: a1 is owed from the day it is dated, not yet due.
        date(2026, 1, 10): {x: {"current": 100000}},
        # a1 6 days past due; a3 (Y) not yet due.
        date(2026, 2, 15): {x: {"1_30": 100000}, y: {"current": 70000}},
        # The payment of 30000 is dated 2026-02-20: as of the day before it has not happened.
        date(2026, 2, 19): {x: {"1_30": 100000}, y: {"current": 70000}},
        date(2026, 2, 20): {x: {"1_30": 70000}, y: {"current": 70000}},
        # a6 (10000, due 05-01) is open the day before its full credit note, gone on the day of it;
        # a2 is not credited yet; a1 is 54 days past due, a3 32 days.
        date(2026, 4, 4): {x: {"current": 10000, "1_30": 50000, "31_60": 70000}, y: {"31_60": 70000}},
        date(2026, 4, 5): {x: {"1_30": 50000, "31_60": 70000}, y: {"31_60": 70000}},
        # a2 credited by 20000 on 04-10: a2 30000 15 days past due; a6 credited; a1 65 days;
        # a3 43 days; a4 (invoice date 04-20) does not exist yet.
        date(2026, 4, 15): {x: {"1_30": 30000, "61_90": 70000}, y: {"31_60": 70000}},
        # a4 paid in full on 05-15 is gone; a3 still open the day before its write-off.
        date(2026, 6, 14): {x: {"61_90": 30000, "over_90": 50000}, y: {"over_90": 70000}, z: {"1_30": 25000}},
        # a3 written off on 06-15: Y owes nothing and leaves the report. a5's payment of 3000
        # is dated 07-10, after this date: only the 5000 of 06-20 counts.
        date(2026, 6, 25): {x: {"61_90": 30000, "over_90": 50000}, z: {"1_30": 20000}},
        date(2026, 7, 31): {x: {"over_90": 80000}, z: {"61_90": 17000}},
    }
    for as_of, customers in expected.items():
        body = assert_agrees_with_ledger(api, db, as_of)
        assert body["as_of"] == as_of.isoformat()
        assert by_customer(body) == customers, as_of
        assert body["has_more"] is False

    body = report(api, date(2026, 6, 14))
    assert [(c["customer_no"], c["name"]) for c in body["customers"]] == [
        ("X", "Xenia Ek"),
        ("Y", "Yngve Björk"),
        ("Z", "Zara Lind"),
    ]
    assert body["total"] == {
        "current": 0,
        "1_30": 25000,
        "31_60": 0,
        "61_90": 30000,
        "over_90": 120000,
        "total": 175000,
    }
    # Today (set to 2026-08-01) is the default date.
    assert report(api)["as_of"] == "2026-08-01"
    assert report(api) == report(api, date(2026, 8, 1))


def test_credit_note_reduces_the_invoice_it_credits_not_a_bucket_of_its_own(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = make_customer(api, "1001")
    set_today(monkeypatch, date(2026, 3, 1))
    invoice = make_invoice(api, customer, 80000, date(2026, 1, 1), date(2026, 1, 31))
    note = ok(api.post(f"/invoices/{invoice}/credit", {"mode": "amount", "amount": 30000}), 201)
    # The credit note is dated today with due date today: on its own it would be "current".
    assert note["due_date"] == "2026-03-01" and note["total"] == -30000
    before = assert_agrees_with_ledger(api, db, date(2026, 2, 28))
    after = assert_agrees_with_ledger(api, db, date(2026, 3, 1))
    assert by_customer(before) == {customer: {"1_30": 80000}}
    assert by_customer(after) == {customer: {"1_30": 50000}}


def test_payment_booked_before_the_invoice_date_is_shown_as_the_ledger_holds_it(api: Api, db: Database) -> None:
    """An invoice issued ahead of its date and paid early: the credit is in the books before the invoice."""
    customer = make_customer(api, "1001")
    invoice = make_invoice(api, customer, 20000, date(2026, 9, 1), date(2026, 10, 1))
    pay(api, invoice, 5000, date(2026, 8, 20))
    assert by_customer(assert_agrees_with_ledger(api, db, date(2026, 8, 19))) == {}
    assert by_customer(assert_agrees_with_ledger(api, db, date(2026, 8, 25))) == {customer: {"current": -5000}}
    assert by_customer(assert_agrees_with_ledger(api, db, date(2026, 9, 1))) == {customer: {"current": 15000}}


# --- paging, filtering, tenants -------------------------------------------------------------------


def test_pages_of_customers_by_id_with_totals_over_all(api: Api, db: Database) -> None:
    as_of = date(2026, 6, 30)
    ids = []
    for n in range(7):
        customer = make_customer(api, f"C{n}")
        invoice = make_invoice(api, customer, 1000 * (n + 1), date(2026, 5, 1), date(2026, 5, 1) + timedelta(days=n))
        if n == 3:
            pay(api, invoice, 4000, date(2026, 5, 10))  # paid in full: not in the report
        else:
            ids.append(customer)
    full = assert_agrees_with_ledger(api, db, as_of)
    assert [c["customer"] for c in full["customers"]] == ids
    assert full["total"]["total"] == 1000 * (1 + 2 + 3 + 5 + 6 + 7)

    seen, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after is not None:
            params["starting_after"] = after
        page = report(api, as_of, **params)
        assert len(page["customers"]) <= 2
        assert page["total"] == full["total"]  # the grand total is never just the page's
        seen += page["customers"]
        if not page["has_more"]:
            break
        after = page["customers"][-1]["customer"]
    assert seen == full["customers"]
    assert len(seen) == 6

    # A cursor need not be a customer in the report; past the last there is nothing.
    assert [c["customer"] for c in report(api, as_of, starting_after=ids[2] + 1)["customers"]] == ids[3:]
    past_end = report(api, as_of, starting_after=ids[-1])
    assert past_end["customers"] == [] and past_end["has_more"] is False
    assert past_end["total"] == full["total"]


def test_customer_filter_narrows_rows_and_totals(api: Api, db: Database) -> None:
    as_of = date(2026, 6, 30)
    first = make_customer(api, "1001")
    second = make_customer(api, "1002")
    make_invoice(api, first, 10000, date(2026, 6, 1), date(2026, 7, 1))
    make_invoice(api, second, 20000, date(2026, 1, 1), date(2026, 1, 31))
    only = report(api, as_of, customer=second)
    assert by_customer(only) == {second: {"over_90": 20000}}
    assert nonzero(only["total"]) == {"over_90": 20000} and only["total"]["total"] == 20000
    nobody = report(api, as_of, customer=987654321)
    assert nobody["customers"] == [] and nobody["total"] == {**ZERO, "total": 0}


def test_another_tenants_invoices_never_appear(api: Api, api_b: Api, db: Database) -> None:
    as_of = date(2026, 6, 30)
    a = make_customer(api, "1001")
    b = make_customer(api_b, "1001")
    make_invoice(api, a, 10000, date(2026, 5, 1), date(2026, 5, 31))
    make_invoice(api_b, b, 990000, date(2026, 5, 1), date(2026, 5, 31))
    make_invoice(api_b, b, 880000, date(2026, 1, 1), date(2026, 1, 31))
    mine = assert_agrees_with_ledger(api, db, as_of)
    theirs = assert_agrees_with_ledger(api_b, db, as_of)
    assert by_customer(mine) == {a: {"1_30": 10000}}
    assert by_customer(theirs) == {b: {"1_30": 990000, "over_90": 880000}}
    # Naming B's customer gives A an empty report, as for a customer that does not exist.
    foreign = report(api, as_of, customer=b)
    assert foreign["customers"] == [] and foreign["total"]["total"] == 0


def test_drafts_are_not_receivables(api: Api) -> None:
    customer = make_customer(api, "1001")
    lines = [{"description": "Utkast", "quantity": "1", "unit_price": 10000, "vat_rate": 0}]
    ok(api.post("/invoices", {"customer": customer, "lines": lines, "invoice_date": "2026-01-01"}), 201)
    assert report(api, date(2026, 6, 30))["customers"] == []


# --- input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"as_of": "2026-02-30"}, "as_of"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"starting_after": 0}, "starting_after"),
        ({"customer": -1}, "customer"),
    ],
)
def test_bad_parameters_are_refused_by_name(api: Api, params: dict[str, Any], param: str) -> None:
    response = api.get("/reports/aging", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize("as_of", ["0001-01-01", "0001-02-15", "9999-12-31"])
def test_dates_at_the_ends_of_the_calendar(api: Api, as_of: str) -> None:
    customer = make_customer(api, "1001")
    make_invoice(api, customer, 10000, date(2026, 1, 1), date(2026, 1, 31))
    body = report(api, as_of)
    assert body["as_of"] == as_of
    expected = {} if as_of.startswith("0001") else {customer: {"over_90": 10000}}
    assert by_customer(body) == expected


def test_requires_an_api_key(client: Any, api: Api) -> None:
    response = client.get("/api/v1/reports/aging")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


# --- property: the buckets partition what is open -----------------------------------------------

_serial = itertools.count(1)
START = date(2025, 1, 1)

invoice_plans = st.lists(
    st.tuples(
        st.integers(0, 300),  # invoice date, days after START
        st.integers(0, 120),  # payment terms in days
        st.integers(1, 500),  # amount in kronor
        st.lists(st.tuples(st.integers(0, 400), st.integers(1, 100)), max_size=3),  # payments: day, percent
    ),
    min_size=1,
    max_size=4,
)


def _expected_buckets(plans: list[tuple[date, date, int, list[tuple[date, int]]]], as_of: date) -> dict[str, int]:
    """The report's rule written out by hand: days past due, then thresholds 0, 30, 60, 90."""
    amounts = dict(ZERO)
    for invoice_date, due, amount, payments in plans:
        if invoice_date > as_of:
            continue  # payments are never dated before the invoice here
        open_amount = amount - sum(paid for on, paid in payments if on <= as_of)
        days = (as_of - due).days
        if days <= 0:
            amounts["current"] += open_amount
        elif days <= 30:
            amounts["1_30"] += open_amount
        elif days <= 60:
            amounts["31_60"] += open_amount
        elif days <= 90:
            amounts["61_90"] += open_amount
        else:
            amounts["over_90"] += open_amount
    return amounts


def test_buckets_partition_the_open_amounts(api: Api, db: Database) -> None:
    @given(plans=invoice_plans, report_days=st.lists(st.integers(-10, 700), min_size=1, max_size=4))
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(plans: list[Any], report_days: list[int]) -> None:
        customer = make_customer(api, f"P{next(_serial)}")
        made = []
        for day, terms, kronor, payments in plans:
            invoice_date = START + timedelta(days=day)
            due = invoice_date + timedelta(days=terms)
            amount = kronor * 100
            invoice = make_invoice(api, customer, amount, invoice_date, due)
            left, dated = amount, []
            for offset, percent in payments:
                paid = min(left, max(100, amount * percent // 100 // 100 * 100))
                if paid <= 0:
                    break
                on = invoice_date + timedelta(days=offset)
                pay(api, invoice, paid, on)
                left -= paid
                dated.append((on, paid))
            made.append((invoice_date, due, amount, dated))
        for offset in report_days:
            as_of = START + timedelta(days=offset)
            body = report(api, as_of, customer=customer)
            expected = _expected_buckets(made, as_of)
            assert body["total"] == {**expected, "total": sum(expected.values())}
            assert by_customer(body) == ({customer: nonzero(expected)} if any(expected.values()) else {})
            # And over every customer made so far, the report is the ledger's receivables.
            assert report(api, as_of)["total"]["total"] == ledger_receivables(db, api.tenant_id, as_of)

    check()
