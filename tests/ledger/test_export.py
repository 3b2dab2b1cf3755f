"""The journal exported as SIE 4 (``ledger.export``), read back with ``formats.sie4``.

Invoices go through the API (issue, pay, overpay, credit, write off) on fixed business dates;
the export must hold exactly the tenant's journal entries of the period, each voucher must
balance (SIE filformat 4B: a #VER's transactions sum to zero; Bokföringslagen 5 kap.: debit =
credit), and the file's sum per account must be the ledger's trial balance for the period.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kvitt.core import clock
from kvitt.core.db import Database
from kvitt.core.errors import ValidationFailed
from kvitt.formats import sie4
from kvitt.ledger import service as ledger
from kvitt.ledger.accounts import NAMES
from kvitt.ledger.export import export_sie, file_name, write_sie_file
from kvitt.ledger.models import JournalEntry
from kvitt.tenants.models import Tenant
from tests.conftest import Api

JAN, FEB, MAR = date(2025, 1, 10), date(2025, 2, 10), date(2025, 3, 10)
GENERATED = date(2025, 4, 1)


def on(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    monkeypatch.setattr(clock, "today", lambda: day)


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def customer(api: Api, number: str, name: str = "Åsa Öberg") -> int:
    return int(ok(api.post("/customers", {"customer_no": number, "name": name}), 201)["id"])


def issued(api: Api, customer_id: int, day: date, unit_price: int = 31600, rate: int = 25) -> dict[str, Any]:
    line = {"description": "Mobilabonnemang", "quantity": "1", "unit_price": unit_price, "vat_rate": rate}
    draft = ok(api.post("/invoices", {"customer": customer_id, "lines": [line], "invoice_date": day.isoformat()}), 201)
    return ok(api.post(f"/invoices/{draft['id']}/issue"))


def pay(api: Api, invoice: dict[str, Any], amount: int, day: date) -> None:
    ok(api.post(f"/invoices/{invoice['id']}/payments", {"amount": amount, "date": day.isoformat()}))


def books(api: Api, monkeypatch: pytest.MonkeyPatch, tag: str, price: int) -> None:
    """A quarter of business: invoices in January, a payment, an overpayment, a credit, a write-off."""
    on(monkeypatch, JAN)
    first, second, third = (customer(api, f"{tag}{n}") for n in (1, 2, 3))
    a = issued(api, first, JAN, price)
    b = issued(api, second, JAN, price, rate=12)
    c = issued(api, first, JAN, price, rate=6)
    d = issued(api, third, JAN, price)
    on(monkeypatch, FEB)
    pay(api, a, 10000, FEB)
    pay(api, b, b["total"] + 5000, FEB)  # the customer has nothing else open: the surplus is their credit (2420)
    ok(api.post(f"/invoices/{c['id']}/credit", {"mode": "full"}), 201)
    on(monkeypatch, MAR)
    ok(api.post(f"/invoices/{d['id']}/write-off", {}))
    issued(api, first, MAR, price)


def export(db: Database, tenant_id: int, date_from: date, date_to: date) -> bytes:
    with db.transaction() as session:
        return export_sie(session, session.get_one(Tenant, tenant_id), date_from, date_to, generated=GENERATED)


def entry_count(db: Database, tenant_id: int, date_from: date, date_to: date) -> int:
    with db.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(
                    JournalEntry.tenant_id == tenant_id, JournalEntry.date >= date_from, JournalEntry.date <= date_to
                )
            )
        )


def period_balances(db: Database, tenant_id: int, date_from: date, date_to: date) -> dict[str, int]:
    """The ledger's trial balance for the period: balances at its end less those before it."""
    with db.transaction() as session:
        end = ledger.account_balances(session, tenant_id, until=date_to)
        before = ledger.account_balances(session, tenant_id, until=date_from - timedelta(days=1))
    moved = {account: end.get(account, 0) - before.get(account, 0) for account in end.keys() | before.keys()}
    return {account: total for account, total in moved.items() if total}


def file_sums(sie: sie4.SieFile) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for voucher in sie.vouchers:
        for transaction in voucher.transactions:
            sums[transaction.account] += transaction.amount
    return {account: total for account, total in sums.items() if total}


@pytest.fixture
def two_tenants(api: Api, api_b: Api, monkeypatch: pytest.MonkeyPatch) -> tuple[Api, Api]:
    books(api, monkeypatch, "A", 31600)
    books(api_b, monkeypatch, "B", 77700)  # B's own amounts, so that a leak would show
    return api, api_b


