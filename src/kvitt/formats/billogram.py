"""Billogram v2 shapes Kvitt answers in, as pure functions (no imports from kvitt): exact JSON
(numbers read as ``Decimal``, ``Decimal`` written as a number, never through ``float``), the
state and event names, and the callback body signed as Billogram signs it:
``signature = md5(callback_id + sign_key)`` (hex)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

STATES = {
    "draft": "Unattested",
    "unpaid": "Unpaid",
    "partly_paid": "Partly paid",
    "overdue": "Overdue",
    "in_collection": "Collection",
    "paid": "Paid",
    "credited": "Credited",
    "written_off": "Ended",
}
# Kvitt's event names (the invoice timeline's and the webhook catalogue's, without "invoice.")
EVENT_TYPES = {
    "created": "Created",
    "updated": "Updated",
    "issued": "Sent",
    "sent": "Dispatched",
    "delivered": "Delivered",
    "opened": "Opened",
    "payment": "Payment",
    "paid": "Paid",
    "credited": "Credit",
    "written_off": "WriteOff",
    "overdue": "Overdue",
    "reminder_sent": "Reminder",
    "in_collection": "Collection",
    "collection_ended": "CollectionEnded",
    "delivery_failed": "DeliveryFailed",
    "overpayment": "Overpayment",
    "message_sent": "Message",
    "message_received": "CustomerMessage",
}
MONEY_KEYS = frozenset({"amount", "total", "remaining", "fee", "interest"})


class NotJson(ValueError):
    """A body that is not JSON."""


def event_type(kvitt_type: str) -> str:
    name = kvitt_type.removeprefix("invoice.")
    return EVENT_TYPES.get(name) or "".join(part.capitalize() for part in name.split("_"))


def kronor(ore: int) -> Decimal:
    return (Decimal(ore) / 100).quantize(Decimal("0.01"))


def event_data(data: dict[str, Any]) -> dict[str, Any]:
    """An event's data with its amounts (öre) in kronor."""
    return {key: _value(key, value) for key, value in data.items()}


def _value(key: str, value: Any) -> Any:
    if key in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return kronor(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def signature(callback_id: str, sign_key: str) -> str:
    return hashlib.md5((callback_id + sign_key).encode()).hexdigest()  # noqa: S324  # Billogram's scheme


def callback(event: dict[str, Any], sign_key: str, custom: str = "") -> dict[str, Any]:
    """The callback of a Kvitt webhook event (``{"id", "type", "created", "data": {"object",
    "details"}}`` with the invoice object in öre) as Billogram sends one."""
    invoice = (event.get("data") or {}).get("object") or {}
    callback_id = str(event.get("id", ""))
    kind = invoice.get("kind")
    name = event_type(str(event.get("type", "")))
    if kind == "credit_note":
        billogram: dict[str, Any] = {"id": str(invoice.get("credited_invoice") or "")}
        name = "CreditInvoice" + name
    else:
        billogram = {
            "id": str(invoice.get("id", "")),
            "invoice_no": invoice.get("number"),
            "ocr_number": invoice.get("ocr") or "",
            "state": STATES.get(str(invoice.get("state")), invoice.get("state")),
            "currency": invoice.get("currency", "SEK"),
            "total_sum": kronor(int(invoice.get("total") or 0)),
            "remaining_sum": kronor(int(invoice.get("remaining") or 0)),
            "url": invoice.get("url") or "",
        }
    created = datetime.fromtimestamp(int(event.get("created", 0)), tz=UTC)
    return {
        "callback_id": callback_id,
        "event": {
            "type": name,
            "created_at": created.isoformat(),
            "data": event_data((event.get("data") or {}).get("details") or {}),
        },
        "billogram": billogram,
        "custom": custom,
        "signature": signature(callback_id, sign_key),
    }


def loads(raw: bytes) -> Any:
    """JSON with every number that has a fraction or an exponent as a Decimal."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotJson(f"the request body is not valid JSON: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"{name} is not a number")


def dumps(value: Any) -> bytes:
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode()


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append("," if index else "")
            out.append(json.dumps(str(key), ensure_ascii=False) + ":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            out.append("," if index else "")
            _write(item, out)
        out.append("]")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        raise TypeError("a float in a Billogram answer (money must be Decimal)")
    elif isinstance(value, datetime | date):
        out.append(json.dumps(value.isoformat()))
    else:
        out.append(json.dumps(value, ensure_ascii=False))
