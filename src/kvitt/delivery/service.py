"""Delivery use cases, in the caller's transaction: what other features and the API call.

``request_delivery`` and ``notify_staff`` only write rows and enqueue outbox jobs; the jobs
(``kvitt.delivery.jobs``) talk to the providers. See docs/delivery.md.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, lazyload

from kvitt.core.config import get_settings
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.outbox import OutboxJob, enqueue, enqueue_rows
from kvitt.customers.models import Customer
from kvitt.delivery.channels import CHANNELS, EINVOICE, EMAIL, LETTER, SMS
from kvitt.delivery.models import DELIVERED, FAILED, PENDING, SENDING, SENT, Delivery, DeliverySettings
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, publish_events, record
from kvitt.tenants.models import Tenant

SEND_JOB = "delivery.send"
PRINT_BATCH_JOB = "delivery.print_batch"
EINVOICE_STATUS_JOB = "delivery.einvoice_status"
STAFF_EMAIL_JOB = "delivery.staff_email"
CUSTOMER_SMS_JOB = "delivery.customer_sms"  # a short note to the customer's phone on file

DEFAULT_FALLBACK: dict[str, list[str]] = {
    EMAIL: [LETTER],
    SMS: [EMAIL, LETTER],
    EINVOICE: [EMAIL, LETTER],
    LETTER: [],
}
AUTOMATIC = 0  # the chain of the automatic delivery of a document
RESEND = "resend"


@dataclass
class Preferences:
    fallback: dict[str, list[str]]
    attach_pdf: bool


# --- settings --------------------------------------------------------------------------------


def preferences(session: Session, tenant_id: int) -> Preferences:
    row = session.get(DeliverySettings, tenant_id)
    fallback = {channel: list(DEFAULT_FALLBACK[channel]) for channel in CHANNELS}
    if row is None:
        return Preferences(fallback, attach_pdf=False)
    fallback.update({k: list(v) for k, v in row.fallback.items() if k in CHANNELS})
    return Preferences(fallback, attach_pdf=row.attach_pdf)


def validate_fallback(fallback: dict[str, list[str]]) -> dict[str, list[str]]:
    for channel, chain in fallback.items():
        if channel not in CHANNELS:
            raise ValidationFailed(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}", param="fallback")
        for position, step in enumerate(chain):
            param = f"fallback.{channel}[{position}]"
            if step not in CHANNELS:
                raise ValidationFailed(f"unknown channel {step!r}; one of {', '.join(CHANNELS)}", param=param)
            if step == channel or step in chain[:position]:
                raise ValidationFailed(f"{step!r} appears twice in the chain of {channel!r}", param=param)
    return fallback


def update_preferences(
    session: Session, tenant: Tenant, *, fallback: dict[str, list[str]] | None, attach_pdf: bool | None
) -> Preferences:
    row = session.get(DeliverySettings, tenant.id)
    if row is None:
        row = DeliverySettings(tenant_id=tenant.id, fallback={}, attach_pdf=False)
        session.add(row)
    if fallback is not None:
        row.fallback = {**row.fallback, **validate_fallback(fallback)}
    if attach_pdf is not None:
        row.attach_pdf = attach_pdf
    session.flush()
    return preferences(session, tenant.id)


# --- who can be reached how ------------------------------------------------------------------


def peppol_id(customer: Customer) -> str | None:
    """The customer's Peppol participant id (``scheme:id``), if it can receive e-invoices.

    An explicit ``attributes.peppol_id`` wins; a company's organisation number is the Swedish
    scheme 0007. A private person has none.
    """
    explicit = (customer.attributes or {}).get("peppol_id")
    if explicit:
        return str(explicit)
    digits = "".join(ch for ch in customer.id_number or "" if ch.isdigit())
    if customer.type == "company" and digits:
        return "0007:" + digits[-10:]
    return None


def address_of(customer: Customer, channel: str) -> str | None:
    """Where ``channel`` reaches the customer, or None when it cannot."""
    if channel == EMAIL:
        return customer.email or None
    if channel == SMS:
        return customer.phone or None
    if channel == EINVOICE:
        return peppol_id(customer)
    if customer.address_line1 and customer.postal_code and customer.city:
        return f"{customer.address_line1}, {customer.postal_code} {customer.city}"
    return None


def _first_reachable(candidates: list[str], customer: Customer, used: set[str]) -> tuple[str, str] | None:
    for channel in candidates:
        address = address_of(customer, channel)
        if channel not in used and address is not None:
            return channel, address
    return None


# --- requesting a delivery -------------------------------------------------------------------


def request_delivery(
    session: Session,
    tenant_id: int,
    invoice_id: int,
    *,
    channel: str | None = None,
    reason: str = "issue",
    reminder_id: int | None = None,
    actor: str = "system",
) -> None:
    """Enqueue the delivery of an invoice (or of one of its reminders); see the module doc.

    ``channel=None``: the customer's preference, then the tenant's fallback chain for it.
    The automatic delivery of a document happens once, however often it is requested
    (repeated events, retried jobs); ``reason="resend"`` is an explicit new delivery.
    """
    start_delivery(
        session,
        tenant_id,
        invoice_id,
        channel=channel,
        reason=reason,
        reminder_id=reminder_id,
        actor=actor,
        fetch=False,
    )


def start_delivery(
    session: Session,
    tenant_id: int,
    invoice_id: int,
    *,
    channel: str | None,
    reason: str,
    reminder_id: int | None = None,
    actor: str = "system",
    fetch: bool = True,
) -> Delivery | None:
    """As ``request_delivery``; returns the new delivery (None when the automatic one exists,
    or when ``fetch`` is off: a billing run's million events need not read their rows back)."""
    if channel is not None and channel not in CHANNELS:
        raise ValidationFailed(f"unknown delivery method {channel!r}", param="method")
    state, customer = _invoice_and_customer(session, tenant_id, invoice_id)
    if state == "draft":
        raise Conflict(f"invoice {invoice_id} is a draft: issue it before sending it", code="invoice_not_issued")
    document = "invoice" if reminder_id is None else f"reminder:{reminder_id}"
    first = channel or customer.delivery_method or _tenant_default(session, tenant_id)
    if channel is not None and address_of(customer, channel) is None:
        raise ValidationFailed(f"customer {customer.id} has no {_what(channel)}", param="method")
    chain = _next_chain(session, tenant_id, invoice_id, document) if reason == RESEND else AUTOMATIC
    candidates = [first]
    if channel is None and address_of(customer, first) is None:
        candidates += preferences(session, tenant_id).fallback.get(first, [])
    found = _first_reachable(candidates, customer, set())
    row: dict[str, Any] = {
        "tenant_id": tenant_id,
        "invoice_id": invoice_id,
        "document": document,
        "reminder_id": reminder_id,
        "chain": chain,
        "first_channel": first,
        "reason": reason,
        "actor": actor,
    }
    if found is None:
        # Nobody to send to: recorded, visible on the timeline, and nothing more to try.
        row.update(channel=first, state=FAILED, error=f"no channel reaches customer {customer.id}")
        new_id = _insert(session, row)
        delivery = None if new_id is None else session.get(Delivery, new_id)
        if delivery is not None:
            _event(session, delivery, "delivery_failed", {"error": delivery.error})
        return delivery
    row.update(channel=found[0], recipient=found[1][:254], state=PENDING)
    new_id = _insert(session, row)
    if new_id is None:
        return None
    _dispatch(session, tenant_id, new_id, found[0])
    return session.get(Delivery, new_id) if fetch else None


def request_deliveries(session: Session, tenant_id: int, invoice_ids: list[int], *, reason: str = "issue") -> int:
    """``request_delivery`` for many invoices at once (the ``invoice.issued`` batch subscriber).

    The automatic delivery (chain 0) of each invoice on the customer's channel, with the
    tenant's fallback chain, exactly as ``request_delivery(channel=None)`` chooses it, but with
    set-based statements: the invoices and customers in one query, the tenant and its settings
    once, every delivery row in one ``INSERT … ON CONFLICT DO NOTHING … RETURNING``, the send
    jobs in one bulk insert, one print-batch job for the letters and one timeline write for the
    customers nobody can reach. Returns how many deliveries were new.
    """
    wanted = list(dict.fromkeys(invoice_ids))
    if not wanted:
        return 0
    found = {
        int(row[0]): (str(row[1]), row[2])
        for row in session.execute(
            select(Invoice.id, Invoice.state, Customer)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Invoice.tenant_id == tenant_id, Invoice.id.in_(wanted))
        )
    }
    for invoice_id in wanted:  # as one by one: the batch fails and each event is retried alone
        if invoice_id not in found:
            raise NotFound(f"no invoice {invoice_id}", param="invoice")
        if found[invoice_id][0] == "draft":
            raise Conflict(f"invoice {invoice_id} is a draft: issue it before sending it", code="invoice_not_issued")
    default = _tenant_default(session, tenant_id)
    fallback = preferences(session, tenant_id).fallback
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for invoice_id in wanted:
        customer = found[invoice_id][1]
        first = customer.delivery_method or default
        candidates = [first]
        if address_of(customer, first) is None:
            candidates += fallback.get(first, [])
        reached = _first_reachable(candidates, customer, set())
        channel, recipient = reached if reached is not None else (first, None)
        rows.append(
            {
                "tenant_id": tenant_id,
                "invoice_id": invoice_id,
                "document": "invoice",
                "reminder_id": None,
                "chain": AUTOMATIC,
                "first_channel": first,
                "reason": reason,
                "actor": "system",
                "channel": channel,
                "recipient": None if recipient is None else recipient[:254],
                "state": PENDING if reached is not None else FAILED,
                "error": None if reached is not None else f"no channel reaches customer {customer.id}",
                "attempts": 0,
                "data": {},
                "created_at": now,
                "updated_at": now,
                "callback_token": secrets.token_urlsafe(24) if channel == SMS and reached is not None else None,
            }
        )
    # One statement for all rows (SQLAlchemy's "insertmanyvalues": a multi-row VALUES, compiled
    # once per process); rows whose key exists are skipped and return nothing.
    statement = _insert_many_statement(is_postgresql(session), tuple(rows[0]))
    inserted = {int(r.invoice_id): (int(r.id), str(r.channel), str(r.state)) for r in session.execute(statement, rows)}
    by_invoice = {row["invoice_id"]: row for row in rows}
    jobs: list[dict[str, Any]] = []
    unreachable: list[Happening] = []
    letters = False
    max_attempts = get_settings().job_max_attempts
    for invoice_id in wanted:
        if invoice_id not in inserted:
            continue  # the automatic delivery exists already (a repeated event): nothing more
        delivery_id, channel, state = inserted[invoice_id]
        if state == FAILED:
            data = {"channel": channel, "delivery": delivery_id, "document": "invoice", "chain": AUTOMATIC}
            unreachable.append(
                Happening(invoice_id, "delivery_failed", "system", {**data, "error": by_invoice[invoice_id]["error"]})
            )
        elif channel == LETTER:
            letters = True
        else:
            jobs.append(
                {
                    "tenant_id": tenant_id,
                    "kind": SEND_JOB,
                    "payload": {"delivery_id": delivery_id},
                    "dedupe_key": f"{SEND_JOB}:{delivery_id}",
                    "max_attempts": max_attempts,
                }
            )
    enqueue_rows(session, jobs)
    if letters:
        schedule_print_batch(session, tenant_id)
    record(session, tenant_id, unreachable)
    return len(inserted)


