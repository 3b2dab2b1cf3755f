"""An invoice autogiro pays says so: "Dras via autogiro <date>" on the web invoice, in the email
and on the PDF, instead of asking for a payment; the others are unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.customers.models import Customer
from tests.autogiro.test_files import issued_invoice, with_active_mandates
from tests.conftest import Api
from tests.documents.helpers import pdf_text, qr_codes
from tests.loopback import Mailbox
from tests.webhooks.helpers import run_worker


def _set_email_delivery(db: Database) -> None:
    with db.transaction() as session:
        for customer in session.query(Customer):
            customer.delivery_method = "email"


def _web_page(api: Api, invoice: dict[str, Any]) -> str:
    response = api.client.get(invoice["url"].removeprefix("https://kvitt.test"))
    assert response.status_code == 200, response.text
    return response.text


def test_the_web_invoice_email_and_pdf_say_dras_via_autogiro(
    api: Api, db: Database, settings: Settings, tmp_path: Path, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    with_active_mandates(db, api, count=1)
    _set_email_delivery(db)
    other = api.post("/customers", {"customer_no": "2001", "name": "Utan Autogiro", "email": "u@example.se"}).json()
    # Due on a Wednesday far ahead (a past due date would move to the first banking day to come).
    by_autogiro = issued_invoice(api, _customer_id(db, "1001"), due="2099-09-30")
    by_hand = issued_invoice(api, other["id"], due="2099-09-30")

    page = _web_page(api, by_autogiro)
    assert "Dras via autogiro 2099-09-30" in page and "Du behöver inte göra något" in page
    assert by_autogiro["ocr"] not in page.split("Dras via autogiro")[1].split("</section>")[0]  # no OCR to give
    plain = _web_page(api, by_hand)
    assert "Dras via autogiro" not in plain and by_hand["ocr"] in plain

    run_worker(db, settings)
    (mail,) = mailbox.to("k0@example.se")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "Dras via autogiro 2099-09-30" in text and "OCR:" not in text
    assert "Dras via autogiro 2099-09-30" in html

    pdf = api.get(f"/invoices/{by_autogiro['id']}/pdf").content
    assert "Dras via autogiro 2099-09-30" in pdf_text(pdf, tmp_path)
    assert qr_codes(pdf, tmp_path) == [by_autogiro["url"]]  # no payment code: only the web invoice's
    assert "Dras via autogiro" not in pdf_text(api.get(f"/invoices/{by_hand['id']}/pdf").content, tmp_path)


def _customer_id(db: Database, number: str) -> int:
    with db.transaction() as session:
        found = session.query(Customer).filter(Customer.customer_no == number).one()
        return int(found.id)
