"""The journal entries an invoice's life produces (BAS accounts via the tenant's chart)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from kvitt.invoices.models import Invoice
from kvitt.ledger.accounts import BAD_DEBT, INVOICE_FEES, RECEIVABLES, ROUNDING, ChartOfAccounts
from kvitt.ledger.journal import EntryDraft


class PricedLine(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def account(self) -> str | None: ...
    @property
    def vat_rate(self) -> int: ...
    @property
    def net(self) -> int: ...


class Document(Protocol):
    """What posting needs of an invoice or credit note (an ``Invoice`` row, or a batch's values)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def number(self) -> int | None: ...
    @property
    def invoice_date(self) -> date | None: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def rounding(self) -> int: ...
    @property
    def vat_summary(self) -> list[dict[str, int]]: ...
    @property
    def lines(self) -> Sequence[PricedLine]: ...


def revenue_account(chart: ChartOfAccounts, line: PricedLine) -> str:
    """The line's own account, else the invoice-fee account or the sales account of its rate."""
    return line.account or (chart[INVOICE_FEES] if line.kind == "fee" else chart.sales(line.vat_rate))


def document_entry(chart: ChartOfAccounts, doc: Document, *, receivable_of: int) -> EntryDraft:
    """An invoice (or, with negative amounts, a credit note): receivable against revenue and VAT.

    ``receivable_of`` is the invoice whose receivable moves: the document itself for an
    invoice, the credited invoice for a credit note.
    """
    if doc.invoice_date is None:
        raise ValueError("a document is posted when it is issued, on its invoice date")
    title = "Kreditfaktura" if doc.kind == "credit_note" else "Faktura"
    entry = EntryDraft(
        date=doc.invoice_date,
        kind=doc.kind,
        text=f"{title} {doc.number}",
        invoice_id=doc.id,
    )
    entry.add(chart[RECEIVABLES], doc.total, customer_id=doc.customer_id, invoice_id=receivable_of)
    revenue: dict[str, int] = defaultdict(int)
    for line in doc.lines:
        revenue[revenue_account(chart, line)] += line.net
    for account, net in sorted(revenue.items()):
        entry.add(account, -net)
    for group in doc.vat_summary:
        if group["vat"]:
            entry.add(chart.output_vat(group["rate"]), -group["vat"])
    entry.add(chart[ROUNDING], -doc.rounding)
    return entry


def write_off_entry(chart: ChartOfAccounts, invoice: Invoice, amount: int, on: date) -> EntryDraft:
    # Only the receivable is written off here; reclaiming the output VAT on a confirmed bad
    # debt (ML 2023:200, 15 kap.) is a VAT-return adjustment finance makes with evidence.
    entry = EntryDraft(on, "write_off", f"Avskrivning faktura {invoice.number}", invoice.id)
    entry.add(chart[BAD_DEBT], amount)
    entry.add(chart[RECEIVABLES], -amount, customer_id=invoice.customer_id, invoice_id=invoice.id)
    return entry
