"""Billing files through the API: all of a file or none of it, once, with clear errors.

Bad input (issue 4, "Bad input"): a missing column, an unknown customer when upsert is off, a
VAT rate of 24 (no Swedish rate: Mervärdesskattelagen 2023:200, 9 kap.), a quantity of "abc",
two rows of one invoice_ref with different customers, a date that does not exist. Each is
refused whole with its line and field, and nothing is applied.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from kvitt.billing_files.models import BillingFile, InvoiceRef
from kvitt.core.db import Database
from kvitt.customers.models import Customer
from kvitt.formats.billing_file import FIELDS
from kvitt.invoices.models import Invoice
from kvitt.ledger.models import JournalLine
from tests.conftest import Api

HEADER = ",".join(FIELDS)
ASTRID = "1001,Astrid Lindqvist,astrid@example.se,070-123 45 67,19811218-9876,Storgatan 1,11122,Stockholm,email"
BERTIL = "1002,Bertil Ek,,,,Lillgatan 2,41301,Göteborg,letter"
GOOD = (
    "\n".join(
        [
            HEADER,
            f"{ASTRID},F-1,2026-11-30,2026-12-30,MOB-1,Mobilabonnemang,1,199.00,25,"
            "Surf: 12 GB | Bindningstid till: 2027-03-31",
            "1001,,,,,,,,,F-1,,,,Extra surf,2,24.50,25,",
            f"{BERTIL},F-2,2026-11-30,2026-12-30,,Tidning,1,120.00,6,",
        ]
    )
    + "\n"
)


def upload(api: Api, body: str | bytes, **params: Any) -> Any:
    data = body.encode() if isinstance(body, str) else body
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "text/csv", "X-Filename": "nov.csv"}
    return api.client.post("/api/v1/billing-files", content=data, headers=headers, params=params)


def counts(db: Database) -> tuple[int, int, int, int, int]:
    with db.transaction() as session:
        return (
            session.scalar(select(func.count(Customer.id))) or 0,
            session.scalar(select(func.count(Invoice.id))) or 0,
            session.scalar(select(func.count(BillingFile.id))) or 0,
            session.scalar(select(func.count(InvoiceRef.id))) or 0,
            session.scalar(select(func.count(JournalLine.id))) or 0,
        )


def test_a_file_becomes_customers_and_issued_invoices_with_their_info(api: Api, db: Database) -> None:
    response = upload(api, GOOD, issue="true")
    assert response.status_code == 201, response.text
    file = response.json()
    assert (file["state"], file["rows"], file["invoices"], file["customers_created"]) == ("imported", 3, 2, 2)
    # 199.00 + 2 × 24.50 = 248.00 at 25 % → 310.00; 120.00 at 6 % → 127.20 → 127 (öresavrundning)
    invoices = {i["metadata"]["invoice_ref"]: i for i in api.get("/invoices", params={"limit": 10}).json()["data"]}
    assert {ref: (i["state"], i["total"]) for ref, i in invoices.items()} == {
        "F-1": ("unpaid", 31000),
        "F-2": ("unpaid", 12700),
    }
    assert file["total"] == 31000 + 12700
    assert invoices["F-1"]["info"] == [
        {"title": "Surf", "text": "12 GB"},
        {"title": "Bindningstid till", "text": "2027-03-31"},
    ]
    assert [ln["quantity"] for ln in invoices["F-1"]["lines"]] == ["1", "2"]
    (astrid,) = api.get("/customers", params={"customer_no": "1001"}).json()["data"]
    assert (astrid["phone"], astrid["id_number"], astrid["delivery_method"]) == (
        "+46701234567",
        "198112189876",
        "email",
    )
    assert api.get(f"/billing-files/{file['id']}").json()["invoices"] == 2
    assert [f["id"] for f in api.get("/billing-files").json()["data"]] == [file["id"]]


def test_the_same_file_twice_creates_nothing_new(api: Api, db: Database) -> None:
    first = upload(api, GOOD, issue="true")
    before = counts(db)
    again = upload(api, GOOD, issue="true")
    assert again.status_code == 200 and again.json()["already_imported"] is True
    assert again.json()["id"] == first.json()["id"]
    assert counts(db) == before


def test_an_invoice_ref_from_an_earlier_file_is_skipped_and_reported(api: Api, db: Database) -> None:
    upload(api, GOOD, issue="true")
    later = GOOD + "1003,Cilla Holm,,,,,,,,F-3,2026-11-30,,,Tidning,1,120.00,6,\n"
    response = upload(api, later, issue="true")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["invoices"], body["skipped"], body["skipped_refs"]) == (1, 2, ["F-1", "F-2"])
    assert counts(db)[1] == 3


def test_drafts_by_default_and_customers_updated_from_a_later_file(api: Api, db: Database) -> None:
    upload(api, GOOD)
    states = {i["state"] for i in api.get("/invoices").json()["data"]}
    assert states == {"draft"}
    changed = HEADER + "\n1001,,astrid.new@example.se,,,,,,sms,F-9,,,,Tidning,1,10.00,25,\n"
    body = upload(api, changed).json()
    assert (body["customers_created"], body["customers_updated"]) == (0, 1)
    (astrid,) = api.get("/customers", params={"customer_no": "1001"}).json()["data"]
    assert (astrid["name"], astrid["email"], astrid["delivery_method"]) == (
        "Astrid Lindqvist",  # a blank name keeps the stored one
        "astrid.new@example.se",
        "sms",
    )


def test_json_lines_with_the_jsonl_mapping(api: Api) -> None:
    line = (
        '{"invoice_ref": "J-1", "customer": {"customer_no": "7", "name": "Bo"}, '
        '"lines": [{"description": "Medlemsavgift", "quantity": 1, "unit_price": "450.00", "vat_rate": 0}], '
        '"info": {"Medlem sedan": "2019"}}\n'
    )
    response = upload(api, line, mapping="jsonl", issue="true")
    assert response.status_code == 201, response.text
    (invoice,) = api.get("/invoices").json()["data"]
    assert (invoice["total"], invoice["info"]) == (45000, [{"title": "Medlem sedan", "text": "2019"}])


BAD_INPUTS = [
    pytest.param(GOOD.replace(",vat_rate", ""), {}, [(1, "header")], id="missing column"),
    pytest.param(
        GOOD.replace("1.00,6,", "1.00,24,").replace("120.00,6,", "120.00,24,"), {}, [(4, "vat_rate")], id="vat 24"
    ),
    pytest.param(GOOD.replace(",2,24.50,", ",abc,24.50,"), {}, [(3, "quantity")], id="quantity abc"),
    pytest.param(GOOD.replace("1001,,,,,,,,,F-1", "1002,,,,,,,,,F-1"), {}, [(3, "customer_no")], id="two customers"),
    pytest.param(GOOD.replace("F-2,2026-11-30", "F-2,2026-02-29"), {}, [(4, "invoice_date")], id="no such date"),
    pytest.param(GOOD, {"upsert_customers": "false"}, [(2, "customer_no"), (4, "customer_no")], id="unknown customer"),
    pytest.param(GOOD.replace("astrid@example.se", "astrid@"), {}, [(2, "email")], id="bad email"),
    pytest.param(GOOD.replace("19811218-9876", "19811218-9875"), {}, [(2, "id_number")], id="bad personnummer"),
]


@pytest.mark.parametrize(("body", "params", "where"), BAD_INPUTS)
def test_bad_input_is_refused_whole_with_line_and_field(
    api: Api, db: Database, body: str, params: dict[str, str], where: list[tuple[int, str]]
) -> None:
    response = upload(api, body, issue="true", **params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    assert [(e["line"], e["field"]) for e in error["errors"]] == where
    assert error["message"].startswith(f"the file was not imported: line {where[0][0]}")
    assert counts(db) == (0, 0, 0, 0, 0)


def test_a_known_customer_is_enough_when_upsert_is_off(api: Api) -> None:
    api.post("/customers", {"customer_no": "1001", "name": "Astrid"})
    api.post("/customers", {"customer_no": "1002", "name": "Bertil"})
    response = upload(api, GOOD, upsert_customers="false")
    assert response.status_code == 201, response.text
    assert response.json()["customers_created"] == 0
    (astrid,) = api.get("/customers", params={"customer_no": "1001"}).json()["data"]
    assert astrid["name"] == "Astrid"  # with upsert off the file's customer fields are not written


def test_errors_stop_at_the_limit(api: Api) -> None:
    rows = [f"{ASTRID},F-{n},2026-11-30,,,X,abc,1.00,25," for n in range(150)]
    error = upload(api, HEADER + "\n" + "\n".join(rows) + "\n").json()["error"]
    assert len(error["errors"]) == 100 and "stopped after 100 errors" in error["message"]


def test_an_unknown_mapping_and_an_empty_body_are_clear_errors(api: Api) -> None:
    assert upload(api, GOOD, mapping="nope").json()["error"]["param"] == "mapping"
    assert upload(api, b"").json()["error"]["param"] == "body"
