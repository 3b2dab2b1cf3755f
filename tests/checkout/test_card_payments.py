"""Paying an invoice by card: Kvitt drives the card simulator with the official ``stripe``
package; the simulator's signed webhooks come back to /callbacks/stripe."""

from __future__ import annotations

import json
from typing import Any

import httpx
import stripe

from kvitt.simulators.card import CardSimulator, sign
from tests.checkout.conftest import Shop
from tests.checkout.test_swish_payments import payments_of

CARD = {"method": "card"}


def ask_card(shop: Shop, invoice: dict[str, Any]) -> dict[str, Any]:
    made = shop.api.post(f"/invoices/{invoice['id']}/payment-requests", json=CARD)
    assert made.status_code == 201, made.text
    shop.drain(lambda: shop.request(made.json()["id"])["provider_reference"])
    return shop.request(made.json()["id"])


def pay_on_card_page(shop: Shop, intent: str, number: str) -> httpx.Response:
    return httpx.post(f"{shop.card_url}/pay/{intent}", data={"number": number, "return_url": ""})


def test_a_card_payment_is_booked_on_the_card_clearing_account_once(shop: Shop, card: CardSimulator) -> None:
    invoice = shop.issued_invoice()
    request = ask_card(shop, invoice)
    intent = card.intents[request["provider_reference"]]
    assert request["provider_reference"].startswith("pi_") and request["token"] == intent["client_secret"]
    assert (intent["amount"], intent["currency"], intent["metadata"]["invoice"]) == (
        invoice["total"],
        "sek",
        str(invoice["id"]),
    )
    page = httpx.get(f"{shop.card_url}/pay/{intent['id']}")
    assert page.status_code == 200 and "4242 4242 4242 4242" in page.text

    assert pay_on_card_page(shop, intent["id"], "4242 4242 4242 4242").status_code == 200
    # The simulator posts its webhook after answering the card page, and Kvitt's own poll may
    # book the payment first on a loaded machine: wait for both, either may come first.
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid" and card.webhooks)
    assert card.webhooks[0]["type"] == "payment_intent.succeeded" and card.webhooks[0]["status"] == 200
    (payment,) = payments_of(shop, invoice)
    assert payment["source"] == "card" and payment["amount"] == invoice["total"]
    ledger = shop.ledger()
    assert ledger["1580"] == invoice["total"] and ledger["1510"] == 0 and ledger.get("1930", 0) == 0
    assert shop.api.get(f"/invoices/{invoice['id']}").json()["state"] == "paid"

    # A replayed webhook (same body, new valid signature) books nothing more.
    event = json.dumps(card.webhooks[0]["event"])
    again = httpx.post(
        f"{shop.url}/callbacks/stripe",
        content=event,
        headers={"Stripe-Signature": sign(event, card.webhook_secret), "Content-Type": "application/json"},
    )
    assert (again.status_code, again.text) == (200, "unchanged")
    assert len(payments_of(shop, invoice)) == 1 and shop.ledger() == ledger


def test_a_webhook_with_a_wrong_signature_is_refused_and_books_nothing(shop: Shop, card: CardSimulator) -> None:
    invoice = shop.issued_invoice()
    request = ask_card(shop, invoice)
    event = json.dumps(
        {
            "id": "evt_x",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": request["provider_reference"]}},
        }
    )
    for header in (sign(event, "whsec_wrong"), "t=1,v1=00", ""):
        refused = httpx.post(f"{shop.url}/callbacks/stripe", content=event, headers={"Stripe-Signature": header})
        assert refused.status_code == 400
    # Correctly signed but the PaymentIntent has not succeeded: Kvitt asks the API and books nothing.
    signed = httpx.post(
        f"{shop.url}/callbacks/stripe", content=event, headers={"Stripe-Signature": sign(event, card.webhook_secret)}
    )
    assert (signed.status_code, signed.text) == (200, "pending")
    assert shop.request(request["id"])["state"] == "created" and payments_of(shop, invoice) == []


