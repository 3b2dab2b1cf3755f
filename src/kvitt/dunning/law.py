"""The Swedish law on fees and late interest, as dunning uses it: ``kvitt.core.law`` (kept in core
since tenants refuse a reminder fee above the cap by it too)."""

from __future__ import annotations

from kvitt.core.law import (
    B2B_COMPENSATION_LAW,
    B2B_LATE_PAYMENT_COMPENSATION,
    COLLECTION_FEE_CAP,
    COLLECTION_FEE_LAW,
    INSTALMENT_FEE_LAW,
    INSTALMENT_PLAN_FEE_CAP,
    LATE_INTEREST_LAW,
    LATE_INTEREST_MARGIN_BP,
    REMINDER_FEE_CAP,
    REMINDER_FEE_LAW,
    CollectionFee,
    FeeAboveCap,
    check_collection_fee,
    check_instalment_fee,
    check_reminder_fee,
    collection_fee_due,
    reminder_fee_due,
)

__all__ = [
    "B2B_COMPENSATION_LAW",
    "B2B_LATE_PAYMENT_COMPENSATION",
    "COLLECTION_FEE_CAP",
    "COLLECTION_FEE_LAW",
    "INSTALMENT_FEE_LAW",
    "INSTALMENT_PLAN_FEE_CAP",
    "LATE_INTEREST_LAW",
    "LATE_INTEREST_MARGIN_BP",
    "REMINDER_FEE_CAP",
    "REMINDER_FEE_LAW",
    "CollectionFee",
    "FeeAboveCap",
    "check_collection_fee",
    "check_instalment_fee",
    "check_reminder_fee",
    "collection_fee_due",
    "reminder_fee_due",
]