def _what(channel: str) -> str:
    return {
        EMAIL: "email address",
        SMS: "phone number",
        EINVOICE: "Peppol id (organisation number or attributes.peppol_id)",
        LETTER: "postal address",
    }[channel]


def _invoice(session: Session, tenant_id: int, invoice_id: int) -> Invoice:
    invoice = session.scalar(
        select(Invoice).options(lazyload(Invoice.lines)).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
    )
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}", param="invoice")
    return invoice


def _invoice_and_customer(session: Session, tenant_id: int, invoice_id: int) -> tuple[str, Customer]:
    """The invoice's state and its customer, in one query (this runs once per issued invoice)."""
    found = session.execute(
        select(Invoice.state, Customer)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
    ).first()
    if found is None:
        raise NotFound(f"no invoice {invoice_id}", param="invoice")
    return str(found[0]), found[1]


def _tenant_default(session: Session, tenant_id: int) -> str:
    tenant = session.get(Tenant, tenant_id)
    return tenant.default_delivery if tenant is not None else EMAIL


def _next_chain(session: Session, tenant_id: int, invoice_id: int, document: str) -> int:
    latest = session.scalar(
        select(func.max(Delivery.chain)).where(
            Delivery.tenant_id == tenant_id, Delivery.invoice_id == invoice_id, Delivery.document == document
        )
    )
    return 1 if latest is None else int(latest) + 1


