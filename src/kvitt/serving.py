"""Several API processes on one port (``kvitt serve --workers N``) with Nagle's algorithm off.

uvicorn binds the shared socket itself for ``workers > 1`` with ``socket.socket(family)``, whose
protocol number is 0; asyncio only sets ``TCP_NODELAY`` on accepted sockets whose protocol is
``IPPROTO_TCP``, so every response of a multi-process server waited for the client's delayed
ACK: 44 ms per request on one keep-alive connection (bench/api_load.py, 2026-12-06: 22 req/s on
one connection against 513 for one process). On Linux an accepted socket inherits
``TCP_NODELAY`` from the listening socket, so setting it there fixes every connection.
"""

from __future__ import annotations

import gc
import socket
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

if TYPE_CHECKING:
    from fastapi import FastAPI


class NoDelayConfig(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def run_processes(app: str, workers: int, **options: Any) -> None:
    """uvicorn.run(app, factory=True, workers=N) with the listening socket's TCP_NODELAY set;
    ``app`` names the factory each process calls."""
    config = NoDelayConfig(app, factory=True, workers=workers, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def settle() -> None:
    """Move everything the start-up made (modules, the app, its routes, the mappings: hundreds
    of thousands of objects) out of the garbage collector's sight before serving.

    A full collection walks every tracked object: under load one took 130-370 ms in a GET
    benchmark, and every request in flight waited for it (the p99). Frozen objects are never
    walked; they live as long as the process anyway. Only for a serving process: tests build
    and drop many apps, whose frozen garbage would never be freed."""
    gc.collect()
    gc.freeze()


def settled_app() -> FastAPI:
    """``kvitt serve --workers N``'s factory: each process's app, settled."""
    from kvitt.app import create_app

    app = create_app()
    settle()
    return app