@pytest.mark.parametrize(
    ("date_from", "date_to"),
    [
        (date(2000, 1, 1), date(2099, 12, 31)),  # everything
        (JAN, MAR),  # both ends included
        (FEB, FEB),  # one day
        (date(2025, 1, 11), date(2025, 3, 9)),  # February only, by its neighbours
        (date(2024, 1, 1), date(2024, 12, 31)),  # nothing
    ],
)
def test_the_file_holds_the_period_and_matches_the_trial_balance(
    db: Database, two_tenants: tuple[Api, Api], date_from: date, date_to: date
) -> None:
    api, api_b = two_tenants
    for who in (api, api_b):
        sie = sie4.read(export(db, who.tenant_id, date_from, date_to))
        assert len(sie.vouchers) == entry_count(db, who.tenant_id, date_from, date_to)
        for voucher in sie.vouchers:
            assert voucher.transactions and sum(t.amount for t in voucher.transactions) == 0
            assert date_from <= voucher.date <= date_to
        assert [v.number for v in sie.vouchers] == list(range(1, len(sie.vouchers) + 1))
        assert {v.series for v in sie.vouchers} <= {"A"}
        assert [v.date for v in sie.vouchers] == sorted(v.date for v in sie.vouchers)
        assert file_sums(sie) == period_balances(db, who.tenant_id, date_from, date_to)
        used = {t.account for v in sie.vouchers for t in v.transactions}
        assert sie.accounts == {account: NAMES[account] for account in used}
        assert (sie.company.fiscal_year_start, sie.company.fiscal_year_end) == (date_from, date_to)


def test_the_whole_quarter_voucher_by_voucher(db: Database, two_tenants: tuple[Api, Api]) -> None:
    api, _ = two_tenants
    data = export(db, api.tenant_id, JAN, MAR)
    sie = sie4.read(data)
    assert sie.company == sie4.Company(
        program="Kvitt",
        program_version="0.1.0",
        generated=GENERATED,
        name="Norrsken Telekom AB",
        org_number="556036-0793",
        fiscal_year_start=JAN,
        fiscal_year_end=MAR,
        chart_type="EUBAS97",
        currency="SEK",
    )
    texts = [(v.date, v.text.split(" (")[0]) for v in sie.vouchers]
    assert texts[:4] == [(JAN, f"Faktura {n}") for n in range(1, 5)]
    assert texts[-2:] == [(MAR, "Avskrivning faktura 4"), (MAR, "Faktura 6")]
    assert (FEB, "Kreditfaktura 5") in texts
    # 316 kr at 25 %: 395 kr receivable against sales and output VAT.
    assert sie.vouchers[0].transactions == (
        sie4.Transaction("1510", 39500),
        sie4.Transaction("3001", -31600),
        sie4.Transaction("2611", -7900),
    )
    assert b'#VER A 1 20250110 "Faktura 1"\r\n{\r\n#TRANS 1510 {} 395.00\r\n' in data
    assert b'#KONTO 2420 "F\x94rskott fr\x86n kunder"\r\n' in data
    assert sie.accounts["2420"] == "Förskott från kunder"  # the overpayment is there


def test_another_tenants_entries_never_appear(db: Database, two_tenants: tuple[Api, Api]) -> None:
    api, api_b = two_tenants
    mine, theirs = export(db, api.tenant_id, JAN, MAR), export(db, api_b.tenant_id, JAN, MAR)
    assert b"Fj\x84llstr\x94m Energi AB" in theirs and b"Fj\x84llstr\x94m" not in mine
    assert b"556016-0680" in theirs and b"556016-0680" not in mine
    # B's prices (777 kr) never show in A's file, nor A's (316 kr) in B's.
    assert b"777.00" in theirs and b"777.00" not in mine
    assert b"316.00" in mine and b"316.00" not in theirs


def test_an_account_the_tenant_mapped_itself_gets_a_generic_name(
    db: Database, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(api.patch("/tenant", {"accounts": {"sales_25": "3011", "bank": "1940"}}))
    on(monkeypatch, JAN)
    invoice = issued(api, customer(api, "1"), JAN)
    pay(api, invoice, invoice["total"], JAN)
    sie = sie4.read(export(db, api.tenant_id, JAN, JAN))
    assert sie.accounts == {
        "1510": "Kundfordringar",
        "1940": "Konto 1940",
        "2611": NAMES["2611"],
        "3011": "Konto 3011",
    }


def test_from_after_to_is_refused(db: Database, api: Api) -> None:
    with pytest.raises(ValidationFailed, match="after") as raised:
        export(db, api.tenant_id, FEB, JAN)
    assert raised.value.param == "from"


def test_an_empty_period_is_a_valid_file_without_vouchers(db: Database, api: Api) -> None:
    data = export(db, api.tenant_id, JAN, MAR)
    sie = sie4.read(data)
    assert sie.vouchers == () and sie.accounts == {}
    assert data.startswith(b"#FLAGGA 0\r\n#FORMAT PC8\r\n#SIETYP 4\r\n")


def test_write_sie_file_writes_the_export_and_leaves_nothing_else(
    db: Database, two_tenants: tuple[Api, Api], tmp_path: Path
) -> None:
    api, _ = two_tenants
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / file_name(JAN, MAR)
    path.write_bytes(b"an older export")
    with db.transaction() as session:
        written = write_sie_file(session, session.get_one(Tenant, api.tenant_id), JAN, MAR, path)
    data = path.read_bytes()
    assert written == len(data) and sie4.read(data).vouchers
    assert os.listdir(folder) == ["kvitt-20250110-20250310.se"]
    # A refused export leaves the file as it was.
    with db.transaction() as session, pytest.raises(ValidationFailed):
        write_sie_file(session, session.get_one(Tenant, api.tenant_id), MAR, JAN, path)
    assert path.read_bytes() == data and os.listdir(folder) == ["kvitt-20250110-20250310.se"]
