"""A local simulator of 46elks' SMS API (https://46elks.com/docs/send-sms), as an ASGI app.

What it implements, as 46elks documents it:

- ``POST /a1/sms``, HTTP basic auth (API username / password), form-encoded ``from`` (3-11
  letters and digits starting with a letter, or an E.164 number), ``to`` (E.164), ``message``
  (not empty), optional ``whendelivered`` (URL) and ``dryrun``. Answers ``200`` JSON
  ``{"id", "status": "created", "direction": "outgoing", "from", "to", "message", "created",
  "parts", "cost"}``; ``401`` without valid credentials; ``400`` with a plain-text reason for
  a bad parameter (as 46elks does, e.g. ``Invalid to number``).
- The delivery report: a form-encoded ``POST`` to ``whendelivered`` with ``id``, ``status``
  (``delivered`` or ``failed``) and ``delivered`` (timestamp), after ``report_delay`` seconds.
- ``GET /a1/sms`` lists the messages sent (newest first, ``{"data": [...]}``) and
  ``GET /a1/sms/{id}`` one of them, as 46elks' history API does.

Simulation knobs (constructor arguments): which numbers fail (``failing_numbers``, reported
``failed``), which answer HTTP 500 ``unavailable_times`` times first (to exercise retries).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ALPHANUMERIC = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")
MAX_MESSAGE = 1530  # 10 concatenated parts of 153 characters


@dataclass
class Elks46Simulator:
    users: dict[str, str] = field(default_factory=lambda: {"sim-user": "sim-password"})
    failing_numbers: set[str] = field(default_factory=set)
    unavailable_times: int = 0
    report_delay: float = 0.0
    sent: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/a1/sms", self.send_sms, methods=["POST"]),
                Route("/a1/sms", self.list_sms, methods=["GET"]),
                Route("/a1/sms/{sms_id}", self.get_sms, methods=["GET"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        expected = self.users.get(user)
        return expected is not None and secrets.compare_digest(expected, password)

    async def send_sms(self, request: Request) -> Response:
        if not self._authorised(request):
            return PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Basic"})
        with self._lock:
            if self.unavailable_times > 0:
                self.unavailable_times -= 1
                return PlainTextResponse("Service temporarily unavailable", status_code=500)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        problem = _invalid(form)
        if problem:
            return PlainTextResponse(problem, status_code=400)
        message = form["message"]
        sms = {
            "id": "s" + secrets.token_hex(16),
            "status": "created",
            "direction": "outgoing",
            "from": form["from"],
            "to": form["to"],
            "message": message,
            "created": datetime.now(UTC).isoformat(),
            "parts": 1 if len(message) <= 160 else -(-len(message) // 153),
            "cost": 3500,
        }
        if form.get("dryrun") == "yes":
            return JSONResponse({**sms, "status": "dryrun"})
        with self._lock:
            self.sent.append({**sms, "whendelivered": form.get("whendelivered")})
        task = None
        if form.get("whendelivered"):
            status = "failed" if form["to"] in self.failing_numbers else "delivered"
            task = BackgroundTask(self._report, form["whendelivered"], sms["id"], status)
        return JSONResponse(sms, background=task)

    async def _report(self, url: str, sms_id: str, status: str) -> None:
        await asyncio.sleep(self.report_delay)
        body = {"id": sms_id, "status": status, "delivered": datetime.now(UTC).isoformat()}
        outcome: dict[str, Any] = {"url": url, **body}
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(url, data=body)
            outcome["http_status"] = response.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = str(exc)
        with self._lock:
            self.reports.append(outcome)
        for sms in self.sent:
            if sms["id"] == sms_id:
                sms["status"] = status

    async def list_sms(self, request: Request) -> Response:
        if not self._authorised(request):
            return PlainTextResponse("Unauthorized", status_code=401)
        return JSONResponse({"data": [_public(s) for s in reversed(self.sent)]})

    async def get_sms(self, request: Request) -> Response:
        if not self._authorised(request):
            return PlainTextResponse("Unauthorized", status_code=401)
        for sms in self.sent:
            if sms["id"] == request.path_params["sms_id"]:
                return JSONResponse(_public(sms))
        return PlainTextResponse("SMS not found", status_code=404)


def _public(sms: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sms.items() if k != "whendelivered"}


def _invalid(form: dict[str, str]) -> str | None:
    for name in ("from", "to", "message"):
        if not form.get(name):
            return f"Missing key {name}"
    if not (ALPHANUMERIC.match(form["from"]) or E164.match(form["from"])):
        return "Invalid from"
    if not E164.match(form["to"]):
        return "Invalid to number"
    if len(form["message"]) > MAX_MESSAGE:
        return "Message too long"
    url = form.get("whendelivered")
    if url and not url.startswith(("http://", "https://")):
        return "Invalid whendelivered"
    return None


def create_app(**options: Any) -> Starlette:
    """The simulator as an ASGI app (``uvicorn kvitt.simulators.sms_46elks:app``)."""
    return Elks46Simulator(**options).app()


app = create_app()
