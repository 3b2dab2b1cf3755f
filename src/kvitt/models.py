"""Every table, imported in one place for Alembic and for creating test databases."""

from kvitt.catalog.models import Item
from kvitt.core.db import Base
from kvitt.core.idempotency import IdempotencyRecord
from kvitt.core.outbox import OutboxJob
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice, InvoiceEvent, InvoiceLine, NumberSeries
from kvitt.ledger.models import JournalEntry, JournalLine
from kvitt.payments.models import Allocation, Deviation, Payment, PaymentFile
from kvitt.tenants.models import ApiKey, Tenant
from kvitt.web.models import WebInvoiceVisit

__all__ = [
    "Allocation",
    "ApiKey",
    "Base",
    "Customer",
    "Deviation",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceEvent",
    "InvoiceLine",
    "Item",
    "JournalEntry",
    "JournalLine",
    "NumberSeries",
    "OutboxJob",
    "Payment",
    "PaymentFile",
    "Tenant",
    "WebInvoiceVisit",
]
