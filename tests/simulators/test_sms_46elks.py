"""The 46elks simulator over HTTP behaves as 46elks documents (https://46elks.com/docs/send-sms)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kvitt.delivery.channels import PermanentFailure, TemporaryFailure
from kvitt.delivery.channels.sms import Elks46Client, Elks46Config, sender_name
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.sms_46elks import Elks46Simulator


@pytest.fixture
def elks() -> Iterator[tuple[Elks46Simulator, RunningServer]]:
    simulator = Elks46Simulator(users={"u": "p"}, failing_numbers={"+46700000000"})
    with serve_in_thread(simulator.app()) as server:
        yield simulator, server


def test_send_answers_json_with_an_id_and_lists_it(elks: tuple[Elks46Simulator, RunningServer]) -> None:
    _, server = elks
    form = {"from": "Norrsken", "to": "+46701234567", "message": "Hej"}
    response = httpx.post(f"{server.url}/a1/sms", data=form, auth=("u", "p"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "created" and body["to"] == "+46701234567" and body["id"].startswith("s")
    assert body["parts"] == 1 and body["direction"] == "outgoing"
    listed = httpx.get(f"{server.url}/a1/sms", auth=("u", "p")).json()["data"]
    assert [s["id"] for s in listed] == [body["id"]]
    assert httpx.get(f"{server.url}/a1/sms/{body['id']}", auth=("u", "p")).json()["message"] == "Hej"


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"from": "Norrsken", "to": "0701234567", "message": "Hej"}, "Invalid to number"),
        ({"from": "N", "to": "+46701234567", "message": "Hej"}, "Invalid from"),
        ({"from": "Norrsken", "to": "+46701234567"}, "Missing key message"),
        ({"from": "Norrsken", "to": "+46701234567", "message": "x" * 1531}, "Message too long"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(
    elks: tuple[Elks46Simulator, RunningServer], form: dict[str, str], reason: str
) -> None:
    _, server = elks
    response = httpx.post(f"{server.url}/a1/sms", data=form, auth=("u", "p"))
    assert (response.status_code, response.text) == (400, reason)


def test_wrong_credentials_are_401(elks: tuple[Elks46Simulator, RunningServer]) -> None:
    _, server = elks
    form = {"from": "Norrsken", "to": "+46701234567", "message": "Hej"}
    assert httpx.post(f"{server.url}/a1/sms", data=form, auth=("u", "wrong")).status_code == 401
    assert httpx.post(f"{server.url}/a1/sms", data=form).status_code == 401


def test_delivery_reports_are_posted_form_encoded_to_whendelivered(
    elks: tuple[Elks46Simulator, RunningServer],
) -> None:
    _, server = elks
    received: list[dict[str, str]] = []

    async def report(request: Request) -> PlainTextResponse:
        received.append(_form(await request.body()))
        return PlainTextResponse("OK")

    with serve_in_thread(Starlette(routes=[Route("/report", report, methods=["POST"])])) as receiver:
        with Elks46Client(Elks46Config(server.url, "u", "p")) as client:
            ok = client.send(sender="Norrsken", to="+46701234567", message="a", whendelivered=f"{receiver.url}/report")
            bad = client.send(sender="Norrsken", to="+46700000000", message="b", whendelivered=f"{receiver.url}/report")
        deadline = time.monotonic() + 20
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    statuses = {r["id"]: r["status"] for r in received}
    assert statuses == {ok.provider_ref: "delivered", bad.provider_ref: "failed"}
    assert all(r["delivered"] for r in received)


def _form(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def test_the_client_sorts_failures_into_temporary_and_permanent(elks: tuple[Elks46Simulator, RunningServer]) -> None:
    simulator, server = elks
    simulator.unavailable_times = 1
    with Elks46Client(Elks46Config(server.url, "u", "p")) as client:
        with pytest.raises(TemporaryFailure, match="HTTP 500"):
            client.send(sender="Norrsken", to="+46701234567", message="a")
        with pytest.raises(PermanentFailure, match="Invalid to number"):
            client.send(sender="Norrsken", to="+4612", message="a")
        assert client.send(sender="Norrsken", to="+46701234567", message="a").provider_ref
    with Elks46Client(Elks46Config(server.url, "u", "wrong")) as client, pytest.raises(TemporaryFailure, match="401"):
        client.send(sender="Norrsken", to="+46701234567", message="a")
    with Elks46Client(Elks46Config("http://127.0.0.1:9", "u", "p")) as client, pytest.raises(TemporaryFailure):
        client.send(sender="Norrsken", to="+46701234567", message="a")


def test_the_sender_is_the_tenants_name_as_46elks_allows_it() -> None:
    """46elks: an alphanumeric sender is 3-11 letters and digits starting with a letter."""
    assert sender_name(None, "Norrsken Telekom AB") == "NorrskenTel"
    assert sender_name(None, "Fjällström Energi AB") == "FjallstromE"
    assert sender_name(None, "3 AB") == "Kvitt"
    assert sender_name("Elbolaget", "whatever") == "Elbolaget"


def test_the_demo_providers_answer_with_the_settings_they_return() -> None:
    from kvitt.simulators import start_demo_providers

    settings, servers = start_demo_providers()
    try:
        with Elks46Client(Elks46Config(settings["KVITT_SMS_URL"], "demo", "demo")) as client:
            assert client.send(sender="Kvitt", to="+46701234567", message="demo").provider_ref
        listed = httpx.get(f"{settings['KVITT_PEPPOL_AP_URL']}/v1/documents", headers={"Authorization": "Bearer demo"})
        assert listed.json() == {"data": []}
    finally:
        for server in servers:
            server.stop()
