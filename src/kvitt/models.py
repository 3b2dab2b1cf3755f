"""Every table, imported in one place for Alembic and for creating test databases."""

from kvitt.admin.models import AuditEntry, StaffUser
from kvitt.autogiro.models import AutogiroFile, AutogiroSettings, Credit, Debit, Mandate
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.bankid.models import SignOrder
from kvitt.billing.models import BilledPeriod, BillingRun
from kvitt.billing_files.models import BillingFile, InvoiceRef
from kvitt.catalog.models import Item
from kvitt.checkout.models import PaymentRequest, Refund
from kvitt.core.db import Base
from kvitt.core.idempotency import IdempotencyRecord
from kvitt.core.outbox import OutboxJob
from kvitt.customers.models import Customer
from kvitt.delivery.models import Delivery, DeliverySettings
from kvitt.dunning.models import (
    CollectionCase,
    CollectionEvent,
    DunningPause,
    DunningPolicy,
    DunningSettings,
    InstalmentPlan,
    PaymentExtension,
    ReferenceRate,
    Reminder,
)
from kvitt.engagement.models import EngagementEvent, Placement, SurveyAnswer
from kvitt.invoices.models import Invoice, InvoiceEvent, InvoiceLine, NumberSeries
from kvitt.ledger.models import JournalEntry, JournalLine
from kvitt.payments.models import Allocation, Deviation, Payment, PaymentFile
from kvitt.reports.models import DailyFact, DirtyDay, ReceivableFlow
from kvitt.segments.models import Segment
from kvitt.subscriptions.models import PeriodInfo, Subscription, SubscriptionLine, SubscriptionPause
from kvitt.tenants.models import ApiKey, Tenant, TenantLogo
from kvitt.testclock.models import TestClock
from kvitt.web.models import WebInvoiceVisit
from kvitt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "Allocation",
    "ApiKey",
    "AuditEntry",
    "AutogiroFile",
    "AutogiroSettings",
    "AutomationFiring",
    "AutomationRule",
    "Base",
    "BilledPeriod",
    "BillingFile",
    "BillingRun",
    "CollectionCase",
    "CollectionEvent",
    "Credit",
    "Customer",
    "DailyFact",
    "Debit",
    "Delivery",
    "DeliverySettings",
    "Deviation",
    "DirtyDay",
    "DunningPause",
    "DunningPolicy",
    "DunningSettings",
    "EngagementEvent",
    "IdempotencyRecord",
    "InstalmentPlan",
    "Invoice",
    "InvoiceEvent",
    "InvoiceLine",
    "InvoiceRef",
    "Item",
    "JournalEntry",
    "JournalLine",
    "Mandate",
    "NumberSeries",
    "OutboxJob",
    "Payment",
    "PaymentExtension",
    "PaymentFile",
    "PaymentRequest",
    "PeriodInfo",
    "Placement",
    "ReceivableFlow",
    "ReferenceRate",
    "Refund",
    "Reminder",
    "Segment",
    "SignOrder",
    "StaffUser",
    "Subscription",
    "SubscriptionLine",
    "SubscriptionPause",
    "SurveyAnswer",
    "Tenant",
    "TenantLogo",
    "TestClock",
    "WebInvoiceVisit",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
