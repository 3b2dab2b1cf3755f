"""Signing an autogiro mandate with BankID: start a sign order, collect it, cancel it.

The network calls to BankID are made outside any database transaction (a slow BankID never holds
the write lock); each step around them is a short transaction of its own:

1. ``start``: check the clearing and account numbers and that the customer has no mandate yet
   (read), ``sign`` at BankID, then store the order (write).
2. ``poll``: claim the collect (a conditional UPDATE: at most one collect per order every
   ``COLLECT_EVERY``, however many pages and processes ask), ``collect`` at BankID, then store
   the answer. On ``complete`` the mandate is made, ``pending``, through
   ``kvitt.autogiro.service.create_signed_mandate`` with the personal number of BankID's
   ``completionData`` (never one the payer typed) and BankID's signature, OCSP response and
   completion data as the evidence, once ``kvitt.bankid.verify`` has checked them (a valid
   personal number, the payer's when the customer record names one; a signature document whose
   signed data is this mandate's text and data; an OCSP response). An order that fails the
   checks fails (``error`` the check's code) and makes no mandate.
3. ``cancel``: ``cancel`` at BankID, then mark the order cancelled.

Every query is scoped to the tenant of the invoice the web token found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kvitt.autogiro import service as autogiro
from kvitt.bankid import verify
from kvitt.bankid.client import BankIDClient, BankIDError, Collected, StartedOrder
from kvitt.bankid.models import SignOrder
from kvitt.core.db import Database
from kvitt.core.errors import Conflict, KvittError, NotFound
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant

COLLECT_EVERY = timedelta(seconds=2)
# collect's answers for an order BankID does not know (any more): the order has ended.
GONE = frozenset({"invalidParameters", "notFound"})


@dataclass(frozen=True)
class Prepared:
    clearing: str
    account: str
    text: str
    signed_data: dict[str, Any]
    personal_number: str | None = None  # the customer's, when their record names a personal number


def mandate_text(tenant: Tenant, customer: Customer, clearing: str, account: str, lang: str) -> str:
    """What the payer reads in the BankID app and signs (simpleMarkdownV1)."""
    giro = f", bankgiro {tenant.bankgiro}" if tenant.bankgiro else ""
    if lang == "en":
        return (
            "# Autogiro mandate\n"
            f"I allow **{tenant.name}** ({tenant.org_number}{giro}) to collect payments of my invoices "
            f"from my account **{clearing}-{account}** by Autogiro.\n\n"
            f"Customer number: {customer.customer_no}\n\n"
            "The mandate applies until further notice under Bankgirot's terms for Autogiro; I may cancel it "
            f"with {tenant.name} or my bank."
        )
    return (
        "# Medgivande till Autogiro\n"
        f"Jag medger att **{tenant.name}** ({tenant.org_number}{giro}) får ta betalt för mina fakturor "
        f"från mitt konto **{clearing}-{account}** via Autogiro.\n\n"
        f"Kundnummer: {customer.customer_no}\n\n"
        "Medgivandet gäller tills vidare enligt Bankgirots villkor för Autogiro; jag kan återkalla det hos "
        f"{tenant.name} eller min bank."
    )


def prepare(session: Session, tenant: Tenant, invoice: Invoice, clearing: str, account: str, lang: str) -> Prepared:
    """Checks before BankID is asked: the numbers (ValidationFailed naming ``clearing`` or
    ``account``), an invoice with a customer, and no live mandate for them (Conflict)."""
    customer = _customer_of(session, tenant, invoice)
    clearing_digits = autogiro.normalise_clearing(clearing)
    account_digits = autogiro.normalise_account(account)
    existing = autogiro.active_or_pending_for(session, tenant, customer.id)
    if existing is not None:
        raise Conflict(f"customer already has mandate {existing.id}", param="customer", code="mandate_exists")
    signed = {
        "purpose": "autogiro_mandate",
        "tenant": tenant.org_number,
        "customer_no": customer.customer_no,
        "clearing": clearing_digits,
        "account": account_digits,
        "invoice": invoice.number,
    }
    text = mandate_text(tenant, customer, clearing_digits, account_digits, lang)
    payer = verify.as_personal_number(customer.id_number)
    return Prepared(clearing_digits, account_digits, text, signed, payer)


def _customer_of(session: Session, tenant: Tenant, invoice: Invoice) -> Customer:
    customer = None
    if invoice.customer_id is not None:
        customer = session.scalar(
            select(Customer).where(Customer.tenant_id == tenant.id, Customer.id == invoice.customer_id)
        )
    if customer is None:
        raise NotFound("the invoice has no customer to sign a mandate for", param="invoice")
    return customer


def record_started(
    session: Session, tenant: Tenant, invoice: Invoice, prepared: Prepared, started: StartedOrder, now: datetime
) -> SignOrder:
    order = SignOrder(
        tenant_id=tenant.id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        order_ref=started.order_ref,
        clearing=prepared.clearing,
        account=prepared.account,
        visible_text=prepared.text,
        signed_data=prepared.signed_data,
        auto_start_token=started.auto_start_token,
        qr_start_token=started.qr_start_token,
        qr_start_secret=started.qr_start_secret,
        status="pending",
        started_at=now,
    )
    session.add(order)
    session.flush()
    return order


def start(
    database: Database,
    client: BankIDClient,
    tenant_id: int,
    invoice_id: int,
    form: dict[str, str],
    *,
    ip: str,
    lang: str,
    now: datetime,
) -> int:
    """Start a sign order for the invoice's customer; the new order's id. Raises KvittError for
    bad numbers or an existing mandate, BankIDError when BankID refuses or cannot be reached."""
    with database.read() as session:
        tenant, invoice = _tenant_and_invoice(session, tenant_id, invoice_id)
        prepared = prepare(session, tenant, invoice, form.get("clearing", ""), form.get("account", ""), lang)
    # The customer's own personal number, when known, is required of the signer: BankID lets no
    # one else sign (and the completion is checked against it again).
    started = client.sign(
        ip,
        prepared.text,
        user_non_visible_data=signed_json(prepared.signed_data),
        markdown=True,
        personal_number=prepared.personal_number,
    )
    with database.transaction() as session:
        tenant, invoice = _tenant_and_invoice(session, tenant_id, invoice_id)
        return record_started(session, tenant, invoice, prepared, started, now).id


def signed_json(signed_data: dict[str, Any]) -> str:
    """The mandate data as sent in ``userNonVisibleData`` (and found again in the signature)."""
    return json.dumps(signed_data, sort_keys=True)


def _tenant_and_invoice(session: Session, tenant_id: int, invoice_id: int) -> tuple[Tenant, Invoice]:
    tenant = session.get(Tenant, tenant_id)
    invoice = session.scalar(select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id))
    if tenant is None or invoice is None:
        raise NotFound("no such invoice", param="invoice")
    return tenant, invoice


def find(session: Session, tenant_id: int, invoice_id: int, order_id: int) -> SignOrder | None:
    """The invoice's order (None for another invoice's or tenant's)."""
    return session.scalar(
        select(SignOrder).where(
            SignOrder.tenant_id == tenant_id, SignOrder.invoice_id == invoice_id, SignOrder.id == order_id
        )
    )


