"""The invoice as a Peppol BIS Billing 3.0 e-invoice (UBL 2.1 Invoice or CreditNote).

Reads the issued invoice and hands plain values to the pure writer ``kvitt.formats.peppol``.
Kvitt keeps a credit note's amounts negative; a UBL CreditNote carries them positive (its type
code says it is a credit), so they are negated here.

The buyer's Peppol address: the customer attribute ``peppol_id`` (``"<scheme>:<id>"``, e.g.
``"0007:5560160680"``) when set, else a company's organisation number under scheme 0007. A
private person without ``peppol_id`` cannot receive a Peppol e-invoice: that is refused.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from kvitt.core.errors import ValidationFailed
from kvitt.core.money import milli_to_quantity
from kvitt.customers import service as customers
from kvitt.documents.data import InvoiceDocument, load
from kvitt.formats import peppol
from kvitt.tenants.models import Tenant

MEDIA_TYPE = "application/xml"


def invoice_ubl(session: Session, tenant_id: int, invoice_id: int) -> bytes:
    """The Peppol BIS Billing 3.0 document of an issued invoice (Invoice) or credit note (CreditNote)."""
    document = load(session, tenant_id, invoice_id)
    customer = customers.get(session, document.tenant, document.invoice.customer_id)
    peppol_id = (customer.attributes or {}).get("peppol_id")
    try:
        return peppol.write(to_peppol(document, peppol_id=peppol_id))
    except peppol.PeppolError as exc:
        raise ValidationFailed(f"invoice {invoice_id} cannot be an e-invoice: {exc}", param="invoice") from exc


def to_peppol(document: InvoiceDocument, *, peppol_id: str | None = None) -> peppol.Document:
    invoice, tenant = document.invoice, document.tenant
    assert invoice.number is not None and invoice.invoice_date is not None  # issued (load refuses drafts)
    sign = -1 if invoice.kind == "credit_note" else 1
    buyer = invoice.buyer
    lines = [
        peppol.Line(
            description=line.description,
            quantity=milli_to_quantity(line.quantity_milli) or Decimal(0),
            unit_price_ore=sign * line.unit_price,
            net_ore=sign * line.net,
            vat_rate=line.vat_rate,
            unit=line.unit,
            article_no=line.article_no,
        )
        for line in invoice.lines
    ]
    groups = [peppol.VatGroup(g["rate"], sign * g["net"], sign * g["vat"]) for g in invoice.vat_summary]
    credited = document.credited
    return peppol.Document(
        kind="credit_note" if invoice.kind == "credit_note" else "invoice",
        number=str(invoice.number),
        issue_date=invoice.invoice_date,
        currency=invoice.currency,
        buyer_reference=str(buyer.get("customer_no") or invoice.customer_id),
        seller=_seller(tenant),
        buyer=_buyer(buyer, peppol_id, invoice.id),
        lines=lines,
        vat_groups=groups,
        rounding_ore=sign * invoice.rounding,
        due_date=invoice.due_date if invoice.kind == "invoice" else None,
        payment=peppol.PaymentDetails(reference=invoice.ocr, bankgiro=tenant.bankgiro, plusgiro=tenant.plusgiro)
        if invoice.kind == "invoice"
        else None,
        notes=[invoice.notes] if invoice.notes else [],
        payment_terms=None
        if invoice.kind == "invoice"
        else f"Kreditfaktura: krediterar faktura {credited.number if credited else ''}, inget att betala",
        credited_number=str(credited.number) if credited is not None else None,
        credited_issue_date=credited.invoice_date if credited is not None else None,
    )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _seller(tenant: Tenant) -> peppol.Party:
    org = _digits(tenant.org_number)
    return peppol.Party(
        name=tenant.name,
        endpoint_scheme=peppol.SWEDISH_ORG_SCHEME,
        endpoint_id=org,
        address=peppol.Address(
            country=tenant.country,
            street=tenant.address_line1,
            additional_street=tenant.address_line2,
            city=tenant.city,
            postal_code=tenant.postal_code,
        ),
        legal_id=org,
        legal_id_scheme=peppol.SWEDISH_ORG_SCHEME,
        vat_id=tenant.vat_number,
        f_skatt=tenant.f_skatt,
        email=tenant.email,
    )


def _buyer(buyer: dict[str, object], peppol_id: object, invoice_id: int) -> peppol.Party:
    org = _digits(str(buyer.get("id_number") or "")) if buyer.get("type") == "company" else ""
    if isinstance(peppol_id, str) and ":" in peppol_id:
        scheme, endpoint = peppol_id.split(":", 1)
    elif org:
        scheme, endpoint = peppol.SWEDISH_ORG_SCHEME, org[-10:]
    else:
        raise ValidationFailed(
            f"invoice {invoice_id}: the buyer has no Peppol address (a company's organisation number or the "
            "customer attribute peppol_id, e.g. '0007:5560160680')",
            param="invoice",
        )

    def text(key: str) -> str | None:
        value = buyer.get(key)
        return str(value) if value else None

    return peppol.Party(
        name=str(buyer.get("name") or ""),
        endpoint_scheme=scheme,
        endpoint_id=endpoint,
        address=peppol.Address(
            country=str(buyer.get("country") or "SE"),
            street=text("address_line1"),
            additional_street=text("address_line2"),
            city=text("city"),
            postal_code=text("postal_code"),
        ),
        legal_id=org[-10:] or None,
        legal_id_scheme=peppol.SWEDISH_ORG_SCHEME if org else None,
        email=text("email"),
    )