def test_a_declined_card_says_why_and_a_second_card_pays(shop: Shop, card: CardSimulator) -> None:
    invoice = shop.issued_invoice()
    request = ask_card(shop, invoice)
    declined = pay_on_card_page(shop, request["provider_reference"], "4000 0000 0000 0002")
    assert declined.status_code == 200 and "nekades" in declined.text
    shop.drain(lambda: shop.request(request["id"])["state"] == "declined")
    ended = shop.request(request["id"])
    assert ended["error_code"] == "generic_decline" and ended["error_message"] == "Your card was declined."
    assert payments_of(shop, invoice) == []
    # The payer tries another card on the same page: the money is real, so it is booked.
    pay_on_card_page(shop, request["provider_reference"], "4242424242424242")
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    assert shop.ledger()["1580"] == invoice["total"]


def test_the_simulator_speaks_stripes_api_to_the_official_client(card: CardSimulator, shop: Shop) -> None:
    client = stripe.StripeClient(card.secret_key, base_addresses={"api": shop.card_url}, max_network_retries=0)
    intent = client.v1.payment_intents.create(
        {"amount": 43100, "currency": "sek", "payment_method_types": ["card"], "metadata": {"invoice": "7"}},
        {"idempotency_key": "k-1"},
    )
    again = client.v1.payment_intents.create(
        {"amount": 43100, "currency": "sek", "payment_method_types": ["card"], "metadata": {"invoice": "7"}},
        {"idempotency_key": "k-1"},
    )
    assert again.id == intent.id and intent.status == "requires_payment_method" and intent.metadata["invoice"] == "7"
    try:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})
        raise AssertionError("a declined card must raise CardError")
    except stripe.CardError as exc:
        assert exc.code == "card_declined" and exc.http_status == 402
    paid = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert paid.status == "succeeded" and paid.amount_received == 43100
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 100})
    assert refund.status == "succeeded" and client.v1.refunds.retrieve(refund.id).amount == 100
    for call, code in (
        (lambda: client.v1.payment_intents.retrieve("pi_missing"), "resource_missing"),
        (lambda: client.v1.payment_intents.create({"amount": 100, "currency": "sek"}), "amount_too_small"),
        (lambda: client.v1.refunds.create({"payment_intent": intent.id, "amount": 50000}), "amount_too_large"),
    ):
        try:
            call()
            raise AssertionError(f"expected {code}")
        except stripe.InvalidRequestError as exc:
            assert exc.code == code
    wrong_key = stripe.StripeClient("sk_test_wrong", base_addresses={"api": shop.card_url}, max_network_retries=0)
    try:
        wrong_key.v1.payment_intents.retrieve(intent.id)
        raise AssertionError("a wrong key must be refused")
    except stripe.AuthenticationError:
        pass


def test_money_for_an_invoice_paid_meanwhile_is_kept_then_refunded_through_stripe(
    shop: Shop, card: CardSimulator
) -> None:
    invoice = shop.issued_invoice()
    request = ask_card(shop, invoice)
    assert shop.api.post(f"/invoices/{invoice['id']}/payments", json={"amount": invoice["total"]}).status_code == 200
    pay_on_card_page(shop, request["provider_reference"], "4242424242424242")
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    (deviation,) = shop.api.get("/deviations", params={"state": "open"}).json()["data"]
    assert deviation["kind"] == "already_settled" and deviation["amount"] == invoice["total"]
    refund = shop.api.post(f"/payment-requests/{request['id']}/refunds", json={"reason": "Betald två gånger"})
    assert refund.status_code == 201, refund.text
    shop.drain(lambda: shop.request(request["id"])["refunded"] == invoice["total"])
    ledger = shop.ledger()
    assert ledger["1580"] == 0 and ledger["2420"] == 0 and ledger["1930"] == invoice["total"]
    # Stripe's charge.refunded arrives too: Kvitt asks again and books nothing twice.
    shop.drain(lambda: any(w["type"] == "charge.refunded" for w in card.webhooks))
    (refunded,) = [w for w in card.webhooks if w["type"] == "charge.refunded"]
    assert refunded["status"] == 200 and shop.ledger() == ledger
