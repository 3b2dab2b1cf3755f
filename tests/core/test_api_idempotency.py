"""``Idempotency-Key`` on POST requests, by Stripe's rules.

Same key and same request: the first response again (status and body), marked with
``Idempotent-Replayed: true``, and the effect happens once. Same key and another request:
409 ``idempotency_key_reused``. A 4xx answer is remembered and replayed like a success; a 5xx
is not (its transaction rolled back, so the request may be retried). Keys belong to a tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kvitt.core.errors import KvittError
from kvitt.customers import service as customers
from tests.conftest import Api

REPLAYED = "idempotent-replayed"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def customer_body(customer_no: str = "1001", **fields: Any) -> dict[str, Any]:
    return {"customer_no": customer_no, "name": "Astrid Lindqvist", "email": "astrid@example.se", **fields}


def count(api: Api, path: str) -> int:
    return len(api.get(path, params={"limit": 100}).json()["data"])


def issued_invoice(api: Api) -> dict[str, Any]:
    customer = api.post("/customers", customer_body("9001")).json()
    lines = [{"description": "Mobilabonnemang", "quantity": "1", "unit_price": 31600, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    response = api.post(f"/invoices/{draft['id']}/issue")
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_replay_of(first: Any, again: Any) -> None:
    assert REPLAYED not in first.headers
    assert again.headers.get(REPLAYED) == "true"
    assert again.status_code == first.status_code
    assert again.json() == first.json()


# --- the same request again ---------------------------------------------------------------------


def test_same_key_and_body_replays_the_response_and_creates_once(api: Api) -> None:
    first = api.post("/customers", customer_body(), headers=key("create-1001"))
    assert first.status_code == 201, first.text
    for _ in range(3):
        assert_replay_of(first, api.post("/customers", customer_body(), headers=key("create-1001")))
    assert count(api, "/customers") == 1


def test_replay_returns_the_first_response_even_after_the_object_changed(api: Api) -> None:
    first = api.post("/customers", customer_body(), headers=key("k"))
    assert api.patch(f"/customers/{first.json()['id']}", {"name": "Astrid Berg"}).status_code == 200
    again = api.post("/customers", customer_body(), headers=key("k"))
    assert_replay_of(first, again)
    assert again.json()["name"] == "Astrid Lindqvist"


def test_replayed_issue_does_not_take_a_second_number(api: Api) -> None:
    customer = api.post("/customers", customer_body()).json()
    lines = [{"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]
    one = api.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    two = api.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    first = api.post(f"/invoices/{one['id']}/issue", headers=key("issue-one"))
    assert first.status_code == 200 and first.json()["number"] == 1
    # Without the key, issuing again is a state error; with it, the first answer comes back.
    assert api.post(f"/invoices/{one['id']}/issue").status_code == 409
    assert_replay_of(first, api.post(f"/invoices/{one['id']}/issue", headers=key("issue-one")))
    assert api.post(f"/invoices/{two['id']}/issue").json()["number"] == 2


def test_replayed_payment_is_recorded_once(api: Api) -> None:
    invoice = issued_invoice(api)
    first = api.post(f"/invoices/{invoice['id']}/payments", {"amount": 10000}, headers=key("pay-1"))
    assert first.status_code == 200, first.text
    assert_replay_of(first, api.post(f"/invoices/{invoice['id']}/payments", {"amount": 10000}, headers=key("pay-1")))
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["paid"] == 10000 and after["remaining"] == invoice["total"] - 10000
    assert [e["type"] for e in after["events"]].count("payment") == 1


def test_replayed_credit_issues_one_credit_note(api: Api) -> None:
    invoice = issued_invoice(api)
    first = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "full"}, headers=key("credit-1"))
    assert first.status_code == 201, first.text
    assert_replay_of(first, api.post(f"/invoices/{invoice['id']}/credit", {"mode": "full"}, headers=key("credit-1")))
    notes = api.get("/invoices", params={"kind": "credit_note"}).json()["data"]
    assert [n["id"] for n in notes] == [first.json()["id"]]


# --- another request with the same key ----------------------------------------------------------


def test_same_key_with_another_body_is_409(api: Api) -> None:
    first = api.post("/customers", customer_body(), headers=key("k"))
    assert first.status_code == 201
    other = api.post("/customers", customer_body("1002"), headers=key("k"))
    assert other.status_code == 409, other.text
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["param"] == "Idempotency-Key"
    assert error["type"] == "invalid_request_error" and error["message"]
    assert REPLAYED not in other.headers
    assert count(api, "/customers") == 1
    # The original request with that key still replays.
    assert_replay_of(first, api.post("/customers", customer_body(), headers=key("k")))


def test_same_key_on_another_endpoint_is_409(api: Api) -> None:
    assert api.post("/customers", customer_body(), headers=key("k")).status_code == 201
    item = {"article_no": "MOB", "title": "Mobil", "unit_price": 100, "vat_rate": 25}
    response = api.post("/items", item, headers=key("k"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_key_reused"
    assert count(api, "/items") == 0


def test_same_key_with_another_query_string_is_409(api: Api) -> None:
    invoice = issued_invoice(api)
    path = f"/invoices/{invoice['id']}/payments"
    assert api.post(path, {"amount": 100}, headers=key("k")).status_code == 200
    response = api.post(path + "?x=1", {"amount": 100}, headers=key("k"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_key_reused"
    assert api.get(f"/invoices/{invoice['id']}").json()["paid"] == 100


# --- errors are remembered too, except server errors ----------------------------------------------


def test_a_validation_error_is_replayed(api: Api) -> None:
    bad = customer_body(email="not an email")
    first = api.post("/customers", bad, headers=key("bad"))
    assert first.status_code == 422 and first.json()["error"]["param"] == "email"
    assert_replay_of(first, api.post("/customers", bad, headers=key("bad")))
    assert count(api, "/customers") == 0


def test_a_conflict_is_replayed_even_when_a_retry_would_now_succeed(api: Api) -> None:
    existing = api.post("/customers", customer_body()).json()
    first = api.post("/customers", customer_body(), headers=key("dup"))
    assert first.status_code == 409 and first.json()["error"]["code"] == "duplicate_customer_no"
    assert api.delete(f"/customers/{existing['id']}").status_code == 200
    # Stripe's rule: the key's result is the first result, not a new attempt.
    assert_replay_of(first, api.post("/customers", customer_body(), headers=key("dup")))
    assert count(api, "/customers") == 0
    # A new key is a new attempt.
    assert api.post("/customers", customer_body(), headers=key("dup-2")).status_code == 201


def test_a_not_found_is_replayed(api: Api) -> None:
    first = api.post("/invoices/987654/issue", headers=key("nf"))
    assert first.status_code == 404
    assert_replay_of(first, api.post("/invoices/987654/issue", headers=key("nf")))


def test_a_state_error_is_replayed(api: Api) -> None:
    invoice = issued_invoice(api)
    first = api.post(f"/invoices/{invoice['id']}/issue", headers=key("again"))
    assert first.status_code == 409 and first.json()["error"]["code"] == "invalid_state"
    assert_replay_of(first, api.post(f"/invoices/{invoice['id']}/issue", headers=key("again")))


@pytest.fixture
def server_error_client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


class Unavailable(KvittError):
    status_code = 503
    error_type = "api_error"
    code = "unavailable"


@pytest.mark.parametrize("failure", ["crash", "json_503"])
def test_a_server_error_is_not_remembered(
    api: Api, server_error_client: TestClient, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """The request fails after its effect was written: nothing of it, nor the key, is kept."""
    real_create = customers.create
    calls = []

    def failing_create(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        real_create(*args, **kwargs)  # the customer row is flushed, then the request fails
        if failure == "crash":
            raise RuntimeError("the database connection went away")
        raise Unavailable("try again later")

    monkeypatch.setattr(customers, "create", failing_create)
    client = Api(server_error_client, api.key, api.tenant_id)
    first = client.post("/customers", customer_body(), headers=key("flaky"))
    assert first.status_code >= 500
    assert REPLAYED not in first.headers
    assert count(api, "/customers") == 0

    monkeypatch.setattr(customers, "create", real_create)
    retry = client.post("/customers", customer_body(), headers=key("flaky"))
    assert retry.status_code == 201, retry.text
    assert REPLAYED not in retry.headers
    assert len(calls) == 1
    assert_replay_of(retry, client.post("/customers", customer_body(), headers=key("flaky")))
    assert count(api, "/customers") == 1


# --- keys belong to a tenant --------------------------------------------------------------------


def test_keys_are_per_tenant(api: Api, api_b: Api) -> None:
    theirs = api_b.post("/customers", customer_body(), headers=key("shared"))
    assert theirs.status_code == 201
    # A sends the very same request with the very same key: a fresh request, not B's answer.
    mine = api.post("/customers", customer_body(), headers=key("shared"))
    assert mine.status_code == 201, mine.text
    assert REPLAYED not in mine.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert api.get(f"/customers/{mine.json()['id']}").status_code == 200
    # A different body under the same key string is no conflict across tenants either.
    other = api.post("/items", {"article_no": "X", "title": "X", "unit_price": 1, "vat_rate": 25}, headers=key("b"))
    assert api_b.post("/customers", customer_body("2002"), headers=key("b")).status_code == 201
    assert other.status_code == 201
    # Each tenant replays its own.
    assert_replay_of(mine, api.post("/customers", customer_body(), headers=key("shared")))
    assert_replay_of(theirs, api_b.post("/customers", customer_body(), headers=key("shared")))
    assert count(api, "/customers") == 1 and count(api_b, "/customers") == 2


# --- the key itself -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "k" * 256])
def test_a_key_must_be_1_to_255_characters(api: Api, value: str) -> None:
    response = api.post("/customers", customer_body(), headers=key(value))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert count(api, "/customers") == 0


def test_a_key_of_255_characters_works(api: Api) -> None:
    long_key = "k" * 255
    first = api.post("/customers", customer_body(), headers=key(long_key))
    assert first.status_code == 201
    assert_replay_of(first, api.post("/customers", customer_body(), headers=key(long_key)))


def test_a_key_on_a_get_is_ignored(api: Api) -> None:
    first = api.get("/customers", headers=key("g"))
    api.post("/customers", customer_body())
    second = api.get("/customers", headers=key("g"))
    assert REPLAYED not in second.headers
    assert len(first.json()["data"]) == 0 and len(second.json()["data"]) == 1


def test_an_unauthenticated_request_does_not_use_up_a_key(api: Api) -> None:
    wrong = Api(api.client, "kvitt_wrong", api.tenant_id)
    assert wrong.post("/customers", customer_body(), headers=key("k")).status_code == 401
    response = api.post("/customers", customer_body(), headers=key("k"))
    assert response.status_code == 201 and REPLAYED not in response.headers


# --- two requests with one key at the same time ----------------------------------------------------


def test_concurrent_requests_with_one_key_apply_once(api: Api) -> None:
    invoice = issued_invoice(api)
    path = f"/invoices/{invoice['id']}/payments"

    def pay(_: int) -> Any:
        return api.post(path, {"amount": 1000}, headers=key("pay-once"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(pay, range(16)))

    fresh = [r for r in responses if r.status_code == 200 and REPLAYED not in r.headers]
    replayed = [r for r in responses if r.headers.get(REPLAYED) == "true"]
    in_use = [r for r in responses if r.status_code == 409]
    assert len(fresh) == 1, [(r.status_code, r.text) for r in responses]
    assert len(fresh) + len(replayed) + len(in_use) == len(responses)
    assert all(r.json() == fresh[0].json() for r in replayed)
    assert all(r.json()["error"]["code"] == "idempotency_key_in_use" for r in in_use)
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["paid"] == 1000
    assert [e["type"] for e in after["events"]].count("payment") == 1
