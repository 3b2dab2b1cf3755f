"""A local collection agency (inkassobolag): the HTTP API Kvitt's collection adapter speaks.

Real agencies each have their own API; Kvitt's adapter (``kvitt.dunning.agency.HttpAgency``)
speaks this small one, documented here, and a tenant points it at a real agency's compatible
endpoint or at this simulator (tests, the demo). State is kept in memory.

Authentication: ``Authorization: Bearer <api key>`` on every request (401 otherwise).
Amounts are integers of öre; dates ISO 8601.

``POST /v1/cases``
    Create a case. Body: ``creditor_reference`` (the creditor's own id for the case, unique
    per creditor: sending the same one again answers 200 with the existing case instead of 201),
    ``debtor`` (``name``, ``type`` individual|company, ``id_number``, ``address_line1``,
    ``postal_code``, ``city``, ``email``, ``phone``), ``invoice`` (``number``, ``ocr``,
    ``invoice_date``, ``due_date``), ``principal``, ``charges`` (the fees and interest claimed
    besides, the collection fee included), ``fee`` and ``fee_kind`` (the part of ``charges``
    that is the collection fee: ``inkassokrav`` or ``forseningsersattning``). Answers the case:
    ``id``, ``status`` (``open``, ``closed``), ``outstanding``, ``collected``.
``GET /v1/cases/{id}``
    The case.
``POST /v1/cases/{id}/payments``
    Report a payment on the case: ``amount``, ``date``, ``paid_to`` (``agency``: the debtor
    paid the agency, which passes it on to the creditor — this makes a ``payment`` event;
    ``creditor``: the creditor tells the agency it was paid directly — no event). A payment
    that covers what is outstanding closes the case with reason ``paid``. An amount above what
    is outstanding is refused with 422.
``POST /v1/cases/{id}/close``
    Close the case: ``reason`` (``withdrawn`` by the creditor, ``uncollectable``, ``paid``).
    A ``closed`` event follows. Closing a closed case answers 409.
``GET /v1/events?after=<seq>&limit=<n>``
    What happened since event ``after``, oldest first: ``{"data": [{"id", "seq", "type"
    (payment|closed), "case", "creditor_reference", "amount", "date", "reason"}],
    "has_more"}``. The creditor polls this and remembers the last ``seq`` it applied.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class Debtor(BaseModel):
    name: str
    type: Literal["individual", "company"] = "individual"
    id_number: str | None = None
    address_line1: str | None = None
    postal_code: str | None = None
    city: str | None = None
    email: str | None = None
    phone: str | None = None


class InvoiceRef(BaseModel):
    number: str
    ocr: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None


class CaseIn(BaseModel):
    creditor_reference: str = Field(min_length=1, max_length=100)
    debtor: Debtor
    invoice: InvoiceRef
    principal: int = Field(ge=1)
    charges: int = Field(default=0, ge=0)
    fee: int = Field(default=0, ge=0)
    fee_kind: str | None = None


class PaymentIn(BaseModel):
    amount: int = Field(ge=1)
    date: date
    paid_to: Literal["agency", "creditor"] = "agency"


class CloseIn(BaseModel):
    reason: Literal["withdrawn", "uncollectable", "paid"]


@dataclass
class Case:
    id: str
    creditor: str
    data: CaseIn
    status: str = "open"
    collected: int = 0
    paid_directly: int = 0
    payments: list[dict[str, Any]] = field(default_factory=list)
    closed_reason: str | None = None

    @property
    def outstanding(self) -> int:
        return self.data.principal + self.data.charges - self.collected - self.paid_directly

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "creditor_reference": self.data.creditor_reference,
            "status": self.status,
            "principal": self.data.principal,
            "charges": self.data.charges,
            "fee": self.data.fee,
            "fee_kind": self.data.fee_kind,
            "outstanding": self.outstanding,
            "collected": self.collected,
            "paid_directly": self.paid_directly,
            "payments": self.payments,
            "closed_reason": self.closed_reason,
            "debtor": self.data.debtor.model_dump(),
            "invoice": self.data.invoice.model_dump(mode="json"),
        }


@dataclass
class AgencyState:
    api_keys: dict[str, str]  # key → creditor name
    cases: dict[str, Case] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))


def create_app(api_keys: dict[str, str] | None = None) -> FastAPI:
    """The simulator; ``api_keys`` maps each accepted key to a creditor (default ``sim-key``)."""
    state = AgencyState(api_keys or {"sim-key": "creditor"})
    app = FastAPI(title="Collection agency simulator", version="1")
    app.state.agency = state

    def creditor_of(authorization: str | None) -> str:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or key not in state.api_keys:
            raise HTTPException(401, "unknown API key")
        return state.api_keys[key]

    def case_of(creditor: str, case_id: str) -> Case:
        case = state.cases.get(case_id)
        if case is None or case.creditor != creditor:
            raise HTTPException(404, "no such case")
        return case

    def emit(creditor: str, case: Case, kind: str, **data: Any) -> None:
        seq = len(state.events) + 1
        event = {"id": f"evt_{seq}", "seq": seq, "type": kind, "case": case.id, "creditor": creditor}
        event.update({"creditor_reference": case.data.creditor_reference, **data})
        state.events.append(event)

    @app.post("/v1/cases", status_code=201)
    def create_case(body: CaseIn, authorization: str | None = Header(None)) -> Any:
        creditor = creditor_of(authorization)
        for case in state.cases.values():
            if case.creditor == creditor and case.data.creditor_reference == body.creditor_reference:
                return JSONResponse(case.view(), status_code=200)
        case = Case(id=f"case_{next(state.numbers)}", creditor=creditor, data=body)
        state.cases[case.id] = case
        return case.view()

    @app.get("/v1/cases/{case_id}")
    def get_case(case_id: str, authorization: str | None = Header(None)) -> dict[str, Any]:
        return case_of(creditor_of(authorization), case_id).view()

    @app.post("/v1/cases/{case_id}/payments")
    def report_payment(case_id: str, body: PaymentIn, authorization: str | None = Header(None)) -> dict[str, Any]:
        creditor = creditor_of(authorization)
        case = case_of(creditor, case_id)
        if case.status != "open":
            raise HTTPException(409, "the case is closed")
        if body.amount > case.outstanding:
            raise HTTPException(422, f"{body.amount} is more than the {case.outstanding} outstanding")
        payment = {"amount": body.amount, "date": body.date.isoformat(), "paid_to": body.paid_to}
        case.payments.append(payment)
        if body.paid_to == "agency":
            case.collected += body.amount
            emit(creditor, case, "payment", amount=body.amount, date=body.date.isoformat())
        else:
            case.paid_directly += body.amount
        if case.outstanding == 0:
            case.status, case.closed_reason = "closed", "paid"
            emit(creditor, case, "closed", reason="paid", date=body.date.isoformat())
        return case.view()

    @app.post("/v1/cases/{case_id}/close")
    def close_case(case_id: str, body: CloseIn, authorization: str | None = Header(None)) -> dict[str, Any]:
        creditor = creditor_of(authorization)
        case = case_of(creditor, case_id)
        if case.status != "open":
            raise HTTPException(409, "the case is closed already")
        case.status, case.closed_reason = "closed", body.reason
        emit(creditor, case, "closed", reason=body.reason, date=None)
        return case.view()

    @app.get("/v1/events")
    def events(
        after: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000), authorization: str | None = Header(None)
    ) -> dict[str, Any]:
        creditor = creditor_of(authorization)
        mine = [e for e in state.events if e["creditor"] == creditor and e["seq"] > after]
        return {"data": mine[:limit], "has_more": len(mine) > limit}

    return app
