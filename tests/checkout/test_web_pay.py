"""Paying from the web invoice without JavaScript: the buttons, the choice, the request's page
that reloads itself until it says "Betald" (or why not), against the live simulators."""

from __future__ import annotations

import re
from typing import Any

import httpx

from kvitt.simulators.card import CardSimulator
from tests.checkout.conftest import Shop


def token_of(invoice: dict[str, Any]) -> str:
    return str(invoice["url"].rsplit("/", 1)[1])


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, html
    return match.group(1)


def start(shop: Shop, invoice: dict[str, Any], **fields: str) -> httpx.Response:
    token = token_of(invoice)
    choice = httpx.get(f"{shop.url}/i/{token}/betala")
    assert choice.status_code == 200
    form = {"csrf": csrf_of(choice.text), "lang": "", **fields}
    return httpx.post(f"{shop.url}/i/{token}/betala", data=form)


def test_the_invoice_page_offers_swish_and_card_and_a_swish_payment_ends_paid(shop: Shop, card: CardSimulator) -> None:
    invoice = shop.issued_invoice()
    token = token_of(invoice)
    page = httpx.get(f"{shop.url}/i/{token}").text
    assert f'href="/i/{token}/betala#swish"' in page and "Betala med Swish" in page
    assert f'href="/i/{token}/betala#kort"' in page and "Betala med kort" in page

    started = start(shop, invoice, method="swish", phone="070-123 45 67")
    assert started.status_code == 303
    follow = started.headers["location"]
    assert re.fullmatch(rf"/i/{token}/betala/\d+", follow)
    waiting = httpx.get(shop.url + follow).text
    assert '<meta http-equiv="refresh" content="3">' in waiting and 'hx-trigger="every 2s"' in waiting
    assert "070-1234567" in waiting or "0701234567" in waiting

    request_id = int(follow.rsplit("/", 1)[1])
    shop.drain(lambda: shop.request(request_id)["state"] == "paid")
    paid = httpx.get(shop.url + follow).text
    assert "Betald" in paid and "http-equiv" not in paid
    status = httpx.get(f"{shop.url}{follow}/status", headers={"HX-Request": "true"})
    assert status.headers.get("HX-Refresh") == "true"
    after = httpx.get(f"{shop.url}/i/{token}").text
    assert "Betala med Swish" not in after  # nothing left to pay


def test_swish_on_this_phone_shows_the_app_link_and_a_qr_code(shop: Shop) -> None:
    shop.swish.simulator.hold = True
    invoice = shop.issued_invoice()
    follow = start(shop, invoice, method="swish").headers["location"]
    request_id = int(follow.rsplit("/", 1)[1])
    shop.drain(lambda: shop.request(request_id)["token"])
    page = httpx.get(shop.url + follow).text
    token = shop.request(request_id)["token"]
    assert f"swish://paymentrequest?token={token}&amp;callbackurl=" in page
    assert "<svg" in page and "QR" in page


def test_a_declined_swish_payment_says_why_and_offers_the_other_ways(shop: Shop) -> None:
    shop.swish.simulator.hold = True
    invoice = shop.issued_invoice()
    follow = start(shop, invoice, method="swish", phone="0701234567").headers["location"]
    request_id = int(follow.rsplit("/", 1)[1])
    shop.drain(lambda: shop.request(request_id)["provider_reference"] in shop.swish.simulator.requests)
    shop.swish.simulator.finish(shop.request(request_id)["provider_reference"], "ERROR", "BANKIDCL")
    shop.drain(lambda: shop.request(request_id)["state"] != "created")
    page = httpx.get(shop.url + follow).text
    assert "Betalningen avbröts i BankID." in page and f'href="/i/{token_of(invoice)}/betala"' in page
    english = httpx.get(shop.url + follow + "?lang=en").text
    assert "The payment was cancelled in BankID." in english


def test_a_card_payment_from_the_web_invoice(shop: Shop, card: CardSimulator) -> None:
    invoice = shop.issued_invoice()
    follow = start(shop, invoice, method="card").headers["location"]
    request_id = int(follow.rsplit("/", 1)[1])
    shop.drain(lambda: shop.request(request_id)["provider_reference"])
    page = httpx.get(shop.url + follow).text
    link = re.search(r'id="card-open" class="button pay" href="([^"]+)"', page)
    assert link, page
    card_page = link.group(1).replace("&amp;", "&")
    assert card_page.startswith(f"{shop.card_url}/pay/pi_")
    paid = httpx.post(card_page.split("?")[0], data={"number": "4242424242424242", "return_url": shop.url + follow})
    assert paid.status_code == 303 and paid.headers["location"] == shop.url + follow
    shop.drain(lambda: shop.request(request_id)["state"] == "paid")
    assert "Betald" in httpx.get(shop.url + follow).text


def test_bad_forms_and_foreign_requests_are_refused(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    other = shop.issued_invoice(customer_no="C-9")
    token = token_of(invoice)
    forged = httpx.post(f"{shop.url}/i/{token}/betala", data={"csrf": "0" * 32, "method": "swish"})
    assert forged.status_code == 400
    bad_phone = start(shop, invoice, method="swish", phone="12")
    assert bad_phone.status_code == 422 and "Ange ett svenskt mobilnummer" in bad_phone.text
    cross_site = httpx.post(
        f"{shop.url}/i/{token}/betala",
        data={"csrf": csrf_of(httpx.get(f"{shop.url}/i/{token}/betala").text), "method": "swish"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 400
    mine = start(shop, other, method="swish").headers["location"]
    request_id = mine.rsplit("/", 1)[1]
    assert httpx.get(f"{shop.url}/i/{token}/betala/{request_id}").status_code == 404
    assert httpx.get(f"{shop.url}/i/{'x' * 40}/betala").status_code == 404
