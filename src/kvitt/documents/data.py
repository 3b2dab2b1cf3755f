"""What a document of an invoice is made from, read in the caller's transaction (read only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import structlog
from sqlalchemy.orm import Session

from kvitt.autogiro import debits as autogiro
from kvitt.core import clock
from kvitt.core.config import get_settings, web_base_url
from kvitt.core.db import utcnow
from kvitt.core.errors import InvalidState, NotFound
from kvitt.customers.models import Customer
from kvitt.engagement import service as engagement
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.tenants import branding
from kvitt.tenants.models import Tenant


@dataclass(frozen=True)
class InvoiceDocument:
    invoice: Invoice
    tenant: Tenant
    # A credit note: the invoice it credits (its number and date are referenced).
    credited: Invoice | None
    # The recipient's web invoice, ``{public base url}/i/<token>``.
    web_url: str
    # The day autogiro debits the invoice ("Dras via autogiro <date>"); None: the payer pays.
    autogiro_on: date | None = None
    # Offers and information for the recipient on paper (kvitt.engagement, channel ``pdf``).
    placements: list[dict[str, str]] = field(default_factory=list)
    # The same placements as engagement chose them: counted as impressions when a PDF made for
    # delivery (a printed letter, an email's attachment) is handed over, never on a download.
    shown: list[engagement.Shown] = field(default_factory=list)
    # The tenant's logo (PNG or JPEG, checked when it was uploaded: tenants.branding).
    logo: bytes | None = None


log = structlog.get_logger("kvitt.documents")


def load(session: Session, tenant_id: int, invoice_id: int, *, base_url: str | None = None) -> InvoiceDocument:
    """The issued invoice or credit note ``invoice_id`` of the tenant; a draft has no documents."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}", param="tenant")
    invoice = invoices.get(session, tenant, invoice_id)
    if invoice.state == states.DRAFT:
        raise InvalidState(
            f"invoice {invoice_id} is a draft: it has no number, OCR or due date yet, so it has no PDF or "
            "e-invoice; issue it first",
            available_actions=states.available_actions(invoice.kind, invoice.state),
        )
    credited = None
    if invoice.credited_invoice_id is not None:
        credited = invoices.get(session, tenant, invoice.credited_invoice_id)
    base = (base_url or web_base_url(get_settings())).rstrip("/")
    autogiro_on = autogiro.debit_date(session, tenant, invoice, today=clock.today())
    shown = _placements(session, tenant, invoice)
    logo = branding.logo_of(session, tenant.id) if tenant.logo_sha256 else None
    return InvoiceDocument(
        invoice,
        tenant,
        credited,
        f"{base}/i/{invoice.token}",
        autogiro_on,
        _on_paper(shown, invoice, base),
        shown,
        logo.data if logo is not None else None,
    )


def _placements(session: Session, tenant: Tenant, invoice: Invoice) -> list[engagement.Shown]:
    """The placements for the PDF (not on credit notes, no surveys on paper). Read only; a
    failure leaves the PDF without them."""
    if invoice.kind != "invoice":
        return []
    try:
        customer = session.get(Customer, invoice.customer_id)
        if customer is None or customer.tenant_id != tenant.id:
            return []
        lang = customer.language if customer.language in ("sv", "en") else "sv"
        shown = engagement.fitting(session, tenant, invoice, customer, channel="pdf", lang=lang, now=utcnow())
    except Exception as exc:
        # May swallow any error of the engagement feature (a rule, a placement): the PDF goes
        # without, and the log says why (as the web invoice and the email do).
        log.warning("engagement_not_on_pdf", invoice_id=invoice.id, error=str(exc)[:300])
        return []
    return [item for item in shown if item.kind != "survey"]


def _on_paper(shown: list[engagement.Shown], invoice: Invoice, base: str) -> list[dict[str, str]]:
    """Title, text and the offer's address through the click redirect."""
    return [
        {
            "title": item.title,
            "text": item.text,
            "link": f"{base}/e/{engagement.click_token(invoice.token, item.id, engagement.PDF)}"
            if item.kind == "offer"
            else "",
            "cta": item.cta or item.title,
        }
        for item in shown
    ]
