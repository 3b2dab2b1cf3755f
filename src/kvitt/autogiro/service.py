"""Autogiro use cases: mandates (and, in debits.py/files.py, debits and Bankgirot's files).

Every query is scoped to the tenant. Mandate changes are published as domain events
(``autogiro.mandate.<what>``, with the customer) for webhooks, event chains and timelines.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kvitt.autogiro.models import AutogiroSettings, Credit, Debit, Mandate
from kvitt.core import events, identity
from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers import service as customers
from kvitt.tenants.models import Tenant

LIVE = ("pending", "sent", "active")


def normalise_clearing(value: str) -> str:
    """A clearing number as the 4 digits autogiro carries.

    Swedbank's 5-digit clearing numbers (8xxx-x) carry a check digit that the autogiro account
    field leaves out: the first four digits are the clearing number there.
    """
    digits = re.sub(r"[\s-]", "", value)
    if not digits.isdigit() or len(digits) not in (4, 5) or (len(digits) == 5 and digits[0] != "8"):
        raise ValidationFailed(f"not a clearing number (4 digits, or 5 for Swedbank 8xxx-x): {value}", param="clearing")
    if digits[:4] < "1000":
        raise ValidationFailed(f"not a clearing number (1000-9999): {value}", param="clearing")
    return digits[:4]


def normalise_account(value: str) -> str:
    """The account number after the clearing number: 1 to 12 digits (zero-padded in the file)."""
    digits = re.sub(r"[\s-]", "", value)
    if not digits.isdigit() or not 1 <= len(digits) <= 12 or int(digits) == 0:
        raise ValidationFailed(
            f"not an account number (1 to 12 digits after the clearing number): {value}", param="account"
        )
    return digits


def id_number_12(value: str) -> str:
    """A personal number or organisation number as the 12 digits autogiro carries."""
    try:
        return identity.personal_number(value)
    except ValueError:
        pass
    try:
        return "00" + identity.organisation_number(value).replace("-", "")
    except ValueError:
        raise ValidationFailed(f"not a personal or organisation number: {value}", param="personal_number") from None


def payer_number_for(session: Session, tenant: Tenant, customer_id: int, wanted: str | None) -> str:
    """The payer number: chosen by the issuer, else the customer number if it is 1-16 digits,
    else the customer's id. Unique among the tenant's live mandates."""
    if wanted is not None:
        number = _valid_payer_number(wanted)
    else:
        customer_no = customers.get(session, tenant, customer_id).customer_no
        is_number = customer_no.isdigit() and len(customer_no) <= 16 and int(customer_no) > 0
        number = str(int(customer_no if is_number else str(customer_id)))
    _not_taken(session, tenant, number)
    return number


def _valid_payer_number(wanted: str) -> str:
    number = wanted.strip()
    if not number.isdigit() or not 1 <= len(number) <= 16 or int(number) == 0:
        raise ValidationFailed(f"a payer number is 1 to 16 digits: {wanted}", param="payer_number")
    return str(int(number))  # the file zero-pads it: 0042 and 42 are the same payer


def _not_taken(session: Session, tenant: Tenant, number: str) -> None:
    """No live mandate holds the payer number, nor is changing to it."""
    taken = session.scalar(
        select(Mandate.id).where(
            Mandate.tenant_id == tenant.id,
            or_(Mandate.payer_number == number, Mandate.new_payer_number == number),
            Mandate.status.in_(LIVE),
        )
    )
    if taken is not None:
        raise Conflict(
            f"payer number {number} is used by mandate {taken}", param="payer_number", code="duplicate_payer_number"
        )


def publish(session: Session, mandate: Mandate, what: str, **data: Any) -> None:
    events.publish(
        session,
        mandate.tenant_id,
        [
            {
                "type": f"autogiro.mandate.{what}",
                "mandate_id": mandate.id,
                "customer_id": mandate.customer_id,
                "data": {"status": mandate.status, "payer_number": mandate.payer_number, **data},
            }
        ],
    )


def _create(
    session: Session,
    tenant: Tenant,
    customer_id: int,
    *,
    clearing: str,
    account: str,
    personal_number: str | None,
    payer_number: str | None,
    source: str,
    evidence: dict[str, Any],
) -> Mandate:
    customer = customers.get(session, tenant, customer_id)
    existing = active_or_pending_for(session, tenant, customer.id)
    if existing is not None:
        raise Conflict(
            f"customer {customer.id} already has mandate {existing.id} ({existing.status})",
            param="customer",
            code="mandate_exists",
        )
    id_number = personal_number or customer.id_number
    if not id_number:
        raise ValidationFailed(
            "a mandate needs the payer's personal or organisation number: give personal_number, "
            "or set the customer's id_number",
            param="personal_number",
        )
    mandate = Mandate(
        tenant_id=tenant.id,
        customer_id=customer.id,
        payer_number=payer_number_for(session, tenant, customer.id, payer_number),
        clearing=normalise_clearing(clearing),
        account=normalise_account(account),
        personal_number=id_number_12(id_number),
        status="pending",
        source=source,
        evidence=evidence,
        outgoing="new",
    )
    session.add(mandate)
    session.flush()
    publish(session, mandate, "created", source=source)
    _ensure_default_chain(session, tenant)
    return mandate


DEFAULT_CHAIN = "autogiro_failed_swish"


def _ensure_default_chain(session: Session, tenant: Tenant) -> None:
    """With its first mandate a tenant gets the event chain for failed debits (an invoice by email
    offering Swish or card), switched on; editable or removable like any rule, and not put back
    once the tenant has had it."""
    from kvitt.automation import service as automation

    if DEFAULT_CHAIN in automation.installed_templates(session, tenant):
        return
    earlier = session.scalar(select(Mandate.id).where(Mandate.tenant_id == tenant.id).order_by(Mandate.id).limit(1))
    newest = session.scalar(
        select(Mandate.id).where(Mandate.tenant_id == tenant.id).order_by(Mandate.id.desc()).limit(1)
    )
    if earlier == newest:  # the tenant's first mandate
        automation.install_template(session, tenant, DEFAULT_CHAIN, enabled=True)


def create_mandate(
    session: Session,
    tenant: Tenant,
    customer_id: int,
    *,
    clearing: str,
    account: str,
    payer_number: str | None = None,
    personal_number: str | None = None,
) -> Mandate:
    """A mandate the issuer already holds (signed on paper or elsewhere): pending, sent next."""
    return _create(
        session,
        tenant,
        customer_id,
        clearing=clearing,
        account=account,
        personal_number=personal_number,
        payer_number=payer_number,
        source="api",
        evidence={},
    )


def create_signed_mandate(
    session: Session,
    tenant: Tenant,
    customer_id: int,
    *,
    clearing: str,
    account: str,
    personal_number: str,
    evidence: dict[str, Any],
) -> Mandate:
    """A mandate the payer signed with BankID: pending, goes in the next mandate file.

    ``personal_number`` is the one BankID's completionData names; ``evidence`` keeps BankID's
    signature, OCSP response and completion data (JSON) as the proof of the consent.
    """
    return _create(
        session,
        tenant,
        customer_id,
        clearing=clearing,
        account=account,
        personal_number=personal_number,
        payer_number=None,
        source="bankid",
        evidence=evidence,
    )


def get(session: Session, tenant: Tenant, mandate_id: int) -> Mandate:
    mandate = session.get(Mandate, mandate_id)
    if mandate is None or mandate.tenant_id != tenant.id:
        raise NotFound(f"no mandate {mandate_id}", param="id")
    return mandate


def active_mandate_for(session: Session, tenant: Tenant, customer_id: int) -> Mandate | None:
    """The customer's active mandate (accepted by Bankgirot), if any."""
    return session.scalar(
        select(Mandate)
        .where(Mandate.tenant_id == tenant.id, Mandate.customer_id == customer_id, Mandate.status == "active")
        .order_by(Mandate.id.desc())
        .limit(1)
    )


