"""Billograms through the official client against a live server: the client's own example
flows (examples.py in billogram-api 1.2: 1 create, send and credit; 3 find-or-create a
customer and invoice them; 4 find paid or credited billograms and fetch their PDFs; 5 the
error details), every command, the PDF, lists and filters, tenant isolation."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from billogram_api import BillogramAPI, BillogramExceptions  # type: ignore[import-untyped]
from sqlalchemy import select

from kvitt.billogram.route import PREFIX
from kvitt.core.db import Database
from kvitt.delivery.models import Delivery
from kvitt.dunning.models import DunningPause
from kvitt.invoices.models import Invoice
from kvitt.simulators import RunningServer
from tests.billogram.conftest import client_for
from tests.billogram.examples import example3_customer
from tests.conftest import TENANT_A, TENANT_B

E = BillogramExceptions
FEE_TENANT = {**TENANT_A, "invoice_fee": 5000}  # 50 kr, as the client's example3 asks for


@pytest.fixture
def api(server: RunningServer, db: Database) -> BillogramAPI:
    bg = client_for(server, db, FEE_TENANT)[0]
    bg.items.create({"item_no": "1", "title": "Mobilabonnemang", "price": 316, "vat": 25, "unit": "month"})
    bg.items.create({"item_no": "20", "title": "Lagersökning", "price": 100, "vat": 25, "unit": "hour"})
    bg.customers.create(
        {
            "customer_no": 1,
            "name": "Astrid Lindqvist",
            "contact": {"email": "astrid@example.se"},
            "address": {"street_address": "Storgatan 1", "zipcode": "111 22", "city": "Stockholm", "country": "SE"},
        }
    )
    return bg


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def invoice_row(db: Database, billogram_id: str) -> Invoice:
    with db.transaction() as session:
        invoice = session.get_one(Invoice, int(billogram_id))
        session.expunge(invoice)
        return invoice


def test_example1_create_send_and_credit(api: BillogramAPI, db: Database) -> None:
    data = {
        "customer": {"customer_no": 1},
        "items": [{"item_no": "1", "count": 1}],
        "currency": "SEK",
        "due_date": in_days(35),
    }
    bg = api.billogram.create_and_send(data, "Email")
    assert bg["state"] == "Unpaid"
    assert bg["invoice_no"] == 1 and bg["ocr_number"]
    # 316 kr + 25 % = 395 kr; no invoice_fee given: the tenant's default applies (50 kr + 25 % =
    # 62.50 kr); 457.50 kr rounded to whole kronor: 458 kr.
    row = invoice_row(db, bg["id"])
    assert Decimal(str(bg["total_sum"])) * 100 == row.total == 45800
    assert bg["rounding_value"] == 0.5 and bg["invoice_fee"] == 50
    assert bg["url"].startswith("https://kvitt.test/i/")
    assert [e["type"] for e in bg["events"]] == ["Created", "Sent"]
    bg.credit_full()
    assert bg["state"] == "Credited"
    assert bg["remaining_sum"] == 0
    credit = next(e for e in bg["events"] if e["type"] == "Credit")
    assert credit["data"]["amount"] == 458
    assert credit["data"]["letter_id"] != bg["id"]


def test_example3_find_or_create_customer_and_invoice(api: BillogramAPI, db: Database) -> None:
    with pytest.raises(E.ObjectNotFoundError):
        api.customers.get(12345)
    customer = api.customers.create(example3_customer())
    billogram = api.billogram.create(
        {
            "customer": {"customer_no": 12345},
            "items": [
                {
                    "title": "Customer assistance",
                    "description": "Phone conversation and physical warehouse search",
                    "price": 300,
                    "unit": "hour",
                    "vat": 25,
                    "count": 0.5,
                },
                {"item_no": "20", "description": "Adding 0.14 extra for your convenience", "count": 3.14},
            ],
            "currency": "SEK",
            "invoice_fee": 50,
            "due_date": in_days(30),
            "automatic_reminders": False,
        }
    )
    assert billogram["state"] == "Unattested"
    items = billogram["items"]
    assert items[0]["title"] == "Customer assistance"
    assert items[0]["description"] == "Phone conversation and physical warehouse search"
    assert items[0]["count"] == 0.5 and items[0]["price"] == 300
    assert items[1]["item_no"] == "20" and items[1]["title"] == "Lagersökning" and items[1]["count"] == 3.14
    assert billogram["invoice_fee"] == 50
    assert billogram["automatic_reminders"] is False
    # 150 + 314 + 50 = 514 kr net, 25 % VAT: 642.50 kr, rounded to 643 kr.
    assert billogram["total_sum"] == 643 and billogram["rounding_value"] == 0.5
    assert invoice_row(db, billogram["id"]).total == 64300
    customer.update({"notes": "Last conversation was on invoice id {}".format(billogram["id"])})
    billogram.send("Email+Letter")
    assert billogram["state"] == "Unpaid"
    with db.transaction() as session:
        channels = sorted(
            d.channel for d in session.scalars(select(Delivery).where(Delivery.invoice_id == int(billogram["id"])))
        )
        assert channels == ["letter"]  # the explicit one; the automatic email is queued by the worker
        paused = session.scalars(select(DunningPause).where(DunningPause.invoice_id == int(billogram["id"]))).all()
        assert len(paused) == 1


def test_example4_paid_or_credited_and_their_pdfs(api: BillogramAPI) -> None:
    paid = api.billogram.create_and_send(
        {"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 2}], "invoice_fee": 0}, "Email"
    )
    assert paid["total_sum"] == 790
    paid.create_payment(500.5)
    assert paid["state"] == "Partly paid" and paid["remaining_sum"] == 289.5
    paid.create_payment(289.5)
    assert paid["state"] == "Paid" and paid["remaining_sum"] == 0
    open_one = api.billogram.create_and_send(
        {"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]}, "Email"
    )
    query = api.billogram.query()
    query.filter_state_any("Paid", "Credited")
    query.page_size = 1
    found = query.get_page(1)
    assert [b["id"] for b in found] == [paid["id"]] and query.count == 1
    bg = found[0]
    assert "events" not in bg.data  # compact in lists
    bg.refresh()
    letters = [e for e in bg["events"] if e["data"] and "letter_id" in e["data"]]
    assert [e["type"] for e in letters] == ["Sent"]
    pdf = bg.get_invoice_pdf(letter_id=letters[0]["data"]["letter_id"])
    assert pdf.startswith(b"%PDF-")
    assert api.billogram.query().filter_state_any("Unpaid").get_page(1)[0]["id"] == open_one["id"]
    assert api.billogram.query().filter_field("invoice_no", str(open_one["invoice_no"])).count == 1
    assert api.billogram.query().filter_field("customer:customer_no", "1").count == 2
    with pytest.raises(E.ObjectNotFoundError):
        bg.get_invoice_pdf(letter_id="999999")


def test_example5_error_details(api: BillogramAPI) -> None:
    data: dict[str, Any] = {
        "customer": {"customer_no": 1},
        "items": [
            {"title": "Test 1", "price": 1, "unit": "unit", "vat": 25, "count": 1},
            {"title": "Test 2", "price": 2, "unit": "kg", "vat": 0, "count": 1},
            {"title": "", "price": 3, "unit": "kg", "vat": 0, "count": 1},
            {"title": "Test 4", "price": 10, "vat": 0},
        ],
        "currency": "SEK",
        "due_date": in_days(30),
    }
    with pytest.raises(E.RequestDataError) as info:
        api.billogram.create(data)
    assert type(info.value) is E.InvalidFieldValueError
    assert str(info.value) == "Title not set"
    assert info.value.field == "title" and info.value.field_path == ["items", 2]
    data["items"][2]["title"] = "Test 3"
    with pytest.raises(E.InvalidFieldValueError) as info:
        api.billogram.create(data)
    assert info.value.field == "count" and info.value.field_path == ["items", 3]
    data["items"][3]["count"] = 1
    data["items"][0]["price"] = 1.005
    with pytest.raises(E.InvalidFieldValueError) as info:
        api.billogram.create(data)
    assert info.value.field == "price" and info.value.field_path == ["items", 0]
    data["items"][0]["price"] = -1
    with pytest.raises(E.InvalidFieldValueError) as info:  # Kvitt's own rule (v1): no negative prices
        api.billogram.create(data)
    assert info.value.field == "price" and info.value.field_path == ["items", 0]
    with pytest.raises(E.UnknownFieldError):
        api.billogram.create({**data, "colour": "red"})
    with pytest.raises(E.ReadOnlyFieldError):
        api.billogram.create({**data, "state": "Paid"})
    with pytest.raises(E.InvalidFieldValueError) as info:
        api.billogram.create({**data, "customer": {"customer_no": 404}})
    assert info.value.field == "customer_no" and info.value.field_path == ["customer"]
    with pytest.raises(E.InvalidFieldValueError) as info:
        api.billogram.create({**data, "invoice_fee": 49})
    assert info.value.field == "invoice_fee"


def test_commands(api: BillogramAPI, server: RunningServer) -> None:
    bg = api.billogram.create({"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 3}]})
    with pytest.raises(E.InvalidObjectStateError):
        bg.create_payment(10)  # not sent yet
    with pytest.raises(E.InvalidObjectStateError):
        bg.resend()
    with pytest.raises(E.InvalidFieldValueError):
        bg.perform_event("send", {"method": "Pigeon"})
    bg.perform_event("attest")
    assert bg["state"] == "Unpaid"
    with pytest.raises(E.InvalidObjectStateError):
        bg.send("Email")  # sent already
    bg.resend("Letter")
    bg.resend()
    bg.send_message("Hej! Fakturan gäller december.")
    message = [e for e in bg["events"] if e["type"] == "Message"]
    assert len(message) == 1 and message[0]["data"]["text"] == "Hej! Fakturan gäller december."
    bg.create_payment(100)
    assert bg["state"] == "Partly paid"
    total = Decimal(str(bg["total_sum"]))
    bg.credit_amount(50.25)
    assert Decimal(str(bg["remaining_sum"])) == total - Decimal("150.25")
    with pytest.raises(E.InvalidFieldValueError):
        bg.credit_full()  # payments and credits were made: Kvitt's rule (full only when untouched)
    bg.writeoff()
    assert bg["state"] == "Ended" and bg["remaining_sum"] == 0
    types = [e["type"] for e in bg["events"]]
    assert types[:2] == ["Created", "Sent"] and {"Payment", "Credit", "WriteOff"} <= set(types)
    for name in ("remind", "collect"):
        with pytest.raises(E.RequestDataError) as info:
            bg.perform_event(name)
        assert "not supported" in str(info.value)
    with pytest.raises(E.InvalidFieldValueError):
        bg.perform_event("fly")
    remaining = api.billogram.create({"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]})
    remaining.perform_event("attest")
    remaining.create_payment(95)
    remaining.credit_remaining()
    assert remaining["state"] == "Credited"


def test_update_and_delete_unsent(api: BillogramAPI) -> None:
    bg = api.billogram.create({"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]})
    bg.update({"items": [{"title": "Extra", "price": 10.5, "vat": 12, "count": 2, "discount": 2.1}]})
    assert bg["items"][0]["discount"] == 2.1 and bg["items"][0]["total_sum"] == 18.9
    with pytest.raises(E.InvalidFieldValueError) as info:
        bg.update({"items": [{"title": "Extra", "price": 10, "vat": 12, "count": 3, "discount": 1}]})
    assert info.value.field == "discount"
    bg.delete()
    with pytest.raises(E.ObjectNotFoundError):
        api.billogram.get(bg["id"])
    sent = api.billogram.create_and_send(
        {"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]}, "Email"
    )
    with pytest.raises(E.InvalidObjectStateError):
        sent.delete()
    with pytest.raises(E.InvalidObjectStateError):
        sent.update({"due_days": 10})


def test_create_and_send_deletes_when_sending_fails(api: BillogramAPI) -> None:
    api.customers.create({"customer_no": 2, "name": "Utan adress"})
    with pytest.raises(E.InvalidFieldValueError):
        api.billogram.create_and_send(
            {"customer": {"customer_no": 2}, "items": [{"item_no": "1", "count": 1}]}, "Letter"
        )
    assert api.billogram.query().count == 0


def test_pdf_answer_shape_and_draft(api: BillogramAPI, server: RunningServer) -> None:
    bg = api.billogram.create({"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]})
    url = f"{server.url}{PREFIX}/billogram/{bg['id']}.pdf"
    answer = requests.get(url, auth=api._auth, timeout=30)
    assert answer.status_code == 404 and answer.json()["status"] == "NOT_AVAILABLE_YET"
    bg.send("Email")
    answer = requests.get(url, params={"invoice_no": bg["invoice_no"]}, auth=api._auth, timeout=30)
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["data"]["file_type"] == "application/pdf"


def test_billograms_tenant_isolation(api: BillogramAPI, server: RunningServer, db: Database) -> None:
    bg = api.billogram.create_and_send(
        {"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]}, "Email"
    )
    other = client_for(server, db, TENANT_B)[0]
    assert other.billogram.query().count == 0
    with pytest.raises(E.ObjectNotFoundError):
        other.billogram.get(bg["id"])
    with pytest.raises(E.ObjectNotFoundError):
        other.get(f"billogram/{bg['id']}.pdf", expect_content_type="application/json")
    with pytest.raises(E.ObjectNotFoundError):
        other.post(f"billogram/{bg['id']}/command/payment", {"amount": 1})
    with pytest.raises(E.InvalidFieldValueError):  # B cannot name A's customer or item
        other.billogram.create({"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]})
    assert invoice_row(db, bg["id"]).paid == 0
