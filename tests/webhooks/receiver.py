"""A real HTTP server on loopback that records what it receives and answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # (number of the request, starting at 1) -> (status, body, seconds to wait before answering)
    answer: Callable[[int], tuple[int, bytes, float]] = lambda n: (200, b'{"ok":true}', 0.0)


@contextmanager
def running(answer: Callable[[int], tuple[int, bytes, float]] | None = None) -> Iterator[Receiver]:
    lock = threading.Lock()
    receiver = Receiver(url="")
    if answer is not None:
        receiver.answer = answer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the sender died mid-request (the kill -9 test): nothing was received
            with lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                number = len(receiver.requests)
            status, reply, delay = receiver.answer(number)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:
                pass  # the client gave up waiting (the timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/kvitt"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
