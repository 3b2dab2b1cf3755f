"""Running one delivery through its channel (called by the outbox jobs in ``jobs``).

Each channel's promise when a worker dies mid-send (docs/delivery.md):

- email: at least once. The send and the record of it are one job; a crash between the SMTP
  server's 250 and our commit sends the message again, with the same Message-ID.
- SMS: at most once. ``sending`` is committed before 46elks is called; a job that finds its
  delivery still ``sending`` does not call again but marks it ``unknown`` (a person may resend).
- e-invoice: exactly once in effect: the access point deduplicates by our ``X-Document-Id``.
- letter: exactly once: the print batch folder is named by the job and written atomically; a
  rerun that finds its folder marks the letters in its manifest as sent without writing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from kvitt.core.config import Settings, get_settings, web_base_url
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import KvittError
from kvitt.core.outbox import OutboxJob, enqueue
from kvitt.customers.models import Customer
from kvitt.delivery import messages, service
from kvitt.delivery.channels import (
    EINVOICE,
    EMAIL,
    LETTER,
    SMS,
    PermanentFailure,
    Sent,
    TemporaryFailure,
    einvoice,
    email,
    letter,
    sms,
)
from kvitt.delivery.models import PENDING, SENDING, SENT, UNKNOWN, Delivery
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant

PRINT_BATCH_SIZE = 2000
STATUS_POLL_SECONDS = 30


def load(session: Session, tenant_id: int, delivery_id: int, *, lock: bool = False) -> Delivery | None:
    query = select(Delivery).where(Delivery.tenant_id == tenant_id, Delivery.id == delivery_id)
    if lock and is_postgresql(session):
        query = query.with_for_update()
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def facts_of(tenant: Tenant, invoice: Invoice, customer: Customer, delivery: Delivery) -> messages.InvoiceFacts:
    return messages.InvoiceFacts(
        issuer=tenant.name,
        name=customer.name,
        number=invoice.number,
        amount_ore=invoice.remaining if delivery.reminder_id is not None else invoice.total,
        due_date=invoice.due_date.isoformat() if invoice.due_date else "",
        ocr=invoice.ocr,
        bankgiro=tenant.bankgiro,
        url=f"{web_base_url(get_settings())}/i/{invoice.token}",
        reminder=delivery.reminder_id is not None,
        credit_note=invoice.kind == "credit_note",
    )


def send_delivery(session: Session, job: OutboxJob) -> None:
    """The ``delivery.send`` job: one email, SMS or e-invoice."""
    assert job.tenant_id is not None
    delivery = load(session, job.tenant_id, int(job.payload["delivery_id"]))
    if delivery is None:
        return
    if delivery.state == SENDING:
        # A worker stopped between handing the SMS to 46elks and recording it: whether it went
        # out is unknown, and sending it again could send it twice (at most once, see above).
        delivery.state = UNKNOWN
        delivery.error = "the worker stopped while sending; not repeated (at most once)"
        service._event(session, delivery, "delivery_failed", {"error": delivery.error, "unknown": True})
        return
    if delivery.state != PENDING:
        return  # done by an earlier run of this job: nothing is sent twice
    last_try = job.attempts + 1 >= job.max_attempts
    try:
        sent = _send(session, delivery, job)
    except TemporaryFailure as exc:
        if not last_try:
            raise
        _failed(session, delivery, f"gave up after {job.attempts + 1} attempts: {exc}")
        return
    except PermanentFailure as exc:
        _failed(session, delivery, str(exc))
        return
    _sent(session, delivery, sent)


def _failed(session: Session, delivery: Delivery, error: str) -> None:
    delivery = load(session, delivery.tenant_id, delivery.id, lock=True) or delivery
    service.mark_failed(session, delivery, error)


def _sent(session: Session, delivery: Delivery, sent: Sent) -> None:
    delivery = load(session, delivery.tenant_id, delivery.id, lock=True) or delivery
    early = (delivery.data or {}).get("early_report")
    service.mark_sent(session, delivery, sent.provider_ref, sent.data)
    if early and early.get("id") == sent.provider_ref:
        service.apply_sms_status(session, delivery, str(early.get("status")))
    if delivery.channel == EINVOICE and delivery.data.get("mode") == "access_point":
        enqueue(
            session,
            service.EINVOICE_STATUS_JOB,
            {"delivery_id": delivery.id},
            tenant_id=delivery.tenant_id,
            dedupe_key=f"{service.EINVOICE_STATUS_JOB}:{delivery.id}",
            run_at=utcnow() + timedelta(seconds=STATUS_POLL_SECONDS),
            max_attempts=12,
        )


def _send(session: Session, delivery: Delivery, job: OutboxJob) -> Sent:
    tenant = session.get(Tenant, delivery.tenant_id)
    invoice = session.scalar(select(Invoice).options(lazyload(Invoice.lines)).where(Invoice.id == delivery.invoice_id))
    assert tenant is not None and invoice is not None and invoice.tenant_id == tenant.id
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    settings = get_settings()
    if delivery.channel == EMAIL:
        return _email(session, settings, tenant, invoice, customer, delivery)
    if delivery.channel == SMS:
        return _sms(session, settings, tenant, invoice, customer, delivery)
    if delivery.channel == EINVOICE:
        return _einvoice(session, settings, tenant, invoice, customer, delivery)
    raise PermanentFailure(f"channel {delivery.channel!r} is not sent one by one")


def _email(
    session: Session, settings: Settings, tenant: Tenant, invoice: Invoice, customer: Customer, delivery: Delivery
) -> Sent:
    to = customer.email or delivery.recipient
    if not to:
        raise PermanentFailure("the customer has no email address")
    attach = service.preferences(session, tenant.id).attach_pdf
    attachments = []
    if attach:
        from kvitt.documents.pdf import invoice_pdf

        attachments.append(
            email.Attachment(f"faktura-{invoice.number}.pdf", invoice_pdf(session, tenant.id, invoice.id))
        )
    lang = messages.language_of(customer.language)
    subject, text, html = messages.email_parts(facts_of(tenant, invoice, customer, delivery), lang, attached=attach)
    message = email.build_message(
        sender=settings.mail_from,
        sender_name=tenant.name,
        to=to,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id(settings, delivery),
        attachments=attachments,
        reply_to=tenant.email,
    )
    delivery.recipient = to
    end_transaction_before_network(session)
    return email.send(smtp_config(settings), message)


def end_transaction_before_network(session: Session) -> None:
    """Commit what is decided so far, so that no transaction (and on SQLite no write lock) is
    held while a provider is called; the job's own row stays ``running`` meanwhile, and the
    outcome is recorded in the next transaction of the same session, which the worker commits.

    This is the one place jobs commit part-way. For SMS it is also the at-most-once marker.
    """
    session.commit()


def message_id(settings: Settings, delivery: Delivery) -> str:
    domain = settings.mail_from.rpartition("@")[2] or "kvitt.localhost"
    return f"<kvitt.{delivery.tenant_id}.{delivery.id}@{domain}>"


def smtp_config(settings: Settings) -> email.SmtpConfig:
    return email.SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        tls=settings.smtp_tls,
        timeout=settings.smtp_timeout_seconds,
    )


def _sms(
    session: Session, settings: Settings, tenant: Tenant, invoice: Invoice, customer: Customer, delivery: Delivery
) -> Sent:
    to = customer.phone or delivery.recipient
    if not to:
        raise PermanentFailure("the customer has no phone number")
    text = messages.sms_text(facts_of(tenant, invoice, customer, delivery), messages.language_of(customer.language))
    report_url = f"{web_base_url(settings)}/callbacks/sms/{delivery.callback_token}"
    # At most once: the "sending" marker is committed before 46elks is called (module doc).
    delivery.state = SENDING
    delivery.recipient = to
    end_transaction_before_network(session)
    config = sms.Elks46Config(settings.sms_url, settings.sms_user, settings.sms_password)
    try:
        with sms.Elks46Client(config) as client:
            return client.send(
                sender=sms.sender_name(settings.sms_from, tenant.name), to=to, message=text, whendelivered=report_url
            )
    except TemporaryFailure:
        # 46elks said it did not take the message (or did not answer): free it for the retry.
        delivery.state = PENDING
        session.commit()
        raise
    except PermanentFailure:
        delivery.state = PENDING  # mark_failed takes it from here, in this transaction
        raise


def _einvoice(
    session: Session, settings: Settings, tenant: Tenant, invoice: Invoice, customer: Customer, delivery: Delivery
) -> Sent:
    receiver = service.peppol_id(customer)
    if receiver is None:
        raise PermanentFailure("the customer has no Peppol id")
    from kvitt.documents.ubl import invoice_ubl

    try:
        ubl = invoice_ubl(session, tenant.id, invoice.id)
    except KvittError as exc:
        raise PermanentFailure(exc.message) from exc
    if settings.peppol_ap_url:
        config = einvoice.AccessPointConfig(settings.peppol_ap_url, settings.peppol_ap_key)
        end_transaction_before_network(session)
        with einvoice.AccessPointClient(config) as client:
            sent = client.send(
                ubl=ubl,
                sender="0007:" + tenant.org_number.replace("-", ""),
                receiver=receiver,
                document_id=f"kvitt-{tenant.id}-{delivery.id}",
            )
        sent.data["mode"] = "access_point"
        return sent
    if settings.einvoice_dir:
        name = f"{tenant.org_number.replace('-', '')}-{invoice.number}-{delivery.id}.xml"
        sent = einvoice.export_file(settings.einvoice_dir, name, ubl)
        sent.data["mode"] = "file"
        return sent
    raise PermanentFailure("no Peppol access point (KVITT_PEPPOL_AP_URL) nor export folder (KVITT_EINVOICE_DIR)")


def poll_einvoice(session: Session, job: OutboxJob) -> None:
    """The ``delivery.einvoice_status`` job: ask the access point until the outcome is known."""
    assert job.tenant_id is not None
    delivery = load(session, job.tenant_id, int(job.payload["delivery_id"]), lock=True)
    if delivery is None or delivery.state != SENT or not delivery.provider_ref:
        return
    settings = get_settings()
    if not settings.peppol_ap_url:
        return
    config = einvoice.AccessPointConfig(settings.peppol_ap_url, settings.peppol_ap_key)
    try:
        with einvoice.AccessPointClient(config) as client:
            status, error = client.status(delivery.provider_ref)
    except PermanentFailure as exc:
        service.mark_failed(session, delivery, str(exc))
        return
    if status == "delivered":
        service.mark_delivered(session, delivery)
    elif status == "failed":
        service.mark_failed(session, delivery, f"access point: {error or 'not delivered'}")
    elif job.attempts + 1 < job.max_attempts:
        raise TemporaryFailure(f"access point status {status!r}: asking again later")


# --- letters ---------------------------------------------------------------------------------


def print_batch(session: Session, job: OutboxJob) -> None:
    """The ``delivery.print_batch`` job: every waiting letter of the tenant into one batch."""
    assert job.tenant_id is not None
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is None:
        return
    settings = get_settings()
    batch = f"{_batch_date(job)}-{job.id:08d}"
    folder = letter.batch_dir(settings.print_dir, tenant.org_number, batch)
    if folder.exists():
        # An earlier run of this job wrote the batch and stopped before recording it.
        ids = [int(row["delivery_id"]) for row in letter.read_manifest(folder)]
        letters = list(session.scalars(select(Delivery).where(Delivery.tenant_id == tenant.id, Delivery.id.in_(ids))))
        _record_batch(session, [d for d in letters if d.state == PENDING], batch)
        return
    waiting = _waiting_letters(session, tenant.id)
    if not waiting:
        return
    letters = _render(session, tenant, waiting)
    letter.write_batch(folder, [item for _, item in letters])
    _record_batch(session, [d for d, _ in letters], batch)
    if len(waiting) == PRINT_BATCH_SIZE:  # more are waiting: the next batch right away
        service.enqueue_once(
            session,
            service.PRINT_BATCH_JOB,
            {},
            tenant_id=tenant.id,
            dedupe_key=f"{service.PRINT_BATCH_JOB}:{tenant.id}:after:{waiting[-1].id}",
        )


def _batch_date(job: OutboxJob) -> str:
    day = job.payload.get("date")
    return date.fromisoformat(day).strftime("%Y%m%d") if day else job.created_at.strftime("%Y%m%d")


def _waiting_letters(session: Session, tenant_id: int) -> list[Delivery]:
    query = (
        select(Delivery)
        .where(Delivery.tenant_id == tenant_id, Delivery.channel == LETTER, Delivery.state == PENDING)
        .order_by(Delivery.id)
        .limit(PRINT_BATCH_SIZE)
    )
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _render(session: Session, tenant: Tenant, waiting: list[Delivery]) -> list[tuple[Delivery, letter.Letter]]:
    from kvitt.documents.pdf import invoice_pdf

    invoices = {
        inv.id: inv
        for inv in session.scalars(
            select(Invoice)
            .options(lazyload(Invoice.lines))
            .where(Invoice.tenant_id == tenant.id, Invoice.id.in_({d.invoice_id for d in waiting}))
        )
    }
    customers = {
        c.id: c
        for c in session.scalars(select(Customer).where(Customer.id.in_({i.customer_id for i in invoices.values()})))
    }
    rendered = []
    for delivery in waiting:
        invoice = invoices[delivery.invoice_id]
        customer = customers[invoice.customer_id]
        if not (customer.address_line1 and customer.postal_code and customer.city):
            service.mark_failed(session, delivery, "the customer has no postal address")
            continue
        item = letter.Letter(
            delivery_id=delivery.id,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            document=delivery.document,
            customer_no=customer.customer_no,
            name=customer.name,
            address_line1=customer.address_line1,
            address_line2=customer.address_line2,
            postal_code=customer.postal_code,
            city=customer.city,
            country=customer.country,
            pdf=invoice_pdf(session, tenant.id, invoice.id, letter=True),
        )
        rendered.append((delivery, item))
    return rendered


def _record_batch(session: Session, letters: list[Delivery], batch: str) -> None:
    for delivery in letters:
        delivery.batch = batch
        service.mark_sent(session, delivery, batch, {"batch": batch})


def staff_email(session: Session, job: OutboxJob) -> None:
    """The ``delivery.staff_email`` job: a plain-text note to the tenant's staff."""
    settings = get_settings()
    payload: dict[str, Any] = job.payload
    message = email.build_message(
        sender=settings.mail_from,
        sender_name="Kvitt",
        to=str(payload["to"]),
        subject=str(payload["subject"]),
        text=str(payload["text"]),
        html=None,
        message_id=f"<kvitt.staff.{job.id}@{settings.mail_from.rpartition('@')[2] or 'kvitt.localhost'}>",
    )
    end_transaction_before_network(session)
    try:
        email.send(smtp_config(settings), message)
    except PermanentFailure:
        return  # nobody else to tell; the job's last_error is not set, the log has it
