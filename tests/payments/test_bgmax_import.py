"""Importing BGMax files through the API: all or nothing, once, for the right bankgiro.

Source: Bankgirot, "Bankgiro Inbetalningar, BGMax" (record layout, TK15 deposit sums); the
sample file is Bankgirot's own published example (tests/data/bankgirot/).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from kvitt.formats import bgmax
from tests.conftest import Api

SAMPLE = Path(__file__).parent.parent / "data" / "bankgirot" / "bgmax_sample_ocr_check_length.txt"


def post_file(api: Api, data: bytes, **headers: str) -> Any:
    return api.client.post(
        "/api/v1/payment-files",
        content=data,
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/octet-stream", **headers},
    )


def a_file(payee: str, payments: list[tuple[int, str, str]], on: date = date(2026, 11, 25)) -> bytes:
    """A BGMax file for bankgiro ``payee`` with (amount, reference, serial) payments."""
    items = tuple(
        bgmax.BgmaxPayment(
            kind="payment",
            payer_bankgiro="0000000000",
            reference=reference,
            amount=amount,
            reference_code=2,
            channel=1,
            bgc_serial=serial,
            has_image=False,
            payer_name="Astrid Lindqvist",
        )
        for amount, reference, serial in payments
    )
    deposit = bgmax.BgmaxDeposit(
        payee_bankgiro=payee.replace("-", "").zfill(10),
        payee_plusgiro=None,
        currency="SEK",
        payments=items,
        account="000000000000000000000012345",
        date=on,
        deposit_serial="00001",
        amount=sum(p.amount for p in items),
        count=len(items),
        deposit_type="",
    )
    return bgmax.write(bgmax.file_of(datetime(2026, 11, 25, 7, 0), [deposit]))


def issued(api: Api, amount: int) -> dict[str, Any]:
    customer = api.post("/customers", {"customer_no": str(amount), "name": "Astrid Lindqvist"}).json()
    lines = [{"description": "Abonnemang", "unit_price": amount, "vat_rate": 0}]
    draft = api.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    return dict(api.post(f"/invoices/{draft['id']}/issue").json())


def test_bankgirots_sample_is_imported_once_and_queued(api_b: Api) -> None:
    # Tenant B's bankgiro is 991-2346, the payee of Bankgirot's sample; none of its references are ours.
    data = SAMPLE.read_bytes()
    first = post_file(api_b, data, **{"X-Filename": SAMPLE.name})
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["deposits"], body["payments"], body["duplicates"]) == (2, 7, 0)
    assert body["amount"] == 190000 + 800000  # the two TK15 deposit amounts: 1 900,00 and 8 000,00 kr
    assert body["filename"] == SAMPLE.name and body["already_imported"] is False
    again = post_file(api_b, data)
    assert again.status_code == 200 and again.json()["already_imported"] is True and again.json()["id"] == body["id"]
    payments = api_b.get("/payments", params={"file": body["id"], "limit": 100}).json()["data"]
    assert len(payments) == 7
    deduction = next(p for p in payments if p["amount"] < 0)
    assert deduction["amount"] == -50000 and deduction["details"]["deduction_code"] == 0
    kinds = sorted(d["kind"] for d in api_b.get("/deviations", params={"limit": 100}).json()["data"])
    assert kinds.count("deduction") == 1 and len(kinds) == 7


def test_a_file_pays_our_invoices(api: Api) -> None:
    one, two = issued(api, 39500), issued(api, 19900)
    data = a_file("5050-1055", [(39500, one["ocr"], "000000000001"), (10000, two["ocr"], "000000000002")])
    response = post_file(api, data)
    assert response.status_code == 201, response.text
    assert response.json()["matched"] == 2 and response.json()["deviations"] == 0
    assert api.get(f"/invoices/{one['id']}").json()["state"] == "paid"
    after = api.get(f"/invoices/{two['id']}").json()
    assert (after["state"], after["remaining"]) == ("partly_paid", 9900)
    assert [e["type"] for e in after["events"]][-1] == "payment"
    # A corrected file from the bank that repeats a payment: the repeated one is skipped.
    again = a_file("5050-1055", [(10000, two["ocr"], "000000000002"), (9900, two["ocr"], "000000000003")])
    second = post_file(api, again).json()
    assert (second["payments"], second["duplicates"]) == (1, 1)
    assert api.get(f"/invoices/{two['id']}").json()["state"] == "paid"


def test_a_file_for_another_bankgiro_is_refused_whole(api: Api) -> None:
    one = issued(api, 39500)
    response = post_file(api, a_file("991-2346", [(39500, one["ocr"], "000000000001")]))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_file" and "991-2346" in error["message"]
    assert error["param"].startswith("line 5:")  # the TK15 that closes the deposit
    assert api.get(f"/invoices/{one['id']}").json()["state"] == "unpaid"
    assert api.get("/payment-files").json()["data"] == []


def test_a_malformed_file_names_its_line_and_field_and_applies_nothing(api: Api) -> None:
    one = issued(api, 39500)
    lines = a_file("5050-1055", [(39500, one["ocr"], "000000000001")]).split(b"\r\n")
    lines[2] = lines[2][:40] + b"X" + lines[2][41:]  # a letter in the TK20 amount
    response = post_file(api, b"\r\n".join(lines))
    assert response.status_code == 422
    assert response.json()["error"]["param"].startswith("line 3:")
    assert "amount" in response.json()["error"]["param"]
    assert api.get(f"/invoices/{one['id']}").json()["state"] == "unpaid"
    truncated = b"\r\n".join(lines[:3])
    assert post_file(api, truncated).status_code == 422
    assert post_file(api, b"").status_code == 422
