"""An invoice paid another way or credited while a payment request is open: Kvitt cancels the
request at the provider (Swish: ``PATCH /swish-cpcapi/api/v1/paymentrequests/{id}`` with a JSON
patch of ``/status`` to ``cancelled``; Stripe: ``POST /v1/payment_intents/{id}/cancel``), so the
payer cannot pay it twice; if the payer was quicker, the money is booked all the same."""

from __future__ import annotations

from typing import Any

from kvitt.simulators.card import CardSimulator
from tests.checkout.conftest import Shop
from tests.checkout.test_card_payments import ask_card
from tests.checkout.test_swish_payments import ask, payments_of


def sent_to_swish(shop: Shop, invoice: dict[str, Any]) -> dict[str, Any]:
    shop.swish.simulator.hold = True  # the payer has not approved it yet
    request = ask(shop, invoice)
    shop.drain(lambda: request["provider_reference"] in shop.swish.simulator.requests)
    return request


def test_a_swish_request_is_cancelled_when_the_invoice_is_paid_another_way(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    request = sent_to_swish(shop, invoice)
    assert shop.api.post(f"/invoices/{invoice['id']}/payments", json={"amount": invoice["total"]}).status_code == 200
    shop.drain(lambda: shop.request(request["id"])["state"] == "cancelled")
    assert shop.swish.simulator.requests[request["provider_reference"]]["status"] == "CANCELLED"
    ended = shop.request(request["id"])
    assert ended["error_message"] == "the invoice was paid another way" and ended["payment"] is None
    assert len(payments_of(shop, invoice)) == 1
    # What the payer's app would now do: nothing is left to approve.
    assert shop.swish.simulator.finish(request["provider_reference"])["status"] == "CANCELLED"


def test_a_swish_request_is_cancelled_when_the_invoice_is_credited(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    request = sent_to_swish(shop, invoice)
    assert shop.api.post(f"/invoices/{invoice['id']}/credit", json={"mode": "full"}).status_code == 201
    shop.drain(lambda: shop.request(request["id"])["state"] == "cancelled")
    assert shop.swish.simulator.requests[request["provider_reference"]]["status"] == "CANCELLED"
    assert shop.request(request["id"])["error_message"] == "the invoice was credited"
    ledger = shop.ledger()
    assert ledger.get("1930", 0) == 0 and ledger.get("1510", 0) == 0


def test_a_payer_quicker_than_the_cancel_is_booked_and_kept_as_credit(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    shop.swish.simulator.callbacks = False
    request = sent_to_swish(shop, invoice)
    shop.swish.simulator.finish(request["provider_reference"])  # paid in the app; no callback yet
    assert shop.api.post(f"/invoices/{invoice['id']}/payments", json={"amount": invoice["total"]}).status_code == 200
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    assert shop.swish.simulator.requests[request["provider_reference"]]["status"] == "PAID"
    (kept,) = shop.api.get("/deviations", params={"state": "open"}).json()["data"]
    assert kept["kind"] == "already_settled" and kept["amount"] == invoice["total"]
    assert shop.ledger()["1930"] == 2 * invoice["total"] and shop.ledger()["2420"] == -invoice["total"]


def test_a_card_payment_intent_is_cancelled_when_the_invoice_is_paid_another_way(
    shop: Shop, card: CardSimulator
) -> None:
    invoice = shop.issued_invoice()
    request = ask_card(shop, invoice)
    assert shop.api.post(f"/invoices/{invoice['id']}/payments", json={"amount": invoice["total"]}).status_code == 200
    shop.drain(lambda: shop.request(request["id"])["state"] == "cancelled")
    assert card.intents[request["provider_reference"]]["status"] == "canceled"
    assert shop.ledger().get("1580", 0) == 0


def test_a_request_not_yet_sent_simply_ends_and_is_never_sent(shop: Shop) -> None:
    from kvitt.checkout import service

    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    with shop.db.transaction() as session:
        cancelled = service.cancel_open_requests(
            session, shop.tenant_id, {invoice["id"]: service.CANCEL_REASONS["invoice.paid"]}
        )
    assert cancelled == [request["id"]]
    shop.drain(lambda: True)  # the send job finds it ended
    ended = shop.request(request["id"])
    assert (ended["state"], ended["error_code"]) == ("cancelled", "invoice_settled")
    assert request["provider_reference"] not in shop.swish.simulator.requests
