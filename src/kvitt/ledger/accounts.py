"""The BAS accounts Kvitt posts to, as the ledger uses them (the table itself is ``core.bas``)."""

from kvitt.core.bas import (
    BAD_DEBT,
    BANK,
    CUSTOMER_ADVANCES,
    DEFAULTS,
    INTEREST_INCOME,
    INVOICE_FEES,
    NAMES,
    RECEIVABLES,
    REMINDER_FEES,
    ROUNDING,
    ChartOfAccounts,
)

__all__ = [
    "BAD_DEBT",
    "BANK",
    "CUSTOMER_ADVANCES",
    "DEFAULTS",
    "INTEREST_INCOME",
    "INVOICE_FEES",
    "NAMES",
    "RECEIVABLES",
    "REMINDER_FEES",
    "ROUNDING",
    "ChartOfAccounts",
]
