"""Local simulators of providers Kvitt cannot reach in tests and demos, as ASGI apps.

- ``sms_46elks``: 46elks' SMS API (``POST /a1/sms``, delivery reports to ``whendelivered``).
- ``peppol_ap``: a Peppol access point with the HTTP API documented in docs/delivery.md.

``serve_in_thread`` runs any ASGI app with uvicorn on a loopback port, so that clients talk
real HTTP to it (tests, the demo).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any) -> RunningServer:
    """Start ``app`` on ``host:port`` (0: a free port) in a daemon thread; returns once it listens.

    ``uvicorn_options`` go to ``uvicorn.Config`` (``ssl_certfile`` etc.: then the URL is https)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **uvicorn_options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the server on {host}:{bound_port} did not start")
        time.sleep(0.01)
    scheme = "https" if uvicorn_options.get("ssl_certfile") else "http"
    return RunningServer(f"{scheme}://{host}:{bound_port}", server, thread)


def start_demo_providers() -> tuple[dict[str, str], list[RunningServer]]:
    """Start the 46elks and access point simulators on loopback for a demo.

    Returns the ``KVITT_*`` settings that point delivery at them (set them in the environment
    and clear ``get_settings``' cache before the worker runs) and the servers (``stop()`` them).
    """
    from kvitt.simulators.peppol_ap import AccessPointSimulator
    from kvitt.simulators.sms_46elks import Elks46Simulator

    sms = serve_in_thread(Elks46Simulator(users={"demo": "demo"}).app())
    access_point = serve_in_thread(AccessPointSimulator(keys={"demo"}).app())
    settings = {
        "KVITT_SMS_URL": sms.url,
        "KVITT_SMS_USER": "demo",
        "KVITT_SMS_PASSWORD": "demo",
        "KVITT_PEPPOL_AP_URL": access_point.url,
        "KVITT_PEPPOL_AP_KEY": "demo",
    }
    return settings, [sms, access_point]
