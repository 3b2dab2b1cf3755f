"""BAS accounts Kvitt posts to by default (BAS-kontoplanen); a tenant may map any of them to its own.

Source: BAS-kontoplanen (bas.se). 1510 Kundfordringar, 1930 Företagskonto/bank,
2420 Förskott från kunder, 2611/2621/2631 Utgående moms 25/12/6 %, 3001–3004 Försäljning
inom Sverige per momssats (25, 12, 6 %, momsfri), 3540 Faktureringsavgifter,
3740 Öres- och kronutjämning, 6351 Konstaterade förluster på kundfordringar,
8313 Ränteintäkter från kundfordringar. Reminder fees have no BAS account of their own and no
VAT (shared/SWEDISH-RULES.md: 3540 or 3990 are used); Kvitt books them on 3990.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RECEIVABLES = "receivables"
BANK = "bank"
CUSTOMER_ADVANCES = "customer_advances"
ROUNDING = "rounding"
INVOICE_FEES = "invoice_fees"
BAD_DEBT = "bad_debt"
INTEREST_INCOME = "interest_income"
REMINDER_FEES = "reminder_fees"
CARD_CLEARING = "card_clearing"  # card payments on their way from the card acquirer

DEFAULTS: dict[str, str] = {
    RECEIVABLES: "1510",
    BANK: "1930",
    CUSTOMER_ADVANCES: "2420",
    "vat_25": "2611",
    "vat_12": "2621",
    "vat_6": "2631",
    "sales_25": "3001",
    "sales_12": "3002",
    "sales_6": "3003",
    "sales_0": "3004",
    INVOICE_FEES: "3540",
    ROUNDING: "3740",
    BAD_DEBT: "6351",
    INTEREST_INCOME: "8313",
    REMINDER_FEES: "3990",
    CARD_CLEARING: "1580",
}

NAMES: dict[str, str] = {
    "1510": "Kundfordringar",
    "1930": "Företagskonto",
    "2420": "Förskott från kunder",
    "2611": "Utgående moms på försäljning inom Sverige, 25 %",
    "2621": "Utgående moms på försäljning inom Sverige, 12 %",
    "2631": "Utgående moms på försäljning inom Sverige, 6 %",
    "3001": "Försäljning inom Sverige, 25 % moms",
    "3002": "Försäljning inom Sverige, 12 % moms",
    "3003": "Försäljning inom Sverige, 6 % moms",
    "3004": "Försäljning inom Sverige, momsfri",
    "3540": "Faktureringsavgifter",
    "3740": "Öres- och kronutjämning",
    "6351": "Konstaterade förluster på kundfordringar",
    "8313": "Ränteintäkter från kundfordringar",
    "3990": "Övriga ersättningar och intäkter",
    "1580": "Fordringar för kontokort och kuponger",
}


class ChartOfAccounts:
    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self._accounts = {**DEFAULTS, **{k: str(v) for k, v in (overrides or {}).items()}}

    def __getitem__(self, role: str) -> str:
        return self._accounts[role]

    def sales(self, vat_rate: int) -> str:
        return self._accounts[f"sales_{vat_rate}"]

    def output_vat(self, vat_rate: int) -> str:
        return self._accounts[f"vat_{vat_rate}"]
