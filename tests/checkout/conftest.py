"""The Swish simulator over real mutual TLS on loopback, and Kvitt pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kvitt.checkout.swish import SwishClient, tls_context
from kvitt.simulators import RunningServer
from kvitt.simulators.swish import Certificates, SwishSimulator, make_certificates, serve_tls


@dataclass
class SwishRig:
    simulator: SwishSimulator
    server: RunningServer
    certs: Certificates

    def client(self) -> SwishClient:
        context = tls_context(str(self.certs.client_cert), str(self.certs.client_key), str(self.certs.ca))
        return SwishClient(self.server.url, context)


@pytest.fixture(scope="session")
def swish_certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(Path(tmp_path_factory.mktemp("swish-certs")))


@pytest.fixture
def swish(swish_certs: Certificates) -> Iterator[SwishRig]:
    simulator = SwishSimulator(pay_after=0.2)
    with serve_tls(simulator.app(), swish_certs) as server:
        yield SwishRig(simulator, server, swish_certs)


def wait_for(condition: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.05)