def _insert(session: Session, row: dict[str, Any]) -> int | None:
    """Insert the delivery unless its (invoice, document, chain, channel) exists: then None.

    ``ON CONFLICT DO NOTHING`` on the unique key, so that two workers handling the same event
    at once cannot both insert, and neither fails.
    """
    now = utcnow()
    values = {
        **row,
        "attempts": 0,
        "data": {},
        "created_at": now,
        "updated_at": now,
        "callback_token": secrets.token_urlsafe(24) if row.get("channel") == SMS else None,
    }
    new_id = session.execute(_insert_statement(is_postgresql(session), tuple(values)), values).scalar()
    return None if new_id is None else int(new_id)


@lru_cache(maxsize=8)
def _insert_statement(postgres: bool, columns: tuple[str, ...]) -> Any:
    # Built once, values bound at execution: the compiled statement is reused for every event
    # (building ``.values(**row)`` anew cost about a millisecond per invoice).
    table = cast(Table, Delivery.__table__)
    dialect = postgresql if postgres else sqlite
    return dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)


@lru_cache(maxsize=8)
def _insert_many_statement(postgres: bool, columns: tuple[str, ...]) -> Any:
    table = cast(Table, Delivery.__table__)
    dialect = postgresql if postgres else sqlite
    return (
        dialect.insert(table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.invoice_id, table.c.channel, table.c.state)
    )


