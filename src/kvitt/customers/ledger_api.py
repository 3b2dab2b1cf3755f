"""``/api/v1/customers/{id}/ledger``: a customer's account statement, read from the ledger."""

from __future__ import annotations

from datetime import date as Day  # CustomerLedgerEntry has a field named date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, TenantRoute, request_session, request_tenant
from kvitt.customers import service as customers
from kvitt.ledger import queries
from kvitt.ledger import service as ledger
from kvitt.ledger.accounts import CUSTOMER_ADVANCES, RECEIVABLES
from kvitt.ledger.api import check_period
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["ledger"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]


class CustomerLedgerEntry(BaseModel):
    date: Day
    entry: int | None = Field(description="the journal entry; null on the opening-balance row")
    kind: str = Field(description="invoice, credit_note, payment, write_off, ... or opening_balance")
    text: str
    invoice: int | None = Field(description="the invoice or credit note the entry belongs to")
    amount: int = Field(description="change of the receivable in öre; positive: the customer owes more")
    balance: int = Field(description="the receivable after this entry")
    credit_amount: int = Field(description="change of the customer's credit (advances, overpayments) in öre")
    credit_balance: int = Field(description="the customer's credit after this entry")


class CustomerLedger(BaseModel):
    object: Literal["customer_ledger"] = "customer_ledger"
    customer: int
    entries: list[CustomerLedgerEntry]
    balance: int = Field(description="what the customer owes: the sum of their receivables postings (1510)")
    credit_balance: int = Field(description="the customer's credit: minus the sum of their advances postings (2420)")
    net_balance: int = Field(description="balance - credit_balance")


@router.get("/customers/{customer_id}/ledger", response_model=CustomerLedger)
def customer_ledger(
    customer_id: PathId,
    session: SessionDep,
    tenant: TenantDep,
    date_from: Annotated[
        Day | None, Query(alias="from", description="first day (YYYY-MM-DD); earlier entries make the opening row")
    ] = None,
    date_to: Annotated[Day | None, Query(alias="to", description="last day (YYYY-MM-DD), included")] = None,
) -> CustomerLedger:
    """The customer's account statement: every entry on their receivable and credit, with running balances.

    The balances at the end are those after the last entry shown (as of ``to`` when given).
    """
    check_period(date_from, date_to)
    customer = customers.get(session, tenant, customer_id)
    chart = ledger.chart_for(tenant)
    accounts = {"receivables": chart[RECEIVABLES], "advances": chart[CUSTOMER_ADVANCES]}
    entries: list[CustomerLedgerEntry] = []
    balance = credit = 0
    if date_from is not None:
        receivable, advances = queries.customer_totals_before(
            session, tenant.id, customer.id, before=date_from, **accounts
        )
        balance, credit = receivable, -advances
        entries.append(
            CustomerLedgerEntry(
                date=date_from,
                entry=None,
                kind="opening_balance",
                text="Ingående balans",
                invoice=None,
                amount=balance,
                balance=balance,
                credit_amount=credit,
                credit_balance=credit,
            )
        )
    for row in queries.customer_postings(
        session, tenant.id, customer.id, date_from=date_from, date_to=date_to, **accounts
    ):
        balance += row.receivable
        credit -= row.advances
        entries.append(
            CustomerLedgerEntry(
                date=row.date,
                entry=row.entry_id,
                kind=row.kind,
                text=row.text,
                invoice=row.invoice_id,
                amount=row.receivable,
                balance=balance,
                credit_amount=-row.advances,
                credit_balance=credit,
            )
        )
    return CustomerLedger(
        customer=customer.id, entries=entries, balance=balance, credit_balance=credit, net_balance=balance - credit
    )
