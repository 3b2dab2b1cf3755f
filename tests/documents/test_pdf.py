"""The invoice PDF: what the law asks for is on it, and its QR codes decode to exactly what they should.

The PDFs are read back with real tools: poppler's ``pdftotext``/``pdftoppm`` and zbar's ``zbarimg``.
"""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kvitt.core.db import Database
from kvitt.documents import fontcache
from kvitt.documents.pdf import ADDRESS, WINDOW, invoice_pdf
from tests.conftest import Api
from tests.documents.helpers import (
    BASE_URL,
    company_customer,
    issue,
    pdf_text,
    person_customer,
    qr_codes,
    set_tenant_address,
)

MINUS = "\u2212"
MM = 72 / 25.4  # PDF points per millimetre


def pdf_of(api: Api, invoice_id: int, **params: Any) -> bytes:
    response = api.get(f"/invoices/{invoice_id}/pdf", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    return bytes(response.content)


def flatten(text: str) -> str:
    """Layout whitespace made single spaces. pdftotext writes the no-break space of amounts
    (U+00A0, from ``format_amount``) as a plain space, so amounts are matched with a space."""
    return re.sub(r"[ \t\r\n\f\u00a0]+", " ", text).strip()


def flat_text(pdf: bytes, tmp_path: Path) -> str:
    return flatten(pdf_text(pdf, tmp_path))


def web_url(invoice: dict[str, Any]) -> str:
    return str(invoice["url"])


def test_qr_codes_decode_to_the_usingqr_json_and_the_web_invoice_link(api: Api, tmp_path: Path) -> None:
    """UsingQR (Usingtech, spec rev. 2, 2014): uqr, tp, nme, cc, cid, iref, idt, ddt, due, cur, pt, acc."""
    set_tenant_address(api)
    invoice = issue(api, person_customer(api)["id"])
    codes = qr_codes(pdf_of(api, invoice["id"]), tmp_path)
    expected_payment = (
        '{"uqr":1,"tp":1,"nme":"Norrsken Telekom AB","cc":"SE","cid":"556036-0793",'
        f'"iref":"{invoice["ocr"]}","idt":"{invoice["invoice_date"].replace("-", "")}",'
        f'"ddt":"{invoice["due_date"].replace("-", "")}","due":612.00,"cur":"SEK","pt":"BG","acc":"5050-1055"}}'
    )
    assert sorted(codes) == sorted([expected_payment, web_url(invoice)])
    assert web_url(invoice) == f"{BASE_URL}/i/{invoice['url'].rsplit('/', 1)[1]}"
    payment = json.loads(expected_payment, parse_float=Decimal)
    assert payment["due"] == Decimal(invoice["remaining"]) / 100


def test_a_payee_name_with_swedish_letters_survives_the_qr_code(api_b: Api, tmp_path: Path) -> None:
    """Tenant B is "Fjällström Energi AB": the JSON escapes the letters, so any scanner reads them right."""
    invoice = issue(api_b, person_customer(api_b)["id"])
    codes = qr_codes(pdf_of(api_b, invoice["id"]), tmp_path)
    (text,) = [code for code in codes if code.startswith("{")]
    assert '"nme":"Fj\\u00e4llstr\\u00f6m Energi AB"' in text and text.isascii()
    payment = json.loads(text)
    assert payment["nme"] == "Fjällström Energi AB"
    assert payment["acc"] == "991-2346" and payment["iref"] == invoice["ocr"]


def test_the_pdf_carries_what_the_vat_act_requires(api: Api, tmp_path: Path) -> None:
    """Mervärdesskattelagen (2023:200) 17 kap. 24 §: date, number, seller's VAT number, names and
    addresses, what was sold and how much, unit price excl. VAT, VAT rate, VAT per rate; plus the
    organisation number, "Godkänd för F-skatt", the due date, the totals and öresavrundning."""
    set_tenant_address(api)
    invoice = issue(api, company_customer(api)["id"])
    text = pdf_text(pdf_of(api, invoice["id"]), tmp_path)
    flat = flatten(text)
    for required in (
        "Faktura",
        # the seller: name, address, organisation and VAT numbers, F-skatt
        "Norrsken Telekom AB",
        "Hamngatan 3",
        "972 38 Luleå",
        "Org.nr 556036-0793",
        "Momsreg.nr SE556036079301",
        "Godkänd för F-skatt",
        # number and dates
        f"Fakturanummer {invoice['number']}",
        f"Fakturadatum {invoice['invoice_date']}",
        f"Förfallodatum {invoice['due_date']}",
        # the buyer
        "Fjällström Energi AB",
        "Kraftverksvägen 7",
        "903 26 Umeå",
        "Kundens org.nr 556016-0680",
        # lines: description, quantity, unit price, VAT rate, net
        "Extra surf 5 GB 2 49,00 kr 25 % 98,00 kr",
        "Tidning 1 89,00 kr",  # pdftotext closes up the narrow "6 %" column, so the rate is checked by the row above
        # VAT per rate and totals
        "Summa exklusive moms 503,00 kr",
        "Moms 25 % på 414,00 kr 103,50 kr",
        "Moms 6 % på 89,00 kr 5,34 kr",
        "Summa moms 108,84 kr",
        "Öresavrundning 0,16 kr",
        "Totalt 612,00 kr",
        # payment details
        "Bankgiro 5050-1055",
        f"OCR-nummer {invoice['ocr']}",
        "Att betala 612,00 kr",
        f"Webbfaktura: {web_url(invoice)}",
    ):
        assert required in flat, f"{required!r} not in the PDF text:\n{text}"


def test_a_credit_note_says_kreditfaktura_references_the_invoice_and_has_no_payment_code(
    api: Api, tmp_path: Path
) -> None:
    """Mervärdesskattelagen (1994:200 11 kap. 10 §, carried into 2023:200 ch. 17): a document that
    changes an invoice refers to it unambiguously; nothing is paid on a credit note."""
    invoice = issue(api, person_customer(api)["id"])
    note = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "full"}).json()
    pdf = pdf_of(api, note["id"])
    flat = flat_text(pdf, tmp_path)
    assert "Kreditfaktura" in flat
    assert f"Krediterar faktura {invoice['number']} ({invoice['invoice_date']})" in flat
    assert f"Totalt att kreditera {MINUS}612,00 kr" in flat  # U+2212, the Swedish minus
    assert "du behöver inte betala något" in flat
    assert "Att betala" not in flat
    assert qr_codes(pdf, tmp_path) == [web_url(note)]