def _dispatch(session: Session, tenant_id: int, delivery_id: int, channel: str) -> None:
    """Hand a pending delivery to its job: one per message, or the next print batch for letters."""
    if channel == LETTER:
        schedule_print_batch(session, tenant_id)
        return
    enqueue(
        session,
        SEND_JOB,
        {"delivery_id": delivery_id},
        tenant_id=tenant_id,
        dedupe_key=f"{SEND_JOB}:{delivery_id}",
        max_attempts=get_settings().job_max_attempts,
    )


def schedule_print_batch(session: Session, tenant_id: int) -> None:
    """One print-batch job per tenant and time slot collects every letter waiting by then."""
    slot_seconds = max(get_settings().print_batch_seconds, 1)
    now = utcnow()
    slot = int(now.timestamp()) // slot_seconds
    run_at = now.replace(microsecond=0) + timedelta(seconds=slot_seconds - int(now.timestamp()) % slot_seconds)
    enqueue_once(
        session,
        PRINT_BATCH_JOB,
        {},
        tenant_id=tenant_id,
        dedupe_key=f"{PRINT_BATCH_JOB}:{tenant_id}:{slot_seconds}:{slot}",
        run_at=run_at,
    )


def enqueue_once(
    session: Session, kind: str, payload: dict[str, Any], *, tenant_id: int, dedupe_key: str, run_at: Any = None
) -> None:
    """Enqueue a job unless one with the dedupe key exists (no error, no aborted transaction)."""
    now = utcnow()
    dialect = postgresql if is_postgresql(session) else sqlite
    values = {
        "tenant_id": tenant_id,
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "state": "pending",
        "attempts": 0,
        "max_attempts": get_settings().job_max_attempts,
        "run_at": run_at or now,
        "created_at": now,
    }
    session.execute(dialect.insert(OutboxJob).values(**values).on_conflict_do_nothing())


