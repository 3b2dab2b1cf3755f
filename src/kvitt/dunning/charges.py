"""Fees and interest as receivables: each charge is a debit invoice of its own.

A reminder that charges a fee or interest issues a small invoice (its own number in the
tenant's series, its own OCR) with a line per charge on the fee-income and interest-income
accounts, 0 % VAT (a reminder fee and late interest are not payment for a supply, so no VAT),
due on the reminder's new due date. Posting it is the ordinary invoice posting: 1510 against
3990 (reminder fees) and 8313 (interest). So every figure the invoices and the ledger keep
stays true without a special case: the original invoice's ``remaining`` is its own 1510,
the charge invoice's is its own, and the customer's balance is the sum of both.

A payment with the original invoice's OCR for the whole amount the reminder asks for pays the
original first; the payments feature puts the surplus on the customer's other open invoices,
oldest due first, which is where the charge invoice is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from kvitt.core.money import format_amount
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.ledger import service as ledger
from kvitt.ledger.accounts import INTEREST_INCOME, REMINDER_FEES
from kvitt.tenants.models import Tenant

CHARGE_OF = "dunning_charge_for"  # metadata key naming the invoice a charge invoice belongs to


@dataclass(frozen=True)
class Charge:
    customer_id: int
    invoice_id: int
    invoice_number: int | None
    on: date
    due_date: date
    fee: int
    fee_text: str
    interest: int
    interest_text: str


def issue_charges(session: Session, tenant: Tenant, charges: list[Charge], *, actor: str) -> list[int | None]:
    """Issue one charge invoice per charge that has something to charge; ids in order (None: nothing)."""
    chart = ledger.chart_for(tenant)
    inputs: list[InvoiceCreate] = []
    positions: list[int] = []
    for index, charge in enumerate(charges):
        lines = []
        if charge.fee > 0:
            lines.append(
                LineIn(description=charge.fee_text, unit_price=charge.fee, vat_rate=0, account=chart[REMINDER_FEES])
            )
        if charge.interest > 0:
            lines.append(
                LineIn(
                    description=charge.interest_text,
                    unit_price=charge.interest,
                    vat_rate=0,
                    account=chart[INTEREST_INCOME],
                )
            )
        if not lines:
            continue
        inputs.append(
            InvoiceCreate(
                customer=charge.customer_id,
                lines=lines,
                invoice_date=charge.on,
                due_date=charge.due_date,
                invoice_fee=False,
                notes=f"Avser faktura {charge.invoice_number}",
                metadata={CHARGE_OF: charge.invoice_id},
            )
        )
        positions.append(index)
    ids = (
        invoices.create_and_issue(session, tenant, inputs, today=inputs[0].invoice_date, actor=actor) if inputs else []
    )
    result: list[int | None] = [None] * len(charges)
    for index, invoice_id in zip(positions, ids, strict=True):
        result[index] = invoice_id
    return result


def interest_text(amount: int, start: date, end: date, rates_bp: tuple[int, ...], *, principal: int) -> str:
    rates = " / ".join(f"{Decimal(rate) / 100:.2f}".replace(".", ",") + " %" for rate in rates_bp)
    return (
        f"Dröjsmålsränta {rates} på {format_amount(principal)} {start.isoformat()}–{end.isoformat()} (räntelagen 6 §)"
    )[:500]
