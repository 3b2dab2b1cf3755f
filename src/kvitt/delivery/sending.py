"""Running deliveries through their channels, a batch of send jobs at a time (``jobs``).

Each channel's promise when a worker dies mid-send (docs/delivery.md):

- email: at least once, and at most ``RESEND_BOUND`` (200) repeats per killed worker. Outcomes
  are committed in groups of ``EMAIL_GROUP_SIZE`` (100) while the next group is sent; a crash
  between the SMTP server's 250 and that commit sends those messages again, same Message-ID.
- SMS: at most once. ``sending`` is committed before 46elks is called (a group at a time); a
  job that finds its delivery still ``sending`` does not call again but marks it ``unknown``
  (a person may resend).
- e-invoice: exactly once in effect: the access point deduplicates by our ``X-Document-Id``.
- letter: exactly once: the print batch folder is named by the job and written atomically; a
  rerun that finds its folder marks the letters in its manifest as sent without writing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import structlog
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, lazyload

from kvitt.autogiro import debits as autogiro
from kvitt.core import clock
from kvitt.core.config import Settings, get_settings, web_base_url
from kvitt.core.db import any_of, is_postgresql, utcnow
from kvitt.core.errors import KvittError
from kvitt.core.outbox import RUNNING, JobFailures, OutboxJob, enqueue
from kvitt.customers.models import Customer
from kvitt.delivery import messages, service
from kvitt.delivery.channels import (
    EINVOICE,
    EMAIL,
    LETTER,
    SMS,
    DeliveryError,
    PermanentFailure,
    Sent,
    TemporaryFailure,
    einvoice,
    email,
    letter,
    sms,
)
from kvitt.delivery.models import PENDING, SENDING, SENT, UNKNOWN, Delivery
from kvitt.engagement import service as engagement
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening
from kvitt.tenants import branding
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
        logo_url=branding.absolute_logo_url(tenant, web_base_url(get_settings())),
        brand_color=tenant.brand_color,
    )


log = structlog.get_logger("kvitt.delivery")

# Outcomes are committed every GROUP_SIZE messages (SMS, e-invoices: a killed worker leaves at
# most one group of SMS ``sending``, which become ``unknown``). Email goes in groups of
# EMAIL_GROUP_SIZE and sends one group while the previous one's outcomes are written, so a
# worker killed mid-batch leaves at most RESEND_BOUND emails sent but not recorded, which a rerun
# sends again (module doc, docs/delivery.md). Each group costs a row lock, an UPDATE, a timeline
# write, an outbox row and a commit, whatever its size: ~5 round trips per 20 emails were the
# largest block of a billing day's jobs (bench/RESULTS.md).
GROUP_SIZE = 20
EMAIL_GROUP_SIZE = 100
RESEND_BOUND = 2 * EMAIL_GROUP_SIZE
# Requests in flight at once to 46elks or the access point (one HTTP client per batch).
CONCURRENCY = 8


@dataclass
class _Item:
    """One delivery of the batch: what was prepared for it and what came of it."""

    delivery: Delivery
    job: OutboxJob
    prepared: Any = None  # the rendered email (bytes), the SMS (text, report URL), the UBL
    message_id: str = ""
    to: str | None = None  # the address it goes to (recorded on the delivery with the outcome)
    outcome: Sent | DeliveryError | None = None
    # Engagement's placements in it, counted as impressions once it is sent: in the message
    # itself (email, SMS) and on the PDF attached to an email (channel ``pdf``).
    shown: list[Any] = field(default_factory=list)
    on_pdf: list[Any] = field(default_factory=list)


@dataclass
class _Batch:
    """The invoices, customers and tenant of a batch's deliveries, loaded once for all of them."""

    settings: Settings
    tenant: Tenant
    attach_pdf: bool
    invoices: dict[int, Invoice]
    customers: dict[int, Customer]
    base_url: str
    jobs: list[OutboxJob] = field(default_factory=list)
    lease_renewed: float = field(default_factory=time.monotonic)
    autogiro_on: dict[int, date] = field(default_factory=dict)  # invoice id -> autogiro's debit day
    # (channel, invoice id) -> engagement's placements in that channel's message of the invoice
    placements: dict[tuple[str, int], list[Any]] = field(default_factory=dict)
    # The ``invoice.sent`` events of the groups recorded so far: published with the jobs.
    sent: list[Happening] = field(default_factory=list)

    def renew_lease(self, session: Session) -> None:
        """Keep the batch's jobs ours while it runs: a batch against a slow provider can outlast
        the lease (KVITT_JOB_LEASE_SECONDS), and another worker would then take over the jobs
        whose messages are not recorded yet and send them again. Renewed with the outcomes once
        a third of the lease has passed (one UPDATE, committed with the group)."""
        lease = self.settings.job_lease_seconds
        if not self.jobs or time.monotonic() - self.lease_renewed < lease / 3:
            return
        session.execute(
            update(OutboxJob)
            .where(
                any_of(session, OutboxJob.id, [job.id for job in self.jobs]),
                OutboxJob.locked_by == self.jobs[0].locked_by,
                OutboxJob.state == RUNNING,
            )
            .values(locked_until=utcnow() + timedelta(seconds=lease))
            .execution_options(synchronize_session=False)
        )
        self.lease_renewed = time.monotonic()

    @classmethod
    def load(cls, session: Session, tenant_id: int, deliveries: list[Delivery]) -> _Batch:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoices = {
            invoice.id: invoice
            for invoice in session.scalars(
                select(Invoice)
                .options(lazyload(Invoice.lines))
                .where(Invoice.tenant_id == tenant_id, any_of(session, Invoice.id, {d.invoice_id for d in deliveries}))
            )
        }
        customers = {
            customer.id: customer
            for customer in session.scalars(
                select(Customer).where(
                    Customer.tenant_id == tenant_id,
                    any_of(session, Customer.id, {i.customer_id for i in invoices.values()}),
                )
            )
        }
        settings = get_settings()
        attach = service.preferences(session, tenant_id).attach_pdf
        autogiro_on = autogiro.debit_dates(session, tenant, list(invoices.values()), today=clock.today())
        batch = cls(settings, tenant, attach, invoices, customers, web_base_url(settings), autogiro_on=autogiro_on)
        for channel in (EMAIL, SMS):
            found = message_placements(session, tenant, deliveries, invoices, customers, channel)
            batch.placements.update({(channel, invoice_id): shown for invoice_id, shown in found.items()})
        return batch

    def invoice(self, delivery: Delivery) -> Invoice:
        return self.invoices[delivery.invoice_id]

    def customer(self, delivery: Delivery) -> Customer:
        return self.customers[self.invoices[delivery.invoice_id].customer_id]

    def facts(self, delivery: Delivery) -> messages.InvoiceFacts:
        invoice = self.invoice(delivery)
        return messages.InvoiceFacts(
            issuer=self.tenant.name,
            name=self.customer(delivery).name,
            number=invoice.number,
            amount_ore=invoice.remaining if delivery.reminder_id is not None else invoice.total,
            due_date=invoice.due_date.isoformat() if invoice.due_date else "",
            ocr=invoice.ocr,
            bankgiro=self.tenant.bankgiro,
            url=f"{self.base_url}/i/{invoice.token}",
            reminder=delivery.reminder_id is not None,
            credit_note=invoice.kind == "credit_note",
            autogiro_date=on.isoformat() if (on := self.autogiro_on.get(invoice.id)) else None,
            placements=[
                placement_lines(p, self.base_url, invoice.token, delivery.channel) for p in self.shown(delivery)
            ],
            logo_url=branding.absolute_logo_url(self.tenant, self.base_url),
            brand_color=self.tenant.brand_color,
        )

    def shown(self, delivery: Delivery) -> list[Any]:
        """The placements in this delivery's message (by email none in reminders and credit
        notes; every SMS about an invoice carries its offer: ``message_placements``)."""
        if delivery.reminder_id is not None and delivery.channel != SMS:  # the invoice's own email may be here too
            return []
        return self.placements.get((delivery.channel, delivery.invoice_id), [])


