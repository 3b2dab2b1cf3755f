"""The BankID simulator over real mutual TLS, driven by the ``pybankid`` client (held to BankID's
contract, not ours) and by Kvitt's own client (kvitt.bankid.client)."""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

import bankid
from kvitt.bankid.client import BankIDClient, BankIDError, tls_context
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.bankid import (
    DEFAULT_USER,
    BankIDSimulator,
    CertFiles,
    make_certs,
    settings_for,
    tls_options,
    valid_personal_number,
)

# pybankid passes its certificate to httpx as cert=(...), which httpx 0.28 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`cert=...` is deprecated:DeprecationWarning")


class Clock:
    """The simulator's clock, moved by the test (no sleeping, no timing)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("bankid-certs"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(certs: CertFiles, clock: Clock) -> Iterator[tuple[BankIDSimulator, RunningServer]]:
    simulator = BankIDSimulator(complete_after=3.0, clock=clock)
    with serve_in_thread(simulator.app(), **tls_options(certs)) as server:
        yield simulator, server


@pytest.fixture
def kvitt_client(sim: tuple[BankIDSimulator, RunningServer], certs: CertFiles) -> Iterator[BankIDClient]:
    url = settings_for(sim[1].url, certs)["KVITT_BANKID_URL"]
    with BankIDClient(url, tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))) as client:
        yield client


@pytest.fixture
def pyclient(sim: tuple[BankIDSimulator, RunningServer], certs: CertFiles) -> Iterator[bankid.BankIDClient]:
    """pybankid's v6 client, pointed at the simulator instead of BankID's test host (its address is fixed)."""
    server = sim[1]
    client = bankid.BankIDClient(certificates=(str(certs.client_cert), str(certs.client_key)), test_server=True)
    context = ssl.create_default_context(cafile=str(certs.ca))
    context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    client.client = httpx.Client(verify=context, headers={"Content-Type": "application/json"}, timeout=10)
    base = f"{server.url}/rp/v6.0/"
    client.api_url = base
    for name in ("auth", "sign", "collect", "cancel"):
        setattr(client, f"_{name}_endpoint", base + name)
    yield client
    client.client.close()


def test_pybankid_signs_and_collects_pending_then_complete(pyclient: bankid.BankIDClient, clock: Clock) -> None:
    order = pyclient.sign(end_user_ip="192.0.2.7", user_visible_data="Medgivande till autogiro")
    assert set(order) == {"orderRef", "autoStartToken", "qrStartToken", "qrStartSecret"}
    first = pyclient.collect(order["orderRef"])
    assert first["status"] == "pending" and first["hintCode"] == "outstandingTransaction"
    clock.now += 1.5
    assert pyclient.collect(order["orderRef"])["hintCode"] == "userSign"
    clock.now += 2
    done = pyclient.collect(order["orderRef"])
    assert done["status"] == "complete"
    data = done["completionData"]
    assert data["user"]["personalNumber"] == DEFAULT_USER[0] and data["user"]["name"] == DEFAULT_USER[1]
    assert data["device"]["ipAddress"] == "192.0.2.7"
    signature = base64.b64decode(data["signature"]).decode()
    visible = base64.b64encode(b"Medgivande till autogiro").decode()
    assert f">{visible}</usrVisibleData>" in signature
    assert b"good" in base64.b64decode(data["ocspResponse"])


def test_pybankid_errors_map_to_its_exception_classes(pyclient: bankid.BankIDClient) -> None:
    with pytest.raises(bankid.exceptions.InvalidParametersError):
        pyclient.sign(end_user_ip="not-an-ip", user_visible_data="x")
    with pytest.raises(bankid.exceptions.InvalidParametersError):
        pyclient.collect("00000000-0000-0000-0000-000000000000")
    named = {"personalNumber": "198506159915"}
    pyclient.authenticate(end_user_ip="192.0.2.7", requirement=named)
    with pytest.raises(bankid.exceptions.AlreadyInProgressError):
        pyclient.authenticate(end_user_ip="192.0.2.7", requirement=named)


def test_pybankid_cancel_ends_the_order(pyclient: bankid.BankIDClient) -> None:
    order = pyclient.sign(end_user_ip="192.0.2.7", user_visible_data="x")
    assert pyclient.cancel(order["orderRef"]) is True
    with pytest.raises(bankid.exceptions.InvalidParametersError):
        pyclient.collect(order["orderRef"])


@pytest.mark.parametrize(
    ("how", "hint"),
    [
        ({"user_visible_data": "Medgivande #userCancel"}, "userCancel"),
        ({"user_visible_data": "x", "requirement": {"personalNumber": "198506159915"}}, "expiredTransaction"),
        ({"user_visible_data": "x", "requirement": {"personalNumber": "198506159923"}}, "startFailed"),
        ({"user_visible_data": "x", "requirement": {"personalNumber": "198506159931"}}, "certificateErr"),
        ({"user_visible_data": "x", "requirement": {"personalNumber": "198506159907"}}, "userCancel"),
    ],
)
def test_a_chosen_hint_code_fails_the_order(pyclient: bankid.BankIDClient, clock: Clock, how: dict, hint: str) -> None:
    order = pyclient.sign(end_user_ip="192.0.2.7", **how)
    clock.now += 2
    pending = pyclient.collect(order["orderRef"])
    expected_pending = "outstandingTransaction" if hint in ("startFailed", "expiredTransaction") else "userSign"
    assert pending == {"orderRef": order["orderRef"], "status": "pending", "hintCode": expected_pending}
    clock.now += 2
    assert pyclient.collect(order["orderRef"]) == {"orderRef": order["orderRef"], "status": "failed", "hintCode": hint}


def test_a_named_person_signs_as_themself(pyclient: bankid.BankIDClient, clock: Clock) -> None:
    order = pyclient.sign(end_user_ip="::1", user_visible_data="x", requirement={"personalNumber": "200001012384"})
    clock.now += 5
    assert pyclient.collect(order["orderRef"])["completionData"]["user"]["personalNumber"] == "200001012384"


def test_kvitt_client_signs_with_the_text_encoded_and_collects(
    sim: tuple[BankIDSimulator, RunningServer], kvitt_client: BankIDClient, clock: Clock
) -> None:
    order = kvitt_client.sign("192.0.2.9", "Jag godkänner autogiro från konto 8327-9 ****2345", markdown=True)
    name, body = sim[0].requests[-1]
    assert name == "sign" and body["userVisibleDataFormat"] == "simpleMarkdownV1"
    assert base64.b64decode(body["userVisibleData"]).decode() == "Jag godkänner autogiro från konto 8327-9 ****2345"
    assert kvitt_client.collect(order.order_ref).hint_code == "outstandingTransaction"
    clock.now += 3
    done = kvitt_client.collect(order.order_ref)
    assert done.status == "complete" and done.completion_data is not None
    assert done.completion_data["user"]["personalNumber"] == DEFAULT_USER[0]


def test_kvitt_client_raises_bankid_error_codes(
    sim: tuple[BankIDSimulator, RunningServer], kvitt_client: BankIDClient
) -> None:
    with pytest.raises(BankIDError) as bad_ip:
        kvitt_client.sign("999.1.1.1", "x")
    assert bad_ip.value.error_code == "invalidParameters" and bad_ip.value.status == 400
    order = kvitt_client.sign("192.0.2.9", "x")
    kvitt_client.cancel(order.order_ref)
    with pytest.raises(BankIDError) as gone:
        kvitt_client.cancel(order.order_ref)
    assert gone.value.error_code == "invalidParameters"
    sim[0].unavailable_times = 1
    with pytest.raises(BankIDError) as maintenance:
        kvitt_client.sign("192.0.2.9", "x")
    assert maintenance.value.error_code == "maintenance" and maintenance.value.status == 503


def test_queued_outcome_chooses_the_next_signer_and_result(
    sim: tuple[BankIDSimulator, RunningServer], certs: CertFiles, kvitt_client: BankIDClient, clock: Clock
) -> None:
    context = tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    queued = httpx.post(
        f"{sim[1].url}/sim/next", json={"personalNumber": "200001012384", "name": "Ada Berg"}, verify=context
    )
    assert queued.status_code == 200
    order = kvitt_client.sign("192.0.2.9", "x")
    clock.now += 3
    user = kvitt_client.collect(order.order_ref).completion_data["user"]  # type: ignore[index]
    assert (user["personalNumber"], user["name"], user["surname"]) == ("200001012384", "Ada Berg", "Berg")


def test_wrong_content_type_unknown_path_and_method(
    sim: tuple[BankIDSimulator, RunningServer], certs: CertFiles
) -> None:
    context = tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    with httpx.Client(verify=context) as http:
        form = http.post(f"{sim[1].url}/rp/v6.0/sign", content=b"a=b", headers={"Content-Type": "text/plain"})
        assert form.status_code == 415 and form.json()["errorCode"] == "unsupportedMediaType"
        assert http.post(f"{sim[1].url}/rp/v6.0/nothing", json={}).json()["errorCode"] == "notFound"
        assert http.get(f"{sim[1].url}/rp/v6.0/collect").json()["errorCode"] == "methodNotAllowed"


def test_a_client_without_a_certificate_or_from_another_ca_is_refused(
    sim: tuple[BankIDSimulator, RunningServer], certs: CertFiles, tmp_path: Path
) -> None:
    no_cert = ssl.create_default_context(cafile=str(certs.ca))
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{sim[1].url}/rp/v6.0/sign", json={}, verify=no_cert)
    stranger = trustme.CA().issue_cert("stranger.test")
    stranger.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "stranger.pem"))
    with pytest.raises(BankIDError) as refused:
        BankIDClient(f"{sim[1].url}/rp/v6.0", tls_context(str(certs.ca), str(tmp_path / "stranger.pem"), None)).sign(
            "192.0.2.9", "x"
        )
    assert refused.value.error_code == "unreachable"
    assert sim[0].orders == {}


def test_an_order_completes_by_itself_on_the_real_clock(certs: CertFiles) -> None:
    simulator = BankIDSimulator(complete_after=0.3)
    with serve_in_thread(simulator.app(), **tls_options(certs)) as server:
        settings = settings_for(server.url, certs)
        context = tls_context(settings["KVITT_BANKID_CA"], settings["KVITT_BANKID_CERT"], settings["KVITT_BANKID_KEY"])
        with BankIDClient(settings["KVITT_BANKID_URL"], context) as client:
            order = client.sign("192.0.2.9", "x")
            statuses = []
            for _ in range(100):
                statuses.append(client.collect(order.order_ref).status)
                if statuses[-1] != "pending":
                    break
                time.sleep(0.05)
    assert statuses[0] == "pending" and statuses[-1] == "complete"


def test_valid_personal_numbers() -> None:
    assert valid_personal_number("199001012393") and valid_personal_number("198506159907")
    assert not valid_personal_number("199001012394")  # check digit
    assert not valid_personal_number("199013012393")  # month 13
    assert not valid_personal_number("9001012393")  # 10 digits


def test_kvitt_simulate_bankid_prints_its_settings_and_serves_them(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "kvitt.cli", "simulate", "bankid", "--port", str(port)]
    command += ["--certs", str(tmp_path / "certs"), "--complete-after", "0.2"]
    env = {**os.environ, "KVITT_DATABASE_URL": f"sqlite:///{tmp_path}/k.db"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(4)]
        settings = dict(line.split("=", 1) for line in lines)
        assert settings["KVITT_BANKID_URL"] == f"https://127.0.0.1:{port}/rp/v6.0"
        context = tls_context(settings["KVITT_BANKID_CA"], settings["KVITT_BANKID_CERT"], settings["KVITT_BANKID_KEY"])
        with BankIDClient(settings["KVITT_BANKID_URL"], context) as client:
            for _ in range(200):  # until it listens
                try:
                    order = client.sign("192.0.2.9", "x")
                    break
                except BankIDError:
                    time.sleep(0.05)
            for _ in range(100):
                collected = client.collect(order.order_ref)
                if collected.status != "pending":
                    break
                time.sleep(0.05)
        assert collected.status == "complete"
    finally:
        process.terminate()
        process.wait(timeout=10)
