"""Each way a payment can be reported ends in one log line that says what happened to the money."""

from __future__ import annotations

import httpx
from structlog.testing import capture_logs

from tests.checkout.conftest import Shop


def outcomes(logs: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(e["event"], e.get("outcome")) for e in logs if str(e.get("event", "")).startswith("checkout.")]


def test_booked_unchanged_unknown_and_forged_each_say_so(shop: Shop) -> None:
    invoice = shop.issued_invoice()
    with capture_logs() as logs:
        made = shop.api.post(
            f"/invoices/{invoice['id']}/payment-requests", json={"method": "swish", "payer_alias": "46701234567"}
        ).json()
        # The simulator records its callback after Kvitt has booked it: wait for both.
        shop.drain(lambda: shop.request(made["id"])["state"] == "paid" and shop.swish.simulator.posted)
        callback = shop.swish.simulator.posted[0]["body"]
        httpx.post(f"{shop.url}/callbacks/swish", json=callback)
        httpx.post(f"{shop.url}/callbacks/swish", json={**callback, "id": "F" * 32})
    seen = outcomes(logs)
    assert ("checkout.booked", "booked") in seen
    assert seen.count(("checkout.booked", "booked")) == 1
    assert ("checkout.unchanged", "already booked: nothing to do") in seen
    assert ("checkout.callback_unknown", "not booked: unknown") in seen