# --- outcomes --------------------------------------------------------------------------------


def _event(session: Session, delivery: Delivery, kind: str, extra: dict[str, Any] | None = None) -> None:
    record(session, delivery.tenant_id, [_happening(delivery, kind, extra)])


def _happening(delivery: Delivery, kind: str, extra: dict[str, Any] | None = None) -> Happening:
    data = {
        "channel": delivery.channel,
        "delivery": delivery.id,
        "document": delivery.document,
        "chain": delivery.chain,
    }
    if delivery.recipient:
        data["recipient"] = delivery.recipient
    return Happening(delivery.invoice_id, kind, "system", {**data, **(extra or {})})


def mark_sent(session: Session, delivery: Delivery, provider_ref: str | None, data: dict[str, Any]) -> None:
    mark_sent_many(session, delivery.tenant_id, [(delivery, provider_ref, data)])


def mark_sent_many(
    session: Session,
    tenant_id: int,
    outcomes: list[tuple[Delivery, str | None, dict[str, Any]]],
    *,
    publish: bool = True,
) -> list[Happening]:
    """Record deliveries of one tenant as sent, with their timeline events in one write.

    ``publish=False``: the ``invoice.sent`` events are returned, not published; a send batch
    publishes all of its groups' events at once with its jobs (``sending.send_batch``)."""
    now = utcnow()
    happenings = []
    for delivery, provider_ref, data in outcomes:
        delivery.state = SENT
        delivery.provider_ref = provider_ref
        delivery.sent_at = now
        delivery.error = None
        delivery.data = {**(delivery.data or {}), **{k: v for k, v in data.items() if v is not None}}
        happenings.append(sent_happening(delivery))
    record(session, tenant_id, happenings, bundle=True, publish=publish)
    return happenings


def publish_sent(session: Session, tenant_id: int, happenings: list[Happening]) -> None:
    """The ``invoice.sent`` events of a send batch, as one outbox row (a bundle)."""
    publish_events(session, tenant_id, happenings, bundle=True)


def sent_happening(delivery: Delivery) -> Happening:
    """The timeline event of a delivery marked sent (as ``mark_sent_many`` wrote it)."""
    kind = "letter_sent" if delivery.channel == LETTER else "sent"
    return _happening(delivery, kind, {"provider_ref": delivery.provider_ref} if delivery.provider_ref else {})


def mark_delivered(session: Session, delivery: Delivery) -> None:
    if delivery.state not in (SENT, SENDING):
        return  # already delivered, or failed: a late or repeated report changes nothing
    delivery.state = DELIVERED
    _event(session, delivery, "delivered")


def mark_failed(session: Session, delivery: Delivery, error: str) -> Delivery | None:
    """Record a permanent failure and start the next channel of the chain; returns that delivery."""
    if delivery.state in (FAILED, DELIVERED):
        return None  # a repeated bounce or report; a delivered message that bounces later is rare
    delivery.state = FAILED
    delivery.error = error[:2000]
    _event(session, delivery, "delivery_failed", {"error": delivery.error})
    return fall_back(session, delivery)