def active_or_pending_for(session: Session, tenant: Tenant, customer_id: int) -> Mandate | None:
    return session.scalar(
        select(Mandate)
        .where(Mandate.tenant_id == tenant.id, Mandate.customer_id == customer_id, Mandate.status.in_(LIVE))
        .order_by(Mandate.id.desc())
        .limit(1)
    )


def list_page(
    session: Session,
    tenant: Tenant,
    *,
    limit: int,
    starting_after: int | None,
    customer_id: int | None = None,
    status: str | None = None,
) -> Page[Mandate]:
    return paginate(
        session,
        select(Mandate).where(Mandate.tenant_id == tenant.id),
        Mandate.id,
        limit=limit,
        starting_after=starting_after,
        equal={Mandate.customer_id: customer_id, Mandate.status: status},
    )


def change_payer_number(session: Session, tenant: Tenant, mandate_id: int, new_payer_number: str) -> Mandate:
    """Ask Bankgirot to move an active mandate to another payer number (TK05 in the next file).

    The mandate keeps its payer number until Bankgirot's advice confirms the change
    (information 05, comment 32 for the new number); meanwhile its debits are held back from
    the order files (an order under either number could miss), and move to the new number with it.
    """
    mandate = get(session, tenant, mandate_id)
    if mandate.status != "active":
        raise InvalidState(
            f"mandate {mandate.id} is {mandate.status}: only an active mandate's payer number can change",
            available_actions=[],
        )
    if mandate.new_payer_number is not None or mandate.outgoing is not None:
        raise Conflict(
            f"mandate {mandate.id} already has a change under way (to {mandate.new_payer_number})",
            param="payer_number",
            code="change_pending",
        )
    number = _valid_payer_number(new_payer_number)
    if number == mandate.payer_number:
        raise ValidationFailed(f"the mandate's payer number is {number} already", param="payer_number")
    _not_taken(session, tenant, number)
    mandate.new_payer_number, mandate.outgoing = number, "change"
    session.flush()
    publish(session, mandate, "payer_number_change_requested", new_payer_number=number)
    return mandate