def message_placements(
    session: Session,
    tenant: Tenant,
    deliveries: list[Delivery],
    invoices: dict[int, Invoice],
    customers: dict[int, Customer],
    channel: str,
) -> dict[int, list[Any]]:
    """The offers, information and surveys (kvitt.engagement) of the batch's messages on
    ``channel``: by email in invoice messages, not in reminders or credit notes; by SMS the first
    offer only, as a short call to action with its link, in every SMS about an invoice (the
    invoice's, a reminder's, a credit note's). Never fails the batch. Their impressions are
    recorded when the message is sent (``_record``)."""
    wanted = list(
        {
            d.invoice_id: invoices[d.invoice_id]
            for d in deliveries
            if d.channel == channel
            and (channel == SMS or (d.reminder_id is None and invoices[d.invoice_id].kind == "invoice"))
        }.values()
    )
    if not wanted:
        return {}
    langs = {c.id: messages.language_of(c.language) for c in customers.values()}
    try:
        shown = _fitting(session, tenant, wanted, customers, langs, utcnow(), channel)
    except Exception as exc:
        # May swallow any error of the engagement feature: the invoice goes out without offers.
        log.warning(f"{channel}_placements_not_added", tenant_id=tenant.id, error=str(exc)[:300])
        return {}
    if channel == SMS:  # 160 characters: one offer's call to action and its link, nothing else
        shown = {invoice_id: [p for p in items if p.kind == "offer"][:1] for invoice_id, items in shown.items()}
    return {invoice_id: items for invoice_id, items in shown.items() if items}


