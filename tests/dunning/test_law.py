"""The law in code: fee caps, who may be charged what, each test naming its source."""

from __future__ import annotations

import pytest

from kvitt.dunning import law
from kvitt.dunning.instalments import split


def test_reminder_fee_at_most_60_kr() -> None:
    """Lag (1981:739) om ersättning för inkassokostnader m.m. 2 § and förordning (1981:1057) 2 §:
    a written reminder may cost at most 60 kr."""
    law.check_reminder_fee(6000)
    with pytest.raises(law.FeeAboveCap, match=r"1981:739.*2 §"):
        law.check_reminder_fee(6001)


def test_reminder_fee_only_if_agreed() -> None:
    """Lag (1981:739) 2 §: a reminder fee only if it was agreed when the debt arose."""
    assert law.reminder_fee_due(6000, agreed=False) == 0
    assert law.reminder_fee_due(6000, agreed=True) == 6000
    assert law.reminder_fee_due(9000, agreed=True) == 6000  # never above the cap, whatever is set


def test_collection_demand_fee_at_most_180_kr() -> None:
    """Förordning (1981:1057) 2 §: inkassokrav at most 180 kr."""
    law.check_collection_fee(18000)
    with pytest.raises(law.FeeAboveCap, match="1981:1057"):
        law.check_collection_fee(18001)
    assert law.collection_fee_due(18000, company=False) == law.CollectionFee(
        "inkassokrav", 18000, law.COLLECTION_FEE_LAW
    )


def test_b2b_late_payment_compensation_450_kr_instead_of_collection_fee() -> None:
    """Lag (1981:739) 4 a §: between businesses a fixed 450 kr förseningsersättning, and then no
    compensation for the collection demand."""
    fee = law.collection_fee_due(18000, company=True)
    assert (fee.kind, fee.amount) == ("forseningsersattning", 45000)
    assert "4 a §" in (fee.law or "")
    assert law.collection_fee_due(0, company=True).amount == 0  # a policy that charges nothing


def test_instalment_plan_fee_at_most_170_kr() -> None:
    """Förordning (1981:1057) 2 §: establishing an instalment plan at most 170 kr."""
    law.check_instalment_fee(17000)
    with pytest.raises(law.FeeAboveCap, match="170 kr"):
        law.check_instalment_fee(17001)


def test_late_interest_margin_is_8_percentage_points() -> None:
    """Räntelagen (1975:635) 6 §: reference rate + 8 percentage points."""
    assert law.LATE_INTEREST_MARGIN_BP == 800


def test_instalment_parts_sum_to_the_debt() -> None:
    parts = split(100001, 3)
    assert parts == [33334, 33334, 33333] and sum(parts) == 100001