def _collect_due(order: SignOrder, now: datetime) -> bool:
    return order.status == "pending" and (order.last_collect_at is None or order.last_collect_at <= now - COLLECT_EVERY)


def claim_collect(session: Session, order: SignOrder, now: datetime) -> bool:
    """True for the one caller that may collect now (none had in the last ``COLLECT_EVERY``)."""
    result = session.execute(
        update(SignOrder)
        .where(
            SignOrder.tenant_id == order.tenant_id,
            SignOrder.id == order.id,
            SignOrder.status == "pending",
            or_(SignOrder.last_collect_at.is_(None), SignOrder.last_collect_at <= now - COLLECT_EVERY),
        )
        .values(last_collect_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def record_collected(session: Session, tenant: Tenant, order: SignOrder, collected: Collected, now: datetime) -> None:
    if order.status != "pending":
        return
    if collected.status == "pending":
        order.hint_code = collected.hint_code
    elif collected.status == "complete" and _personal_number(collected.completion_data):
        _complete(session, tenant, order, collected.completion_data or {}, now)
    else:
        _finish(order, "failed", now, hint_code=collected.hint_code)


def _complete(session: Session, tenant: Tenant, order: SignOrder, data: dict[str, Any], now: datetime) -> None:
    customer = session.scalar(select(Customer).where(Customer.tenant_id == tenant.id, Customer.id == order.customer_id))
    try:
        verified = verify.verify_completion(
            data,
            visible_text=order.visible_text,
            non_visible_data=signed_json(order.signed_data),
            payer_id_number=customer.id_number if customer is not None else None,
        )
    except verify.NotVerified as exc:
        _finish(order, "failed", now, error=exc.code)
        return
    evidence = {
        "method": "bankid",
        "order_ref": order.order_ref,
        "signed_at": now.isoformat(),
        "user_visible_data": order.visible_text,
        "user_non_visible_data": order.signed_data,
        "signature": data.get("signature"),
        "ocsp_response": data.get("ocspResponse"),
        "completion_data": {k: v for k, v in data.items() if k not in ("signature", "ocspResponse")},
        # What Kvitt checked (kvitt.bankid.verify); the XML-DSig value and the OCSP response's own
        # signature are not verified against BankID's certificates.
        "verified": {
            "personal_number": verified.personal_number,
            "signature_covers_mandate": True,
            "ocsp_response_present": True,
            "xmldsig_value_verified": False,
        },
    }
    try:
        with session.begin_nested():
            mandate = autogiro.create_signed_mandate(
                session,
                tenant,
                order.customer_id,
                clearing=order.clearing,
                account=order.account,
                personal_number=verified.personal_number,
                evidence=evidence,
            )
    except KvittError as exc:
        _finish(order, "failed", now, error=exc.code)
        return
    order.mandate_id = mandate.id
    _finish(order, "complete", now)


def _personal_number(data: dict[str, Any] | None) -> str:
    """The signer's personal number in BankID's completionData ("" when it is missing)."""
    user = (data or {}).get("user")
    return str(user.get("personalNumber") or "") if isinstance(user, dict) else ""


def _finish(
    order: SignOrder, status: str, now: datetime, *, hint_code: str | None = None, error: str | None = None
) -> None:
    order.status = status
    order.hint_code = hint_code
    order.error = error
    order.finished_at = now
    order.qr_start_secret = None


def poll(database: Database, client: BankIDClient, tenant_id: int, order_id: int, now: datetime) -> None:
    """Collect the order if it is due (every ``COLLECT_EVERY`` at most) and store the answer.
    An order BankID does not know any more fails (error ``invalidParameters``); any other
    BankIDError from collect is left to the caller (the order stays pending, asked again later)."""
    with database.read() as session:  # most views come between two collects: no write for them
        seen = session.scalar(select(SignOrder).where(SignOrder.tenant_id == tenant_id, SignOrder.id == order_id))
        if seen is None or not _collect_due(seen, now):
            return
    with database.transaction() as session:
        order = session.scalar(select(SignOrder).where(SignOrder.tenant_id == tenant_id, SignOrder.id == order_id))
        if order is None or not claim_collect(session, order, now):
            return
        order_ref = order.order_ref
    gone: str | None = None
    try:
        collected = client.collect(order_ref)
    except BankIDError as exc:
        if exc.error_code not in GONE:
            raise
        # BankID no longer knows the order (ended elsewhere, or long forgotten): it has failed.
        collected = Collected(order_ref, "failed", None, None)
        gone = exc.error_code
    with database.transaction() as session:
        order = session.scalar(select(SignOrder).where(SignOrder.tenant_id == tenant_id, SignOrder.id == order_id))
        tenant = session.get(Tenant, tenant_id)
        if order is not None and tenant is not None:
            record_collected(session, tenant, order, collected, now)
            if gone and order.status == "failed":
                order.error = gone


def cancel(database: Database, client: BankIDClient, tenant_id: int, order_id: int, now: datetime) -> None:
    """Cancel a pending order at BankID and here (an order BankID no longer knows is cancelled here all the same)."""
    with database.read() as session:
        order = session.scalar(select(SignOrder).where(SignOrder.tenant_id == tenant_id, SignOrder.id == order_id))
        if order is None or order.status != "pending":
            return
        order_ref = order.order_ref
    try:
        client.cancel(order_ref)
    except BankIDError as exc:
        if exc.error_code != "invalidParameters":
            raise
    with database.transaction() as session:
        order = session.scalar(select(SignOrder).where(SignOrder.tenant_id == tenant_id, SignOrder.id == order_id))
        if order is not None and order.status == "pending":
            _finish(order, "cancelled", now, hint_code="userCancel")
