"""Billogram's error answers: ``{"status": <STATUS>, "data": {"message", "field", "field_path"}}``.

The client (``billogram_api``) turns the status into its exception classes: 403 with
``INVALID_AUTH``/``MISSING_AUTH``, 404 for a missing object, 405, and for 400 the statuses below.
Errors of Kvitt's own services (``{"error": {...}}``) are translated here, so that a rule keeps
one home: the service that enforces it."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse, Response

from kvitt.core.errors import KvittError

INVALID_PARAMETER = "INVALID_PARAMETER"
UNKNOWN_PARAMETER = "UNKNOWN_PARAMETER"
READ_ONLY_PARAMETER = "READ_ONLY_PARAMETER"
MISSING_QUERY_PARAMETER = "MISSING_QUERY_PARAMETER"
INVALID_QUERY_PARAMETER = "INVALID_QUERY_PARAMETER"
INVALID_OBJECT_STATE = "INVALID_OBJECT_STATE"
NOT_FOUND = "NOT_FOUND"
NOT_AVAILABLE_YET = "NOT_AVAILABLE_YET"
INVALID_AUTH = "INVALID_AUTH"
MISSING_AUTH = "MISSING_AUTH"
NOT_SUPPORTED = "NOT_SUPPORTED"
INTERNAL_ERROR = "INTERNAL_ERROR"

# Kvitt's names of fields (v1) where the Billogram name differs: (field, field_path).
KVITT_FIELDS: dict[str, tuple[str, list[Any] | None]] = {
    "unit_price": ("price", None),
    "vat_rate": ("vat", None),
    "article_no": ("item_no", None),
    "quantity": ("count", None),
    "id_number": ("org_no", None),
    "address_line1": ("street_address", ["address"]),
    "address_line2": ("careof", ["address"]),
    "postal_code": ("zipcode", ["address"]),
    "email": ("email", ["contact"]),
    "phone": ("phone", ["contact"]),
    "payment_terms_days": ("due_days", None),
    "invoice": ("id", None),
    "customer": ("customer_no", ["customer"]),
}


class BillogramError(KvittError):
    """An error in Billogram's shape (``error_response`` renders ``to_dict``)."""

    def __init__(
        self,
        status: str,
        message: str,
        *,
        http_status: int = 400,
        field: str | None = None,
        field_path: list[Any] | None = None,
    ) -> None:
        super().__init__(message, param=field)
        self.status = status
        self.status_code = http_status
        self.field = field
        self.field_path = field_path

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message}
        if self.field is not None:
            data["field"] = self.field
        if self.field_path:
            data["field_path"] = self.field_path
        return {"status": self.status, "data": data}


def invalid(message: str, field: str | None = None, path: list[Any] | None = None) -> BillogramError:
    return BillogramError(INVALID_PARAMETER, message, field=field, field_path=path)


def not_found(message: str) -> BillogramError:
    return BillogramError(NOT_FOUND, message, http_status=404)


def response(status: str, message: str, http_status: int) -> JSONResponse:
    return JSONResponse({"status": status, "data": {"message": message}}, status_code=http_status)


def translate(answer: Response) -> Response:
    """An error answer of Kvitt's shape in Billogram's; every other answer as it is."""
    if answer.status_code < 400 or not isinstance(answer, JSONResponse):
        return answer
    try:
        body = json.loads(bytes(answer.body))
    except ValueError:
        return answer
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return answer
    return from_kvitt(answer.status_code, error)


def from_kvitt(http_status: int, error: dict[str, Any]) -> JSONResponse:
    message = str(error.get("message") or "the request was refused")
    field, path = _field(error.get("param"))
    if http_status == 401:
        status, http_status = INVALID_AUTH, 403
    elif http_status == 404:
        status = NOT_FOUND
    elif http_status >= 500:
        status = INTERNAL_ERROR
    elif error.get("code") in ("invalid_state", "invoice_not_issued", "item_in_use", "customer_has_invoices"):
        status, http_status = INVALID_OBJECT_STATE, 400
    elif http_status in (409, 422, 400):
        status, http_status = INVALID_PARAMETER, 400
    else:
        status = str(error.get("code") or "ERROR").upper()
    return JSONResponse(
        BillogramError(status, message, field=field, field_path=path).to_dict(), status_code=http_status
    )


def _field(param: Any) -> tuple[str | None, list[Any] | None]:
    if not isinstance(param, str) or not param:
        return None, None
    last = param.rsplit(".", 1)[-1]
    if "[" in last:
        last = last.split("[", 1)[0]
    name, path = KVITT_FIELDS.get(last, (last, None))
    return name, path