def _fitting(
    session: Session,
    tenant: Tenant,
    wanted: list[Invoice],
    customers: dict[int, Customer],
    langs: dict[int, str],
    now: datetime,
    channel: str,
) -> dict[int, list[Any]]:
    if not is_postgresql(session):  # a failed statement leaves SQLite's transaction as it was
        return engagement.fitting_many(session, tenant, wanted, customers, channel=channel, langs=langs, now=now)
    # On a connection of its own: a failing rule cannot abort the batch's transaction.
    with Session(session.get_bind()) as reader:
        return engagement.fitting_many(reader, tenant, wanted, customers, channel=channel, langs=langs, now=now)


def placement_lines(shown: Any, base_url: str, token: str, channel: str) -> dict[str, str]:
    """One placement as the email or SMS shows it: plain text (the templates escape it) and its
    link: an offer through the click redirect (naming the channel, so the click counts for it), a
    survey to its place on the web invoice."""
    link = ""
    if shown.kind == "offer":
        link = f"{base_url}/e/{engagement.click_token(token, shown.id, channel)}"
    elif shown.kind == "survey":
        link = f"{base_url}/i/{token}#placement-{shown.id}"
    cta = shown.cta or shown.title
    return {"title": shown.title, "text": shown.text, "cta": cta, "link": link}


def send_batch(session: Session, jobs: list[OutboxJob]) -> JobFailures:
    """The ``delivery.send`` jobs of one tenant: emails, SMS and e-invoices, per channel.

    Returns the jobs to retry (a temporary failure before the last attempt); a permanent
    failure is recorded on its delivery (and its fallback started), never fails the batch.
    """
    tenant_id = jobs[0].tenant_id
    assert tenant_id is not None and all(job.tenant_id == tenant_id for job in jobs)
    job_of = {int(job.payload["delivery_id"]): job for job in jobs}
    found = session.scalars(
        select(Delivery)
        .where(Delivery.tenant_id == tenant_id, any_of(session, Delivery.id, job_of))
        .order_by(Delivery.id)
        .execution_options(populate_existing=True)
    )
    failures: JobFailures = {}
    by_channel: dict[str, list[_Item]] = {}
    unpublished: list[Happening] = []
    for delivery in found:
        if delivery.sent_at is not None:
            # Recorded as sent by an earlier run of this job that stopped before the commit that
            # finishes its job, which is the commit that publishes the batch's ``invoice.sent``
            # events: its event was never published. Published now, once (nothing is sent).
            unpublished.append(service.sent_happening(delivery))
        elif delivery.state == SENDING:
            # A worker stopped between handing the SMS to 46elks and recording it: whether it went
            # out is unknown, and sending it again could send it twice (at most once, see above).
            delivery.state = UNKNOWN
            delivery.error = "the worker stopped while sending; not repeated (at most once)"
            service._event(session, delivery, "delivery_failed", {"error": delivery.error, "unknown": True})
        elif delivery.state != PENDING:
            continue  # done by an earlier run of this job: nothing is sent twice
        elif delivery.channel in (EMAIL, SMS, EINVOICE):
            by_channel.setdefault(delivery.channel, []).append(_Item(delivery, job_of[delivery.id]))
        else:
            service.mark_failed(session, delivery, f"channel {delivery.channel!r} is not sent one by one")
    if by_channel:
        batch = _Batch.load(session, tenant_id, [item.delivery for items in by_channel.values() for item in items])
        batch.jobs = jobs
        if EMAIL in by_channel:
            _send_emails(session, batch, by_channel[EMAIL], failures)
        if SMS in by_channel:
            _send_sms(session, batch, by_channel[SMS], failures)
        if EINVOICE in by_channel:
            _send_einvoices(session, batch, by_channel[EINVOICE], failures)
        unpublished += batch.sent
    # One bundle for the batch, in the transaction that finishes its jobs (the worker's): a job is
    # done if and only if its delivery's ``invoice.sent`` is published, so a rerun after a kill -9
    # knows which to publish (above) and none is published twice.
    service.publish_sent(session, tenant_id, unpublished)
    return failures