def fall_back(session: Session, failed: Delivery) -> Delivery | None:
    """The next channel of the failed delivery's chain that reaches the customer, if any."""
    customer = session.scalar(
        select(Customer).join(Invoice, Invoice.customer_id == Customer.id).where(Invoice.id == failed.invoice_id)
    )
    assert customer is not None
    used = set(
        session.scalars(
            select(Delivery.channel).where(
                Delivery.tenant_id == failed.tenant_id,
                Delivery.invoice_id == failed.invoice_id,
                Delivery.document == failed.document,
                Delivery.chain == failed.chain,
            )
        )
    )
    chain = preferences(session, failed.tenant_id).fallback.get(failed.first_channel, [])
    found = _first_reachable(chain, customer, used)
    if found is None:
        return None
    new_id = _insert(
        session,
        {
            "tenant_id": failed.tenant_id,
            "invoice_id": failed.invoice_id,
            "document": failed.document,
            "reminder_id": failed.reminder_id,
            "chain": failed.chain,
            "first_channel": failed.first_channel,
            "channel": found[0],
            "recipient": found[1][:254],
            "state": PENDING,
            "reason": "fallback",
            "actor": "system",
        },
    )
    if new_id is None:
        return None
    _dispatch(session, failed.tenant_id, new_id, found[0])
    return session.get(Delivery, new_id)


def report_bounce(
    session: Session, tenant: Tenant, *, message_id: str | None, invoice_id: int | None, reason: str
) -> Delivery:
    """An email bounced (reported by the tenant's mail system): fail it and fall back."""
    query = select(Delivery).where(Delivery.tenant_id == tenant.id, Delivery.channel == EMAIL)
    if message_id:
        wanted = message_id.strip()
        wanted = wanted if wanted.startswith("<") else f"<{wanted}>"
        query = query.where(Delivery.provider_ref == wanted)
    elif invoice_id is not None:
        query = query.where(Delivery.invoice_id == invoice_id)
    else:
        raise ValidationFailed("name the bounced email by message_id or invoice", param="message_id")
    delivery = session.scalar(query.order_by(Delivery.id.desc()).limit(1))
    if delivery is None:
        what = f"message {message_id}" if message_id else f"invoice {invoice_id}"
        raise NotFound(f"no email delivery for {what}", param="message_id" if message_id else "invoice")
    if delivery.state in (SENT, DELIVERED):
        delivery.state = SENT  # a bounce after a "delivered" report still means it did not arrive
        mark_failed(session, delivery, f"bounced: {reason}")
    return delivery


def report_sms_status(session: Session, token: str, sms_id: str, status: str) -> bool:
    """A 46elks delivery report; False when the token or id is not ours."""
    query = select(Delivery).where(Delivery.callback_token == token)
    if is_postgresql(session):
        query = query.with_for_update()
    delivery = session.scalar(query)
    if delivery is None:
        return False
    if delivery.provider_ref is None and delivery.state == SENDING:
        # The report overtook the job that sent the SMS: the job applies it when it records
        # the id (the row lock above orders the two on PostgreSQL; SQLite has one writer).
        delivery.data = {**(delivery.data or {}), "early_report": {"id": sms_id, "status": status}}
        return True
    if delivery.provider_ref != sms_id:
        return False
    apply_sms_status(session, delivery, status)
    return True


def apply_sms_status(session: Session, delivery: Delivery, status: str) -> None:
    if status == "delivered":
        mark_delivered(session, delivery)
    elif status == "failed":
        mark_failed(session, delivery, "46elks reported the SMS as not delivered")


def deliveries_of(session: Session, tenant: Tenant, invoice_id: int) -> list[Delivery]:
    _invoice(session, tenant.id, invoice_id)
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.tenant_id == tenant.id, Delivery.invoice_id == invoice_id)
            .order_by(Delivery.id)
        )
    )


# --- staff -----------------------------------------------------------------------------------


def notify_staff(session: Session, tenant_id: int, subject: str, text: str) -> None:
    """Enqueue an email to the tenant's own address (``tenants.email``); none without one."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not tenant.email:
        return
    enqueue(
        session,
        STAFF_EMAIL_JOB,
        {"to": tenant.email, "subject": subject[:200], "text": text},
        tenant_id=tenant_id,
        max_attempts=get_settings().job_max_attempts,
    )


__all__ = [
    "DEFAULT_FALLBACK",
    "deliveries_of",
    "mark_sent_many",
    "notify_staff",
    "publish_sent",
    "report_bounce",
    "report_sms_status",
    "request_deliveries",
    "request_delivery",
    "sent_happening",
    "start_delivery",
    "update_preferences",
]
