"""``GET /api/v1/invoices/{id}/ubl``: Kvitt's issued invoices as Peppol BIS Billing 3.0, validated
with the official UBL 2.1 XSD and the EN 16931 and Peppol Schematron rules."""

from __future__ import annotations

from typing import Any

from lxml import etree

from kvitt.core.db import Database
from kvitt.documents.ubl import invoice_ubl
from kvitt.formats.peppol import CAC, CBC
from tests.conftest import Api
from tests.documents.helpers import company_customer, issue, person_customer, set_tenant_address
from tests.formats.peppol_rules import fatal, schematron_findings, xsd_errors

NS = {"cbc": CBC, "cac": CAC}


def ubl_of(api: Api, invoice_id: int) -> bytes:
    response = api.get(f"/invoices/{invoice_id}/ubl")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml"
    return bytes(response.content)


def assert_valid(xml: bytes) -> None:
    assert xsd_errors(xml) == []
    findings = fatal(schematron_findings(xml))
    assert findings == [], "\n".join(f"{f.id}: {f.text}" for f in findings)


def values(xml: bytes, path: str) -> list[str]:
    return [str(v) for v in etree.fromstring(xml).xpath(path, namespaces=NS)]


def test_an_issued_invoice_to_a_company_is_a_valid_peppol_invoice(api: Api) -> None:
    set_tenant_address(api)
    customer = company_customer(api)
    invoice = issue(api, customer["id"])
    xml = ubl_of(api, invoice["id"])
    assert_valid(xml)
    assert values(xml, "/*/cbc:ID/text()") == [str(invoice["number"])]
    assert values(xml, "/*/cbc:DueDate/text()") == [invoice["due_date"]]
    assert values(xml, "/*/cbc:BuyerReference/text()") == [customer["customer_no"]]
    buyer = "/*/cac:AccountingCustomerParty/cac:Party"
    assert values(xml, f"{buyer}/cbc:EndpointID/text()") == ["5560160680"]
    assert values(xml, f"{buyer}/cbc:EndpointID/@schemeID") == ["0007"]
    assert values(xml, "/*/cac:PaymentMeans/cbc:PaymentID/text()") == [invoice["ocr"]]
    assert values(xml, "/*/cac:LegalMonetaryTotal/cbc:PayableRoundingAmount/text()") == ["0.16"]
    assert values(xml, "/*/cac:LegalMonetaryTotal/cbc:PayableAmount/text()") == ["612.00"]


def test_credit_notes_full_and_partial_are_valid_and_reference_the_invoice(api: Api) -> None:
    """A credit note is a CreditNote (381) with positive amounts and a BillingReference (BG-3)."""
    invoice = issue(api, company_customer(api)["id"])
    partial = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "amount", "amount": 10000}).json()
    rest = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "remaining"}).json()
    for note, payable in ((partial, "100.00"), (rest, "512.00")):
        xml = ubl_of(api, note["id"])
        assert_valid(xml)
        assert etree.QName(etree.fromstring(xml)).localname == "CreditNote"
        reference = "/*/cac:BillingReference/cac:InvoiceDocumentReference"
        assert values(xml, f"{reference}/cbc:ID/text()") == [str(invoice["number"])]
        assert values(xml, f"{reference}/cbc:IssueDate/text()") == [invoice["invoice_date"]]
        assert values(xml, "/*/cac:LegalMonetaryTotal/cbc:PayableAmount/text()") == [payable]


def test_discounts_decimal_quantities_and_exempt_lines_stay_valid(api: Api) -> None:
    customer = company_customer(api)
    lines: list[dict[str, Any]] = [
        {"description": "Medlemsavgift 2027", "quantity": "1", "unit_price": 50000, "vat_rate": 0},
        {"description": "Router", "quantity": "2.5", "unit_price": 19900, "vat_rate": 25, "discount_percent": "10"},
        {"description": "Elnät", "quantity": "1234.567", "unit_price": 73, "vat_rate": 25, "unit": "kWh"},
    ]
    invoice = issue(api, customer["id"], lines=lines)
    xml = ubl_of(api, invoice["id"])
    assert_valid(xml)
    assert values(xml, "//cac:InvoiceLine[3]/cbc:InvoicedQuantity/@unitCode") == ["KWH"]


def test_a_private_person_needs_a_peppol_id_to_get_an_e_invoice(api: Api) -> None:
    person = person_customer(api)
    invoice = issue(api, person["id"])
    response = api.get(f"/invoices/{invoice['id']}/ubl")
    assert response.status_code == 422
    assert "no Peppol address" in response.json()["error"]["message"]

    with_id = person_customer(api, customer_no="1002", attributes={"peppol_id": "0007:5560160680"})
    xml = ubl_of(api, issue(api, with_id["id"])["id"])
    assert_valid(xml)
    assert values(xml, "/*/cac:AccountingCustomerParty/cac:Party/cbc:EndpointID/text()") == ["5560160680"]


def test_the_function_other_features_call(db: Database, api: Api) -> None:
    """``invoice_ubl(session, tenant_id, invoice_id)``: the contract the e-invoice channel uses."""
    invoice = issue(api, company_customer(api)["id"])
    with db.transaction() as session:
        xml = invoice_ubl(session, api.tenant_id, invoice["id"])
    assert xml == ubl_of(api, invoice["id"])
    assert_valid(xml)