def send_delivery(session: Session, job: OutboxJob) -> None:
    """One ``delivery.send`` job alone (a batch of one); a retry is raised as TemporaryFailure."""
    failure = send_batch(session, [job]).get(job.id)
    if failure is not None:
        raise TemporaryFailure(failure)


def _groups(items: list[_Item], size: int) -> Iterator[list[_Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def commit_group(session: Session) -> None:
    """Commit the outcomes recorded so far (and what the next group decided) before the network.

    On PostgreSQL without waiting for the WAL flush: the promise is to survive a killed worker,
    which an asynchronous commit does (the server has the commit); a crash of the database
    server itself could lose the last few hundred milliseconds, and those messages would be sent
    again like after a kill.
    """
    if is_postgresql(session):
        session.execute(text("SET LOCAL synchronous_commit = off"))
    session.commit()


def _record(session: Session, batch: _Batch, items: list[_Item], failures: JobFailures) -> None:
    """Write the outcomes of a group into the session (committed with the next group or the job)."""
    batch.renew_lease(session)
    done = [item for item in items if item.outcome is not None]
    if not done:
        return
    # The rows as they are now: a report that overtook its SMS wrote ``early_report`` meanwhile
    # (the session keeps objects across commits). On PostgreSQL with row locks in id order: an
    # SMS report arriving now waits for this (see report_sms_status); SQLite has one writer.
    fresh = (
        select(Delivery)
        .where(Delivery.tenant_id == batch.tenant.id, any_of(session, Delivery.id, [item.delivery.id for item in done]))
        .order_by(Delivery.id)
        .execution_options(populate_existing=True)
    )
    list(session.scalars(fresh.with_for_update() if is_postgresql(session) else fresh))
    sent: list[tuple[Delivery, str | None, dict[str, Any]]] = []
    for item in done:
        delivery, outcome = item.delivery, item.outcome
        if item.to is not None:
            delivery.recipient = item.to
        if isinstance(outcome, Sent):
            sent.append((delivery, outcome.provider_ref, outcome.data))
            continue
        last_try = item.job.attempts + 1 >= item.job.max_attempts
        if delivery.state == SENDING:
            delivery.state = PENDING  # the provider did not take it: free for the retry or the fallback
        if isinstance(outcome, TemporaryFailure) and not last_try:
            failures[item.job.id] = str(outcome)
            # Shown on the delivery while it waits (sending it clears the error again).
            attempt = f"attempt {item.job.attempts + 1} of {item.job.max_attempts}"
            delivery.error = f"{attempt} failed, will retry: {outcome}"[:2000]
        elif isinstance(outcome, TemporaryFailure):
            service.mark_failed(session, delivery, f"gave up after {item.job.attempts + 1} attempts: {outcome}")
        else:
            service.mark_failed(session, delivery, str(outcome))
    batch.sent += service.mark_sent_many(session, batch.tenant.id, sent, publish=False)
    _count_impressions(session, batch, [item for item in done if isinstance(item.outcome, Sent)])
    for delivery, provider_ref, _ in sent:
        early = (delivery.data or {}).get("early_report")
        if early and early.get("id") == provider_ref:
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


def _count_impressions(session: Session, batch: _Batch, sent: list[_Item]) -> None:
    """The impressions of the placements in the messages just sent (and on their attached PDFs):
    one per invoice, placement and channel; a resend of the same invoice counts nothing more
    (``engagement.record_sent``). In the transaction that records the outcomes."""
    by_channel: dict[str, dict[int, list[Any]]] = {}
    for item in sent:
        invoice_id = item.delivery.invoice_id
        if item.shown:
            by_channel.setdefault(item.delivery.channel, {})[invoice_id] = item.shown
        if item.on_pdf:
            by_channel.setdefault(engagement.PDF, {})[invoice_id] = item.on_pdf
    now = utcnow()
    for channel, shown in by_channel.items():
        invoices = [batch.invoices[invoice_id] for invoice_id in shown]
        engagement.record_sent(session, invoices, shown, channel=channel, now=now)


def _outcome(call: Callable[[], Sent]) -> Sent | DeliveryError:
    try:
        return call()
    except DeliveryError as exc:
        return exc


# --- email -----------------------------------------------------------------------------------


def _send_emails(session: Session, batch: _Batch, items: list[_Item], failures: JobFailures) -> None:
    """Over one SMTP connection, in groups of EMAIL_GROUP_SIZE, two at a time: a thread sends group k
    while this one writes the outcomes of group k-1 and renders group k+1, so the database and
    the SMTP server are waited for at the same time. No transaction is open while waiting."""
    settings = batch.settings
    in_flight: tuple[list[_Item], Future[None]] | None = None
    with email.SmtpSession(smtp_config(settings)) as smtp, ThreadPoolExecutor(1) as sender:
        for group in _groups(items, EMAIL_GROUP_SIZE):
            for item in group:
                item.outcome = _render_email(session, batch, item)
            if session.in_transaction():
                commit_group(session)  # what rendering read (PDFs), or the batch's first decisions
            previous = in_flight
            if previous is not None:
                previous[1].result()
            in_flight = (group, sender.submit(_send_group, smtp, settings.mail_from, group))
            if previous is not None:
                _record(session, batch, previous[0], failures)
                commit_group(session)
        if in_flight is not None:
            in_flight[1].result()
            _record(session, batch, in_flight[0], failures)  # committed by the worker with the jobs


def _send_group(smtp: email.SmtpSession, sender: str, group: list[_Item]) -> None:
    for item in group:
        if item.outcome is None:
            to = str(item.delivery.recipient if item.to is None else item.to)
            item.outcome = _outcome(partial(smtp.send, sender, to, item.prepared, item.message_id))


def _render_email(session: Session, batch: _Batch, item: _Item) -> PermanentFailure | None:
    delivery = item.delivery
    customer = batch.customer(delivery)
    to = customer.email or delivery.recipient
    if not to:
        return PermanentFailure("the customer has no email address")
    invoice = batch.invoice(delivery)
    attachments = []
    if batch.attach_pdf:
        from kvitt.documents.pdf import invoice_pdf_for_delivery

        pdf, item.on_pdf = invoice_pdf_for_delivery(session, batch.tenant.id, invoice.id, base_url=batch.base_url)
        attachments.append(email.Attachment(f"faktura-{invoice.number}.pdf", pdf))
    lang = messages.language_of(customer.language)
    subject, text_part, html = messages.email_parts(batch.facts(delivery), lang, attached=batch.attach_pdf)
    item.message_id = message_id(batch.settings, delivery)
    item.to = to
    item.shown = batch.shown(delivery)
    item.prepared = email.render_message(
        sender=batch.settings.mail_from,
        sender_name=batch.tenant.name,
        to=to,
        subject=subject,
        text=text_part,
        html=html,
        message_id=item.message_id,
        attachments=attachments,
        reply_to=batch.tenant.email,
    )
    return None


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


# --- SMS --------------------------------------------------------------------------------------


def _send_sms(session: Session, batch: _Batch, items: list[_Item], failures: JobFailures) -> None:
    """One HTTP client, CONCURRENCY requests in flight (46elks has no batch endpoint). Each
    group's ``sending`` marks are committed (synchronously: they are the at-most-once promise)
    before any of its messages is handed over."""
    settings = batch.settings
    config = sms.Elks46Config(settings.sms_url, settings.sms_user, settings.sms_password)
    sender = sms.sender_name(settings.sms_from, batch.tenant.name)
    with sms.Elks46Client(config) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        for group in _groups(items, GROUP_SIZE):
            ready = []
            for item in group:
                delivery = item.delivery
                customer = batch.customer(delivery)
                to = customer.phone or delivery.recipient
                if not to:
                    item.outcome = PermanentFailure("the customer has no phone number")
                    continue
                text_ = messages.sms_text(batch.facts(delivery), messages.language_of(customer.language))
                report_url = f"{batch.base_url}/callbacks/sms/{delivery.callback_token}"
                item.prepared = (to, text_, report_url)
                item.shown = batch.shown(delivery)
                delivery.state = SENDING  # at most once: committed before 46elks is called
                delivery.recipient = to
                ready.append(item)
            end_transaction_before_network(session)

            def call(item: _Item) -> Sent | DeliveryError:
                to, message, report_url = item.prepared
                return _outcome(partial(client.send, sender=sender, to=to, message=message, whendelivered=report_url))

            for item, outcome in zip(ready, pool.map(call, ready), strict=True):
                item.outcome = outcome
            _record(session, batch, group, failures)


# --- e-invoice -------------------------------------------------------------------------------


def _send_einvoices(session: Session, batch: _Batch, items: list[_Item], failures: JobFailures) -> None:
    """To the access point (one client, CONCURRENCY requests in flight; it deduplicates by
    ``X-Document-Id``), or as files into the export folder."""
    settings = batch.settings
    tenant = batch.tenant
    from kvitt.documents.ubl import invoice_ubl

    client = None
    if settings.peppol_ap_url:
        client = einvoice.AccessPointClient(einvoice.AccessPointConfig(settings.peppol_ap_url, settings.peppol_ap_key))
    sender = "0007:" + tenant.org_number.replace("-", "")
    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            for group in _groups(items, GROUP_SIZE):
                ready = []
                for item in group:
                    receiver = service.peppol_id(batch.customer(item.delivery))
                    if receiver is None:
                        item.outcome = PermanentFailure("the customer has no Peppol id")
                        continue
                    try:
                        item.prepared = (receiver, invoice_ubl(session, tenant.id, item.delivery.invoice_id))
                    except KvittError as exc:
                        item.outcome = PermanentFailure(exc.message)
                        continue
                    ready.append(item)
                if client is not None:
                    commit_group(session)
                    call = partial(_to_access_point, client, sender, tenant.id)
                    for item, outcome in zip(ready, pool.map(call, ready), strict=True):
                        if isinstance(outcome, Sent):
                            outcome.data["mode"] = "access_point"
                        item.outcome = outcome
                elif settings.einvoice_dir:
                    for item in ready:
                        invoice = batch.invoice(item.delivery)
                        name = f"{tenant.org_number.replace('-', '')}-{invoice.number}-{item.delivery.id}.xml"
                        export = partial(einvoice.export_file, settings.einvoice_dir, name, item.prepared[1])
                        item.outcome = _outcome(export)
                        if isinstance(item.outcome, Sent):
                            item.outcome.data["mode"] = "file"
                else:
                    for item in ready:
                        item.outcome = PermanentFailure(
                            "no Peppol access point (KVITT_PEPPOL_AP_URL) nor export folder (KVITT_EINVOICE_DIR)"
                        )
                _record(session, batch, group, failures)
    finally:
        if client is not None:
            client.close()


def _to_access_point(
    client: einvoice.AccessPointClient, sender: str, tenant_id: int, item: _Item
) -> Sent | DeliveryError:
    receiver, ubl = item.prepared
    document_id = f"kvitt-{tenant_id}-{item.delivery.id}"
    return _outcome(partial(client.send, ubl=ubl, sender=sender, receiver=receiver, document_id=document_id))


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
        written = list(session.scalars(select(Delivery).where(Delivery.tenant_id == tenant.id, Delivery.id.in_(ids))))
        pending = [d for d in written if d.state == PENDING]
        _record_batch(session, pending, batch, _paper_placements(session, tenant, pending))
        return
    waiting = _waiting_letters(session, tenant.id)
    if not waiting:
        return
    letters, on_paper = _render(session, tenant, waiting)
    letter.write_batch(folder, [item for _, item in letters])
    _record_batch(session, [d for d, _ in letters], batch, on_paper)
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


def _render(
    session: Session, tenant: Tenant, waiting: list[Delivery]
) -> tuple[list[tuple[Delivery, letter.Letter]], dict[int, list[Any]]]:
    """The letters of the batch, and the placements printed on each (invoice id -> placements)."""
    from kvitt.documents.pdf import invoice_pdf_for_delivery

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
    on_paper: dict[int, list[Any]] = {}
    for delivery in waiting:
        invoice = invoices[delivery.invoice_id]
        customer = customers[invoice.customer_id]
        if not (customer.address_line1 and customer.postal_code and customer.city):
            service.mark_failed(session, delivery, "the customer has no postal address")
            continue
        pdf, on_paper[invoice.id] = invoice_pdf_for_delivery(session, tenant.id, invoice.id, letter=True)
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
            pdf=pdf,
        )
        rendered.append((delivery, item))
    return rendered, on_paper


def _paper_placements(session: Session, tenant: Tenant, letters: list[Delivery]) -> dict[int, list[Any]]:
    """A batch written by an earlier run that stopped before recording it: the placements its
    letters carry, read again (what fits now; the same unless a placement changed meanwhile)."""
    from kvitt.documents.data import load

    found: dict[int, list[Any]] = {}
    for delivery in letters:
        try:
            found[delivery.invoice_id] = load(session, tenant.id, delivery.invoice_id).shown
        except KvittError:
            found[delivery.invoice_id] = []
    return found


def _record_batch(session: Session, letters: list[Delivery], batch: str, on_paper: dict[int, list[Any]]) -> None:
    """The letters are with the print partner: sent, and the placements printed on them counted
    as impressions (channel ``pdf``, once per invoice and placement)."""
    for delivery in letters:
        delivery.batch = batch
    if letters:
        service.mark_sent_many(session, letters[0].tenant_id, [(d, batch, {"batch": batch}) for d in letters])
        invoices = {
            i.id: i
            for i in session.scalars(
                select(Invoice)
                .options(lazyload(Invoice.lines))
                .where(Invoice.tenant_id == letters[0].tenant_id, Invoice.id.in_({d.invoice_id for d in letters}))
            )
        }
        shown = {d.invoice_id: on_paper.get(d.invoice_id, []) for d in letters}
        engagement.record_sent(session, list(invoices.values()), shown, channel=engagement.PDF, now=utcnow())


def staff_email(session: Session, job: OutboxJob) -> None:
    """The ``delivery.staff_email`` job: a plain-text note to the tenant's staff."""
    settings = get_settings()
    payload: dict[str, Any] = job.payload
    message = email.render_message(
        sender=settings.mail_from,
        sender_name="Kvitt",
        to=str(payload["to"]),
        subject=str(payload["subject"]),
        text=str(payload["text"]),
        html=None,
        message_id=(mid := f"<kvitt.staff.{job.id}@{settings.mail_from.rpartition('@')[2] or 'kvitt.localhost'}>"),
    )
    end_transaction_before_network(session)
    try:
        with email.SmtpSession(smtp_config(settings)) as smtp:
            smtp.send(settings.mail_from, str(payload["to"]), message, mid)
    except PermanentFailure:
        return  # nobody else to tell; the job's last_error is not set, the log has it


def customer_sms(session: Session, job: OutboxJob) -> None:
    """The ``delivery.customer_sms`` job: a short text (a link to the recipient's own pages) to
    the customer's phone on file, read now: the payload names the customer, never a number.
    Through the same 46elks client as invoices; a temporary failure is retried, a permanent one
    (or no phone on file any more) ends the job, logged."""
    assert job.tenant_id is not None
    payload: dict[str, Any] = job.payload
    tenant = session.get(Tenant, job.tenant_id)
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == job.tenant_id, Customer.id == int(payload["customer_id"]))
    )
    if tenant is None or customer is None or not customer.phone:
        log.info("customer_sms_not_sent", tenant_id=job.tenant_id, reason="no phone on file")
        return
    settings = get_settings()
    config = sms.Elks46Config(settings.sms_url, settings.sms_user, settings.sms_password)
    sender = sms.sender_name(settings.sms_from, tenant.name)
    to = customer.phone
    end_transaction_before_network(session)
    try:
        with sms.Elks46Client(config) as client:
            client.send(sender=sender, to=to, message=str(payload["text"]))
    except PermanentFailure as exc:
        log.warning("customer_sms_refused", tenant_id=job.tenant_id, customer_id=customer.id, error=str(exc)[:300])
