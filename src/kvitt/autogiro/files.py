"""The files exchanged with Bankgirot: one file of orders out, any of Bankgirot's files in.

``export_orders`` writes every due mandate order (TK04 new, TK03 cancel, TK05 change of payer
number) and payment order (TK82 debit, TK32 credit) into one file and marks them sent, so a
second run the same day writes nothing twice. ``import_file`` reads any file from Bankgirot,
recognised by its opening record: mandate advice, payment specification (TK82 debits, TK32
credits, TK77 refunds), rejected payment orders (debits and credits), or results in BGMax
format. The whole file is read and checked (counts and sums of its closing records) before
anything is applied; a file read before (same bytes) changes nothing, and a result applied
before is skipped (the same result in another file).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kvitt.autogiro import credits as credit_service
from kvitt.autogiro import debits as debit_service
from kvitt.autogiro import service
from kvitt.autogiro.models import AutogiroFile, Mandate
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import ValidationFailed
from kvitt.formats import autogiro as codec
from kvitt.formats import bgmax
from kvitt.tenants.models import Tenant

AUTOGIRO_CHANNEL = 4  # BGMax TK20 position 57: the payment came by autogiro


@dataclass
class Exported:
    data: bytes | None  # None: nothing was due, nothing written
    new_mandates: int = 0
    cancellations: int = 0
    changes: int = 0
    debits: int = 0
    amount: int = 0
    credits: int = 0
    credit_amount: int = 0
    file_id: int | None = None


@dataclass
class Imported:
    kind: str
    file_id: int
    already_imported: bool = False
    summary: dict[str, Any] = field(default_factory=dict)


def _bankgiro_digits(tenant: Tenant) -> str:
    digits = (tenant.bankgiro or "").replace("-", "")
    if not digits:
        raise ValidationFailed("the tenant has no bankgiro number: autogiro needs one", param="bankgiro")
    return digits


# --- out -------------------------------------------------------------------------------------------


def export_orders(session: Session, tenant: Tenant, *, day: date, name: str) -> Exported:
    settings = service.settings_of(session, tenant)
    if not settings.bgc_customer_number:
        raise ValidationFailed(
            "set the BGC customer number first (PATCH /api/v1/autogiro/settings)", param="bgc_customer_number"
        )
    opening = codec.Opening(day, str(int(settings.bgc_customer_number)), str(int(_bankgiro_digits(tenant))))
    debit_service.plan(session, tenant, today=day)
    mandate_orders, mandates = _mandate_orders(session, tenant)
    due = debit_service.due_orders(session, tenant, day=day)
    credits_due = credit_service.due(session, tenant, day=day)
    payment_orders: list[codec.Order] = [
        codec.PaymentOrder("debit", d.debit_on, d.payer_number, d.amount, reference=d.reference) for d in due
    ]
    payment_orders += [
        codec.PaymentOrder("credit", c.pay_on, c.payer_number, c.amount, reference=c.reference) for c in credits_due
    ]
    if not mandate_orders and not payment_orders:
        return Exported(None)
    data = codec.write_orders([codec.OrderSection(opening, tuple(mandate_orders + payment_orders))])
    _mark_mandates_sent(session, mandates)
    debit_service.mark_sent(due)
    credit_service.mark_sent(credits_due)
    exported = Exported(
        data,
        new_mandates=sum(1 for o in mandate_orders if isinstance(o, codec.NewMandate)),
        cancellations=sum(1 for o in mandate_orders if isinstance(o, codec.CancelMandate)),
        changes=sum(1 for o in mandate_orders if isinstance(o, codec.ChangePayerNumber)),
        debits=len(due),
        amount=sum(d.amount for d in due),
        credits=len(credits_due),
        credit_amount=sum(c.amount for c in credits_due),
    )
    summary = {k: v for k, v in vars(exported).items() if k not in ("data", "file_id")}
    records = len(mandate_orders) + len(payment_orders)
    exported.file_id = _record_file(session, tenant, "to", "orders", name, data, records, summary)
    return exported


def _mandate_orders(session: Session, tenant: Tenant) -> tuple[list[codec.Order], list[Mandate]]:
    query = select(Mandate).where(Mandate.tenant_id == tenant.id, Mandate.outgoing.is_not(None)).order_by(Mandate.id)
    if is_postgresql(session):
        query = query.with_for_update(of=Mandate)
    mandates = list(session.scalars(query))
    orders: list[codec.Order] = []
    for m in mandates:
        if m.outgoing == "cancel":
            orders.append(codec.CancelMandate(m.payer_number))
        elif m.outgoing == "change":
            assert m.new_payer_number is not None
            orders.append(codec.ChangePayerNumber(m.payer_number, m.new_payer_number))
        else:
            account = codec.NewMandate.account_of(m.clearing, m.account)
            orders.append(codec.NewMandate(m.payer_number, account, m.personal_number))
    return orders, mandates


def _mark_mandates_sent(session: Session, mandates: list[Mandate]) -> None:
    now = utcnow()
    for m in mandates:
        order, m.outgoing = m.outgoing, None
        if order == "new":
            m.status, m.sent_at = "sent", now
        extra = {"new_payer_number": m.new_payer_number} if order == "change" else {}
        service.publish(session, m, "sent", order=order, **extra)


def _record_file(
    session: Session,
    tenant: Tenant,
    direction: str,
    kind: str,
    name: str,
    data: bytes,
    records: int,
    summary: dict[str, Any],
) -> int:
    row = AutogiroFile(
        tenant_id=tenant.id,
        direction=direction,
        kind=kind,
        name=name[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        records=records,
        summary=summary,
    )
    session.add(row)
    session.flush()
    return row.id


# --- in --------------------------------------------------------------------------------------------


def import_file(session: Session, tenant: Tenant, data: bytes, *, name: str, today: date, actor: str) -> Imported:
    """Read a file from Bankgirot and apply it, all or nothing (the caller's transaction)."""
    sha = hashlib.sha256(data).hexdigest()
    before = session.scalar(
        select(AutogiroFile).where(
            AutogiroFile.tenant_id == tenant.id, AutogiroFile.direction == "from", AutogiroFile.sha256 == sha
        )
    )
    if before is not None:
        return Imported(before.kind, before.id, already_imported=True, summary=dict(before.summary))
    kind, records, summary = _read(session, tenant, data, today=today, actor=actor)
    file_id = _record_file(session, tenant, "from", kind, name, data, records, summary)
    return Imported(kind, file_id, summary=summary)


def _read(session: Session, tenant: Tenant, data: bytes, *, today: date, actor: str) -> tuple[str, int, dict[str, Any]]:
    try:
        kind = codec.detect(data)
        if kind == "mandate_advice":
            advice = codec.parse_mandate_advice(data)
            _same_payee(tenant, advice.bankgiro)
            return kind, len(advice.records), _apply_advice(session, tenant, advice)
        if kind == "payment_spec":
            spec = codec.parse_payment_spec(data)
            _same_payee(tenant, spec.bankgiro)
            return kind, len(spec.records), _apply_spec(session, tenant, spec, today=today, actor=actor)
        if kind == "rejected":
            rejected = codec.parse_rejected(data)
            _same_payee(tenant, rejected.bankgiro)
            results = [_rejected_result(r) for r in rejected.records if r.kind == codec.DEBIT]
            counts = debit_service.apply(session, tenant, results, today=today, actor=actor)
            credit_results = [_rejected_credit(r) for r in rejected.records if r.kind == codec.CREDIT]
            credit_counts = credit_service.apply(session, tenant, credit_results, today=today, actor=actor)
            return kind, len(rejected.records), counts | {"credits": credit_counts}
        if kind == "bgmax":
            return _read_bgmax(session, tenant, data, today=today, actor=actor)
    except (codec.AutogiroError, bgmax.BgmaxError) as exc:
        raise ValidationFailed(f"the file is refused, nothing of it applied: {exc}", param="file") from exc
    raise ValidationFailed("this is a file to Bankgirot (orders), not one from Bankgirot", param="file")


def _same_payee(tenant: Tenant, bankgiro: str) -> None:
    if str(int(_bankgiro_digits(tenant))) != bankgiro:
        raise ValidationFailed(f"the file is for bankgiro {bankgiro}, not the tenant's {tenant.bankgiro}", param="file")


def _spec_result(r: codec.SpecRecord) -> debit_service.Result:
    status = r.status if r.status is not None else 0
    return debit_service.Result(
        r.payer_number, r.amount, r.date, ok=status == 0, code=str(status), text=r.status_text, renewed=status == 9
    )


def _rejected_result(r: codec.RejectedOrder) -> debit_service.Result:
    return debit_service.Result(r.payer_number, r.amount, r.date, ok=False, code=r.comment_code, text=r.comment_text)


def _rejected_credit(r: codec.RejectedOrder) -> credit_service.Result:
    return credit_service.Result(r.payer_number, r.amount, r.date, ok=False, code=r.comment_code, text=r.comment_text)


def _apply_spec(
    session: Session, tenant: Tenant, spec: codec.PaymentSpec, *, today: date, actor: str
) -> dict[str, Any]:
    """Debits (TK82) as before; credits (TK32): status 0 paid, any other failed; refunds (TK77)."""
    results = [_spec_result(r) for r in spec.records if r.kind == codec.DEBIT]
    counts: dict[str, Any] = debit_service.apply(session, tenant, results, today=today, actor=actor)
    credit_results = [
        credit_service.Result(
            r.payer_number, r.amount, r.date, ok=r.status == 0, code=str(r.status), text=r.status_text
        )
        for r in spec.records
        if r.kind == codec.CREDIT
    ]
    counts["credits"] = credit_service.apply(session, tenant, credit_results, today=today, actor=actor)
    refunds = [
        debit_service.Refund(
            r.payer_number,
            r.amount,
            r.date,
            r.refund_date,
            code=r.refund_code or "",
            text=f"Återbetald till betalaren (återbetalningskod {r.refund_code}).",
        )
        for r in spec.records
        if r.kind == codec.REFUND
    ]
    counts["refunds"] = debit_service.apply_refunds(session, tenant, refunds, today=today, actor=actor)
    return counts


def _read_bgmax(
    session: Session, tenant: Tenant, data: bytes, *, today: date, actor: str
) -> tuple[str, int, dict[str, Any]]:
    parsed = bgmax.parse(data)
    results = []
    others = 0
    for deposit in parsed.deposits:
        _same_payee(tenant, str(int(deposit.payee_bankgiro)))
        for p in deposit.payments:
            if p.channel != AUTOGIRO_CHANNEL or p.kind != bgmax.PAYMENT or not p.reference.isdigit():
                others += 1
                continue
            # Autogiro in BGMax: the reference is the payer number; the deposit day the debit's.
            payer = str(int(p.reference))
            results.append(
                debit_service.Result(payer, p.amount, deposit.date, ok=True, code="0", text="Godkänd (BGMax).")
            )
    counts = debit_service.apply(session, tenant, results, today=today, actor=actor)
    return "bgmax", parsed.payment_count, counts | {"not_autogiro": others}


# --- mandate advice ----------------------------------------------------------------------------------


def _apply_advice(session: Session, tenant: Tenant, advice: codec.MandateAdvice) -> dict[str, int]:
    counts = {"activated": 0, "rejected": 0, "cancelled": 0, "unchanged": 0, "unknown": 0}
    for record in advice.records:
        if record.information_code == "05":
            what = _apply_change(session, tenant, record)
            counts[what] = counts.get(what, 0) + 1
            continue
        mandate = _mandate_of(session, tenant, record.payer_number)
        if mandate is None:
            counts["unknown"] += 1
            continue
        counts[_apply_one(session, tenant, mandate, record)] += 1
    session.flush()
    return counts


def _mandate_of(session: Session, tenant: Tenant, payer_number: str) -> Mandate | None:
    """The live mandate of the payer number, else the latest one (a cancellation confirmed)."""
    rows = list(
        session.scalars(
            select(Mandate)
            .where(Mandate.tenant_id == tenant.id, Mandate.payer_number == payer_number)
            .order_by(Mandate.id.desc())
        )
    )
    live = [m for m in rows if m.status in service.LIVE]
    chosen = live or rows
    return chosen[0] if chosen else None


def _apply_one(session: Session, tenant: Tenant, mandate: Mandate, record: codec.MandateAdviceRecord) -> str:
    outcome = record.outcome
    code, text = record.comment_code, record.comment_text
    if outcome == "active" and mandate.status in ("pending", "sent"):
        mandate.status, mandate.activated_at = "active", utcnow()
        mandate.comment_code, mandate.comment_text = code, text
        service.publish(session, mandate, "activated", code=code, text=text)
        return "activated"
    if outcome == "rejected" and mandate.status in ("pending", "sent"):
        mandate.status, mandate.outgoing = "rejected", None
        mandate.comment_code, mandate.comment_text = code, text
        service.publish(session, mandate, "rejected", code=code, text=text)
        return "rejected"
    if outcome == "cancelled" and mandate.status in service.LIVE:
        mandate.status, mandate.outgoing, mandate.cancelled_at = "cancelled", None, utcnow()
        mandate.new_payer_number = None
        mandate.comment_code, mandate.comment_text = code, text
        service.cancel_pending_debits(session, tenant, mandate.id)
        by = "payee" if record.information_code == "03" else "payer_or_bank"
        service.publish(session, mandate, "cancelled", by=by, code=code, text=text)
        return "cancelled"
    if outcome == "cancelled" and mandate.status == "cancelled":
        mandate.comment_code, mandate.comment_text = code, text  # Bankgirot confirms our TK03
    return "unchanged"


# --- change of payer number (information code 05) -----------------------------------------------------


def _apply_change(session: Session, tenant: Tenant, record: codec.MandateAdviceRecord) -> str:
    """Bankgirot's answer to a TK05: comment 32 names the new payer number (the change is made:
    the mandate and its debits not yet ordered take the new number), comment 33 the old one (no
    mandate holds it any more: a confirmation, nothing to do), any other comment refuses the change
    (the old number stands). Applied once: a second reading finds nothing left to change."""
    live = session.scalars(
        select(Mandate)
        .where(
            Mandate.tenant_id == tenant.id,
            Mandate.status.in_(service.LIVE),
            or_(Mandate.payer_number == record.payer_number, Mandate.new_payer_number == record.payer_number),
        )
        .order_by(Mandate.id)
    ).all()
    changing = [m for m in live if m.new_payer_number is not None and m.outgoing is None]
    outcome = record.outcome
    code, text = record.comment_code, record.comment_text
    if outcome == "payer_number_changed":
        mandate = next((m for m in changing if m.new_payer_number == record.payer_number), None)
        if mandate is None:
            done = any(m.payer_number == record.payer_number for m in live)
            return "unchanged" if done else "unknown"
        old = mandate.payer_number
        assert mandate.new_payer_number is not None
        mandate.payer_number, mandate.new_payer_number = mandate.new_payer_number, None
        mandate.comment_code, mandate.comment_text = code, text
        debit_service.move_pending(session, tenant, mandate.id, mandate.payer_number)
        service.publish(session, mandate, "payer_number_changed", old_payer_number=old, code=code, text=text)
        return "changed"
    if outcome == "payer_number_replaced":
        return "unchanged"
    mandate = next((m for m in changing if record.payer_number in (m.payer_number, m.new_payer_number)), None)
    if mandate is None:
        return "unknown"
    refused = mandate.new_payer_number
    mandate.new_payer_number = None
    mandate.comment_code, mandate.comment_text = code, text
    service.publish(session, mandate, "payer_number_change_rejected", refused=refused, code=code, text=text)
    return "change_rejected"