def test_a_paid_invoice_has_no_payment_code(api: Api, tmp_path: Path) -> None:
    invoice = issue(api, person_customer(api)["id"])
    assert api.post(f"/invoices/{invoice['id']}/payments", {"amount": invoice["total"]}).status_code == 200
    pdf = pdf_of(api, invoice["id"])
    assert "Fakturan är betald" in pdf_text(pdf, tmp_path)
    assert qr_codes(pdf, tmp_path) == [web_url(invoice)]


def test_a_partly_paid_invoice_asks_for_what_is_left(api: Api, tmp_path: Path) -> None:
    invoice = issue(api, person_customer(api)["id"])
    assert api.post(f"/invoices/{invoice['id']}/payments", {"amount": 20000}).status_code == 200
    pdf = pdf_of(api, invoice["id"])
    assert "Att betala 412,00 kr" in flat_text(pdf, tmp_path)
    (payment,) = [json.loads(c, parse_float=Decimal) for c in qr_codes(pdf, tmp_path) if c.startswith("{")]
    assert payment["due"] == Decimal("412.00")


def words_with_boxes(pdf: bytes, tmp_path: Path) -> list[tuple[str, float, float, float, float]]:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, check=True).stdout.decode()
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    return [
        (w, float(a) / MM, float(b) / MM, float(c) / MM, float(d) / MM) for a, b, c, d, w in re.findall(pattern, html)
    ]


def test_a_letter_puts_the_recipient_address_in_the_c5_window(api: Api, tmp_path: Path) -> None:
    """C5 window envelope: window 105 × 35 mm, 15 mm from the left and 44 mm from the top."""
    invoice = issue(api, person_customer(api)["id"])
    words = words_with_boxes(pdf_of(api, invoice["id"], letter="true"), tmp_path)
    address_words = {"Åsa", "Öberg-Lindqvist", "Storgatan", "12", "B", "lgh", "1102", "981", "31", "Kiruna"}
    found = [w for w in words if w[0] in address_words and w[2] < 100]
    assert {w[0] for w in found} == address_words
    for word, x_min, y_min, x_max, y_max in found:
        assert WINDOW.x + 3 <= x_min and x_max <= WINDOW.x + WINDOW.width - 3, word
        assert WINDOW.y + 1 <= y_min and y_max <= WINDOW.y + WINDOW.height - 1, word
    assert ADDRESS.x >= WINDOW.x and ADDRESS.y + ADDRESS.height <= WINDOW.y + WINDOW.height
    # The return address line sits in the window too, above the recipient.
    sender = [w for w in words if w[0] == "Norrsken" and WINDOW.y <= w[2] <= WINDOW.y + 6]
    assert sender, "no return address in the window"


