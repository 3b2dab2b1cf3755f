"""A paid invoice credited: the money goes back the way it came. Swish through the Swish
simulator's refunds (mutual TLS), card through the card simulator driven by the official
``stripe`` package, bankgiro as a ``refund_due`` deviation a person pays out.

Ledger (BAS-kontoplanen, bas.se): the payment booked 1930 (Swish: the bank) or 1580 (card:
Fordringar för kontokort och kuponger) against 1510; the credit note reverses 3001/2611
against 1510; the money it frees moves 1510 <- 2420 Förskott från kunder; the refund, once the
provider says it is paid, 2420 -> 1930 / 1580. Everything nets to zero.
"""

from __future__ import annotations

from typing import Any

from kvitt.simulators.card import CardSimulator
from tests.checkout.conftest import Shop
from tests.checkout.test_card_payments import ask_card, pay_on_card_page
from tests.checkout.test_swish_payments import ask


def deviations(shop: Shop, **params: Any) -> list[dict[str, Any]]:
    return list(shop.api.get("/deviations", params=params).json()["data"])


def nothing_left(ledger: dict[str, int]) -> dict[str, int]:
    return {account: amount for account, amount in ledger.items() if amount}


def test_a_credited_swish_payment_is_refunded_through_swish(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    assert shop.ledger()["1930"] == invoice["total"]

    note = shop.api.post(f"/invoices/{invoice['id']}/credit", json={"mode": "full", "reason": "Fel abonnemang"})
    assert note.status_code == 201, note.text
    credited = shop.api.get(f"/invoices/{invoice['id']}").json()
    assert (credited["state"], credited["paid"], credited["credited"], credited["remaining"]) == (
        "credited",
        0,
        invoice["total"],
        0,
    )
    (due,) = deviations(shop, state="open")
    assert (due["kind"], due["amount"]) == ("refund_due", invoice["total"])
    assert shop.ledger()["2420"] == -invoice["total"]  # owed to the customer until Swish pays it back

    shop.drain(lambda: shop.request(request["id"])["refunded"] == invoice["total"])
    (sent,) = shop.swish.simulator.refunds.values()
    paid = shop.swish.simulator.requests[request["provider_reference"]]
    assert sent["originalPaymentReference"] == paid["paymentReference"]
    assert sent["amount"] == f"{invoice['total'] // 100}.00" and sent["payerAlias"] == "1231181189"
    assert sent["message"].startswith("Kreditering faktura")
    assert shop.api.get(f"/deviations/{due['id']}").json()["state"] == "resolved"
    assert nothing_left(shop.ledger()) == {}
    (refund,) = shop.request(request["id"])["refunds"]
    assert (refund["state"], refund["amount"]) == ("paid", invoice["total"])


def test_a_credited_card_payment_is_refunded_through_stripe(shop: Shop, card: CardSimulator) -> None:
    invoice = shop.issued_invoice()
    request = ask_card(shop, invoice)
    assert pay_on_card_page(shop, request["provider_reference"], "4242 4242 4242 4242").status_code == 200
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    assert shop.ledger()["1580"] == invoice["total"]

    # A part of the invoice is credited: only that goes back; the invoice stays paid.
    part = 10000
    note = shop.api.post(f"/invoices/{invoice['id']}/credit", json={"mode": "amount", "amount": part})
    assert note.status_code == 201, note.text
    after = shop.api.get(f"/invoices/{invoice['id']}").json()
    assert (after["state"], after["paid"], after["credited"]) == ("paid", invoice["total"] - part, part)
    shop.drain(lambda: shop.request(request["id"])["refunded"] == part)
    (made,) = card.refunds.values()
    assert made["payment_intent"] == request["provider_reference"] and made["amount"] == part
    ledger = shop.ledger()
    assert ledger["1580"] == invoice["total"] - part and ledger["2420"] == 0 and ledger["1510"] == 0
    assert deviations(shop, state="open") == []
    # Stripe's charge.refunded comes too: Kvitt asks again and books nothing twice.
    shop.drain(lambda: any(w["type"] == "charge.refunded" for w in card.webhooks))
    assert shop.ledger() == ledger


def test_a_credited_bankgiro_payment_waits_for_a_person_to_pay_it_out(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    assert shop.api.post(f"/invoices/{invoice['id']}/payments", json={"amount": invoice["total"]}).status_code == 200
    assert shop.api.post(f"/invoices/{invoice['id']}/credit", json={"mode": "full"}).status_code == 201
    shop.drain(lambda: True)
    (due,) = deviations(shop, state="open", kind="refund_due")
    assert due["amount"] == invoice["total"]
    assert shop.swish.simulator.refunds == {}  # no provider took this money: nothing is sent anywhere
    resolved = shop.api.post(f"/deviations/{due['id']}/resolve", json={"action": "refund", "note": "Utbetalt"})
    assert resolved.status_code == 200, resolved.text
    assert nothing_left(shop.ledger()) == {}


def test_a_credit_that_keeps_the_money_leaves_it_as_credit_for_the_next_invoice(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    request = ask(shop, invoice)
    shop.drain(lambda: shop.request(request["id"])["state"] == "paid")
    kept = shop.api.post(f"/invoices/{invoice['id']}/credit", json={"mode": "full", "refund": False})
    assert kept.status_code == 201, kept.text
    shop.drain(lambda: True)
    assert shop.swish.simulator.refunds == {} and deviations(shop, state="open") == []
    customer = shop.api.get(f"/customers/{invoice['customer']}").json()
    assert shop.ledger()["2420"] == -invoice["total"], customer
