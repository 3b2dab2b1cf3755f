"""Paying an invoice with Swish: Kvitt, the worker and the Swish simulator over real sockets
(mutual TLS), from the API call to the booked payment, with callbacks and without."""

from __future__ import annotations

from typing import Any

import httpx

from tests.checkout.conftest import Shop

SWISH = {"method": "swish", "payer_alias": "070-123 45 67"}


def ask(shop: Shop, invoice: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    made = shop.api.post(f"/invoices/{invoice['id']}/payment-requests", json=body or SWISH)
    assert made.status_code == 201, made.text
    return dict(made.json())


def payments_of(shop: Shop, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    found = shop.api.get("/payments", params={"customer": invoice["customer"]}).json()["data"]
    return [p for p in found if any(a["invoice"] == invoice["id"] for a in p["allocations"])]


def test_a_swish_payment_is_booked_from_the_callback_once(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    assert (request["state"], request["amount"], request["method"], request["flow"]) == (
        "created",
        invoice["total"],
        "swish",
        "ecommerce",
    )
    assert request["payer_alias"] == "46701234567"
    # The simulator records its callback's answer after Kvitt has committed the booking:
    # wait for both, as the test reads the record below.
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid" and shop.swish.simulator.posted)

    sent = shop.swish.simulator.requests[request["provider_reference"]]
    assert sent["payeePaymentReference"] == invoice["ocr"] and sent["amount"] == f"{invoice['total'] // 100}.00"
    assert sent["payeeAlias"] == "1231181189" and sent["callbackUrl"] == f"{shop.url}/callbacks/swish"
    assert shop.swish.simulator.posted[0]["status"] == 200
    paid = shop.request(request["id"])
    (payment,) = payments_of(shop, invoice)
    assert payment["id"] == paid["payment"] and payment["source"] == "swish" and payment["amount"] == invoice["total"]
    after = shop.api.get(f"/invoices/{invoice['id']}").json()
    assert after["state"] == "paid" and after["remaining"] == 0
    assert "paid" in [event["type"] for event in after["events"]]
    ledger = shop.ledger()
    assert ledger["1930"] == invoice["total"] and ledger["1510"] == 0

    # The same callback again (Swish retries, or someone replays it): nothing more is booked.
    again = httpx.post(f"{shop.url}/callbacks/swish", json=shop.swish.simulator.posted[0]["body"])
    assert (again.status_code, again.text) == (200, "unchanged")
    assert len(payments_of(shop, invoice)) == 1 and shop.ledger() == ledger


def test_a_forged_callback_changes_nothing_kvitt_asks_swish(shop: Shop) -> None:
    shop.swish.simulator.hold = True
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    shop.drain(lambda: request["provider_reference"] in shop.swish.simulator.requests)
    forged = {"id": request["provider_reference"], "status": "PAID", "amount": 431.00, "paymentReference": "X" * 32}
    answer = httpx.post(f"{shop.url}/callbacks/swish", json=forged)
    assert (answer.status_code, answer.text) == (200, "pending")
    assert shop.request(request["id"])["state"] == "created" and payments_of(shop, invoice) == []

    unknown = httpx.post(f"{shop.url}/callbacks/swish", json={**forged, "id": "0" * 32})
    assert unknown.status_code == 404
    assert httpx.post(f"{shop.url}/callbacks/swish", content=b"not json").status_code == 400

    # Swish really pays it, with no callback: the poll finds it and books it.
    shop.swish.simulator.finish(request["provider_reference"])
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    assert len(payments_of(shop, invoice)) == 1


def test_without_a_callback_the_request_is_polled_until_it_ends(shop: Shop) -> None:
    shop.swish.simulator.callbacks = False
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    assert shop.swish.simulator.posted == []
    assert shop.ledger()["1930"] == invoice["total"]


def test_a_declined_payment_says_why_and_books_nothing(shop: Shop) -> None:
    shop.swish.simulator.hold = True
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    shop.drain(lambda: request["provider_reference"] in shop.swish.simulator.requests)
    shop.swish.simulator.finish(request["provider_reference"], "DECLINED", "RF07")
    shop.drain(lambda: shop.request(request["id"])["state"] != "created")
    ended = shop.request(request["id"])
    assert (ended["state"], ended["error_code"], ended["payment"]) == ("declined", "RF07", None)
    assert ended["error_message"] == "The payment was declined by Swish or the bank."
    assert payments_of(shop, invoice) == [] and shop.ledger().get("1930", 0) == 0
    # The invoice can still be paid: a new request is made.
    assert ask(shop, invoice)["state"] == "created"


def test_swish_answering_500_is_retried_and_the_payment_booked_once(shop: Shop) -> None:
    shop.swish.simulator.unavailable_times = 1
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid", seconds=40)
    assert len(payments_of(shop, invoice)) == 1 and shop.ledger()["1930"] == invoice["total"]


def test_m_commerce_gets_a_token_for_the_swish_app(shop: Shop) -> None:
    shop.swish.simulator.hold = True
    invoice = shop.issued_invoice()
    request = ask(shop, invoice, {"method": "swish"})
    assert request["flow"] == "mcommerce" and request["payer_alias"] is None
    shop.drain(lambda: shop.request(request["id"])["token"])
    assert len(shop.request(request["id"])["token"]) == 32


def test_more_money_than_asked_is_booked_as_paid_and_the_surplus_refunded_through_swish(shop: Shop) -> None:
    shop.swish.simulator.paid_amount_delta = 100
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    paid = shop.request(request["id"])
    assert paid["paid_amount"] == invoice["total"] + 100
    (deviation,) = shop.api.get("/deviations", params={"state": "open"}).json()["data"]
    assert deviation["kind"] == "overpayment" and deviation["amount"] == 100
    assert shop.ledger()["2420"] == -100

    refund = shop.api.post(f"/payment-requests/{request['id']}/refunds", json={"reason": "Betalt för mycket"})
    assert refund.status_code == 201, refund.text
    assert refund.json()["amount"] == 100
    too_much = shop.api.post(f"/payment-requests/{request['id']}/refunds", json={"amount": 1})
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "nothing_to_refund"
    shop.drain(lambda: shop.request(request["id"])["refunded"] == 100)
    ledger = shop.ledger()
    assert ledger["2420"] == 0 and ledger["1930"] == invoice["total"]
    assert shop.api.get(f"/deviations/{deviation['id']}").json()["state"] == "resolved"
    (sent,) = shop.swish.simulator.refunds.values()
    assert sent["amount"] == "1.00" and sent["payerAlias"] == "1231181189"


def test_a_request_is_refused_for_an_invoice_that_is_not_open(shop: Shop) -> None:
    paid = shop.issued_invoice(customer_no="C-2")
    assert shop.api.post(f"/invoices/{paid['id']}/payments", json={"amount": paid["total"]}).status_code == 200
    credited = shop.issued_invoice(customer_no="C-3")
    assert shop.api.post(f"/invoices/{credited['id']}/credit", json={"mode": "full"}).status_code in (200, 201)
    customer = shop.api.get("/customers").json()["data"][0]
    line = {"description": "x", "quantity": "1", "unit_price": 100, "vat_rate": 25}
    draft = shop.api.post("/invoices", json={"customer": customer["id"], "lines": [line]}).json()
    for invoice, code in ((paid, "invoice_paid"), (credited, "invoice_credited"), (draft, "invoice_not_issued")):
        refused = shop.api.post(f"/invoices/{invoice['id']}/payment-requests", json=SWISH)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == code, refused.text
    bad = shop.api.post(f"/invoices/{paid['id']}/payment-requests", json={"method": "swish", "payer_alias": "12"})
    assert bad.status_code in (409, 422)
    open_one = shop.issued_invoice(customer_no="C-4")
    wrong = shop.api.post(f"/invoices/{open_one['id']}/payment-requests", json={"method": "swish", "payer_alias": "12"})
    assert wrong.status_code == 422 and wrong.json()["error"]["param"] == "payer_alias"
    amount = shop.api.post(f"/invoices/{open_one['id']}/payment-requests", json={"method": "swish", "amount": 1})
    assert amount.status_code == 422  # the amount is Kvitt's to decide


def test_the_payers_request_goes_out_ahead_of_a_backlog_of_other_jobs(shop: Shop) -> None:
    from datetime import timedelta

    from kvitt.core.db import utcnow
    from kvitt.core.outbox import claim_due, enqueue

    invoice = shop.issued_invoice()
    with shop.db.transaction() as session:
        for n in range(20):  # a billing day's deliveries, queued two hours before the payer pressed the button
            enqueue(session, "backlog.noop", {"n": n}, tenant_id=shop.tenant_id, run_at=utcnow() - timedelta(hours=2))
    ask(shop, invoice)
    with shop.db.transaction() as session:
        (first,) = claim_due(session, "test-worker", 1, 60)
        session.rollback()
    assert first.kind == "checkout.send"
