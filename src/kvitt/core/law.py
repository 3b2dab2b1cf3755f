"""The Swedish law on what a creditor may charge a late payer: caps, interest, who may be charged.

Pure rules, no I/O. Each cap names its source, and the error a refused policy gets names it too.
In core because two features refuse by it: dunning (its policies' fees, ``kvitt.dunning.law``
re-exports this) and tenants (the tenant's own ``reminder_fee``).

- Lag (1981:739) om ersättning för inkassokostnader m.m. 2 § and förordning (1981:1057) om
  ersättning för inkassokostnader m.m. 2 §: a written reminder (betalningspåminnelse) at most
  60 kr, and only if it was agreed when the debt arose; a collection demand (inkassokrav) at
  most 180 kr; an instalment plan (avbetalningsplan) at most 170 kr.
- Lag (1981:739) 4 a §: between businesses, a fixed compensation (förseningsersättning) of
  450 kr once late interest is due, and then no compensation for the collection demand.
- Räntelagen (1975:635) 6 §: late interest = Riksbanken's reference rate + 8 percentage points;
  9 §: the reference rate is fixed per calendar half-year.
"""

from __future__ import annotations

from dataclasses import dataclass

REMINDER_FEE_CAP = 6000  # öre
COLLECTION_FEE_CAP = 18000
INSTALMENT_PLAN_FEE_CAP = 17000
B2B_LATE_PAYMENT_COMPENSATION = 45000
LATE_INTEREST_MARGIN_BP = 800  # hundredths of a percentage point: 8 pp

REMINDER_FEE_LAW = "Lag (1981:739) om ersättning för inkassokostnader m.m. 2 § och förordning (1981:1057) 2 §"
COLLECTION_FEE_LAW = "förordning (1981:1057) om ersättning för inkassokostnader m.m. 2 §"
INSTALMENT_FEE_LAW = "förordning (1981:1057) om ersättning för inkassokostnader m.m. 2 §"
B2B_COMPENSATION_LAW = "Lag (1981:739) om ersättning för inkassokostnader m.m. 4 a §"
LATE_INTEREST_LAW = "Räntelagen (1975:635) 6 §"


class FeeAboveCap(ValueError):
    def __init__(self, what: str, amount: int, cap: int, law: str) -> None:
        super().__init__(f"{what} of {amount / 100:.2f} kr is above the {cap // 100} kr the law allows ({law})")
        self.law = law


def check_reminder_fee(amount: int) -> None:
    if amount > REMINDER_FEE_CAP:
        raise FeeAboveCap("a reminder fee", amount, REMINDER_FEE_CAP, REMINDER_FEE_LAW)


def check_collection_fee(amount: int) -> None:
    if amount > COLLECTION_FEE_CAP:
        raise FeeAboveCap("a collection demand fee", amount, COLLECTION_FEE_CAP, COLLECTION_FEE_LAW)


def check_instalment_fee(amount: int) -> None:
    if amount > INSTALMENT_PLAN_FEE_CAP:
        raise FeeAboveCap("an instalment plan fee", amount, INSTALMENT_PLAN_FEE_CAP, INSTALMENT_FEE_LAW)


def reminder_fee_due(policy_fee: int, *, agreed: bool) -> int:
    """The reminder fee that may be charged: nothing unless agreed, never above the cap."""
    if not agreed or policy_fee <= 0:
        return 0
    return min(policy_fee, REMINDER_FEE_CAP)


@dataclass(frozen=True)
class CollectionFee:
    kind: str  # inkassokrav | forseningsersattning | none
    amount: int
    law: str | None


def collection_fee_due(policy_fee: int, *, company: bool) -> CollectionFee:
    """What the hand-over to collection may charge.

    A company pays the fixed 450 kr förseningsersättning instead of the collection-demand fee
    (4 a §); a consumer pays the policy's fee up to 180 kr. A policy that charges nothing at
    collection charges neither.
    """
    if policy_fee <= 0:
        return CollectionFee("none", 0, None)
    if company:
        return CollectionFee("forseningsersattning", B2B_LATE_PAYMENT_COMPENSATION, B2B_COMPENSATION_LAW)
    return CollectionFee("inkassokrav", min(policy_fee, COLLECTION_FEE_CAP), COLLECTION_FEE_LAW)