def cancel(session: Session, tenant: Tenant, mandate_id: int, *, now: datetime | None = None) -> Mandate:
    """Cancel a mandate: one Bankgirot knows of gets a TK03 in the next file; a pending one is dropped.
    A change of payer number not yet sent is dropped with it; one sent must be answered first."""
    mandate = get(session, tenant, mandate_id)
    if mandate.status not in LIVE:
        raise InvalidState(f"mandate {mandate.id} is {mandate.status}", available_actions=[])
    if mandate.new_payer_number is not None and mandate.outgoing != "change":
        raise Conflict(
            f"mandate {mandate.id} is changing its payer number to {mandate.new_payer_number} at Bankgirot: "
            "cancel it when Bankgirot's advice has answered",
            code="change_pending",
        )
    mandate.new_payer_number = None
    mandate.outgoing = "cancel" if mandate.status in ("sent", "active") else None
    mandate.status = "cancelled"
    mandate.cancelled_at = now or utcnow()
    cancel_pending_debits(session, tenant, mandate.id)
    session.flush()
    publish(session, mandate, "cancelled", by="payee")
    return mandate


def cancel_pending_debits(session: Session, tenant: Tenant, mandate_id: int) -> None:
    """Debits of the mandate not yet ordered will not be: the invoices are paid another way. Credits
    not yet sent are dropped too (the money stays the customer's credit balance)."""
    for debit in session.scalars(
        select(Debit).where(Debit.tenant_id == tenant.id, Debit.mandate_id == mandate_id, Debit.status == "pending")
    ):
        debit.status, debit.result_text = "cancelled", "the mandate ended"
    dropped = list(
        session.scalars(
            select(Credit).where(
                Credit.tenant_id == tenant.id, Credit.mandate_id == mandate_id, Credit.status == "pending"
            )
        )
    )
    for credit in dropped:
        credit.status, credit.result_text = "cancelled", "the mandate ended before the credit was sent"
    if dropped:
        events.publish(
            session,
            tenant.id,
            [
                {
                    "type": "autogiro.credit.cancelled",
                    "customer_id": c.customer_id,
                    "data": {"credit": c.id, "amount": c.amount, "payer_number": c.payer_number, "status": c.status},
                }
                for c in dropped
            ],
        )


# --- settings ------------------------------------------------------------------------------------


def settings_of(session: Session, tenant: Tenant) -> AutogiroSettings:
    """The tenant's autogiro settings; defaults (not stored) when it has none yet."""
    row = session.get(AutogiroSettings, tenant.id)
    return row if row is not None else AutogiroSettings(tenant_id=tenant.id, banking_days_before=1)


def update_settings(
    session: Session, tenant: Tenant, *, bgc_customer_number: str | None = None, banking_days_before: int | None = None
) -> AutogiroSettings:
    row = session.get(AutogiroSettings, tenant.id)
    if row is None:
        row = AutogiroSettings(tenant_id=tenant.id, banking_days_before=1)
        session.add(row)
    if bgc_customer_number is not None:
        row.bgc_customer_number = bgc_customer_number.zfill(6)
    if banking_days_before is not None:
        if banking_days_before < 1:
            raise ValidationFailed(
                "Bankgirot needs a payment order at least one banking day before", param="banking_days_before"
            )
        row.banking_days_before = banking_days_before
    session.flush()
    return row