def test_on_paper_the_second_code_opens_the_delivery_settings_of_the_web_invoice(
    api: Api, client: TestClient, tmp_path: Path
) -> None:
    """Issue 5: a paper invoice carries a code that moves the customer to digital delivery."""
    invoice = issue(api, person_customer(api)["id"])
    pdf = pdf_of(api, invoice["id"], letter="true")
    (link,) = [code for code in qr_codes(pdf, tmp_path) if not code.startswith("{")]
    assert link == f"{web_url(invoice)}/settings"
    assert "Byt till digital faktura" in pdf_text(pdf, tmp_path)
    response = client.get(link.removeprefix(BASE_URL), follow_redirects=False)
    assert response.status_code == 303 and "installningar" in response.headers["location"]


def test_a_letter_abroad_ends_with_the_country_in_capitals(api: Api, tmp_path: Path) -> None:
    customer = person_customer(api, country="NO", postal_code="0313", city="Oslo")
    invoice = issue(api, customer["id"])
    words = words_with_boxes(pdf_of(api, invoice["id"], letter="true"), tmp_path)
    (norge,) = [w for w in words if w[0] == "NORGE"]
    (oslo,) = [w for w in words if w[0] == "Oslo"]
    assert norge[2] > oslo[2] and norge[4] <= WINDOW.y + WINDOW.height - 1


def test_the_function_other_features_call(db: Database, api: Api, tmp_path: Path) -> None:
    """``invoice_pdf(session, tenant_id, invoice_id, letter=...)``: the contract delivery uses."""
    invoice = issue(api, person_customer(api)["id"])
    with db.transaction() as session:
        pdf = invoice_pdf(session, api.tenant_id, invoice["id"], letter=True, base_url="https://pay.example")
    token = invoice["url"].rsplit("/", 1)[1]
    assert f"https://pay.example/i/{token}/settings" in qr_codes(pdf, tmp_path)


def test_a_name_outside_the_common_characters_is_printed_and_gets_its_own_subset(api: Api, tmp_path: Path) -> None:
    """Characters beyond the pre-picked set (ø, ł, Cyrillic) still print, through the full font if needed."""
    fontcache.clear()
    for name in ("Søren Łukasz", "Ольга Иванова"):
        customer = person_customer(api, customer_no=name[:4], name=name)
        invoice = issue(api, customer["id"])
        text = pdf_text(pdf_of(api, invoice["id"]), tmp_path)
        assert name in text
    # The same glyph set again is served from the cache and prints the same.
    again = issue(api, person_customer(api, customer_no="Søre2", name="Søren Łukasz")["id"])
    assert "Søren Łukasz" in pdf_text(pdf_of(api, again["id"]), tmp_path)


def test_a_draft_has_no_pdf_or_e_invoice(api: Api) -> None:
    customer = company_customer(api)
    draft = api.post(
        "/invoices",
        {
            "customer": customer["id"],
            "lines": [{"description": "x", "quantity": "1", "unit_price": 100, "vat_rate": 25}],
        },
    ).json()
    for kind in ("pdf", "ubl"):
        response = api.get(f"/invoices/{draft['id']}/{kind}")
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_state" and "draft" in error["message"] and "issue it first" in error["message"]


@pytest.mark.parametrize("invoice_id", [987654321])
def test_an_unknown_invoice_is_not_found(api: Api, invoice_id: int) -> None:
    for kind in ("pdf", "ubl"):
        response = api.get(f"/invoices/{invoice_id}/{kind}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"


def test_a_long_invoice_runs_over_pages_with_every_line_and_the_footer_on_each(api: Api, tmp_path: Path) -> None:
    description = "Samtal {i:02d} till 070-123 45 {i:02d} – en beskrivning för lång för sin kolumn på raden"
    lines = [
        {"description": description.format(i=i), "quantity": "1", "unit_price": 100 + i, "vat_rate": 25}
        for i in range(70)
    ]
    invoice = issue(api, person_customer(api)["id"], lines=lines)
    pdf = pdf_of(api, invoice["id"])
    text = flat_text(pdf, tmp_path)
    assert all(f"Samtal {i:02d} till" in text for i in range(70))
    assert "…" in text  # descriptions too long for the column are shortened, not run over the numbers
    pages = text.count("Org.nr 556036-0793")
    assert pages >= 2 and [f"Sida {n} av {pages}" in text for n in range(1, pages + 1)] == [True] * pages
    assert sorted(qr_codes(pdf, tmp_path)) == sorted([payment_code(invoice), web_url(invoice)])


def payment_code(invoice: dict[str, Any]) -> str:
    return (
        '{"uqr":1,"tp":1,"nme":"Norrsken Telekom AB","cc":"SE","cid":"556036-0793",'
        f'"iref":"{invoice["ocr"]}","idt":"{invoice["invoice_date"].replace("-", "")}",'
        f'"ddt":"{invoice["due_date"].replace("-", "")}","due":{invoice["remaining"] // 100}.'
        f'{invoice["remaining"] % 100:02d},"cur":"SEK","pt":"BG","acc":"5050-1055"}}'
    )
