"""Invoice arithmetic: line nets, VAT per rate, öresavrundning, credit splits (pure, no database).

Sources:
- VAT Directive 2006/112/EC art. 226 (8) and (10), implemented by Mervärdesskattelagen
  (2023:200) 17 kap. (fakturans innehåll): the invoice states the taxable amount per VAT rate and
  the VAT amount; so VAT is computed on each rate's net sum, not on each line. EN 16931
  BR-CO-17 / Peppol BIS Billing 3.0: VAT category tax amount = taxable amount × rate, rounded to
  two decimals (here: whole öre).
- ML (2023:200) 9 kap.: the Swedish rates 25, 12 and 6 %, and 0 for exempt supplies.
- Lag (1970:1029) om avrundning av öresbelopp (from 2010-09-30): 1–49 öre down, 50–99 öre up;
  the rounding is shown on its own line and booked on BAS 3740 "Öres- och kronutjämning"
  (BAS-kontoplanen).
- A credit note's share per rate (Kvitt's rule, totals.split_credit): proportional to each
  rate's gross, largest remainder so the shares add up exactly, net backed out of the gross
  (VAT = gross × rate / (100 + rate), Skatteverket's "20 % of the price including 25 % VAT").
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.core.money import round_to_ore
from kvitt.invoices.totals import (
    VAT_RATES,
    LineInput,
    Totals,
    VatGroup,
    compute_totals,
    line_net,
    split_credit,
    vat_for,
)

rates = st.sampled_from(VAT_RATES)


@st.composite
def line_inputs(draw: st.DrawFn, *, allow_negative: bool = False) -> LineInput:
    low = -(10**7) if allow_negative else 0
    return LineInput(
        quantity_milli=draw(st.integers(min_value=1, max_value=10**7)),
        unit_price=draw(st.integers(min_value=low, max_value=10**7)),
        vat_rate=draw(rates),
        discount_bp=draw(st.one_of(st.just(0), st.integers(min_value=0, max_value=10_000))),
    )


line_lists = st.lists(line_inputs(), min_size=0, max_size=30)


@st.composite
def invoice_groups(draw: st.DrawFn) -> tuple[VatGroup, ...]:
    """The VAT groups of a real invoice (positive lines), as compute_totals makes them."""
    lines = draw(st.lists(line_inputs(), min_size=1, max_size=12))
    groups = compute_totals(lines, round_to_krona_total=False).vat_summary
    if not any(g.net + g.vat for g in groups):
        groups = (VatGroup(25, 100, 25),)
    return groups


def all_ints(totals: Totals) -> bool:
    values: list[object] = [totals.net, totals.vat, totals.rounding, totals.total, *totals.line_nets]
    for group in totals.vat_summary:
        values += [group.rate, group.net, group.vat]
    return all(type(value) is int for value in values)


# --- line nets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "net"),
    [
        (LineInput(1000, 31600, 25), 31600),
        (LineInput(2000, 4900, 25), 9800),
        (LineInput(2500, 123, 25), 308),  # 307.5 öre -> 308, half up
        (LineInput(1, 499, 25), 0),  # 0.499 öre
        (LineInput(1, 500, 25), 1),  # 0.5 öre -> 1
        (LineInput(3000, 199, 25, 1000), 537),  # 597 less 10 % = 537.3
        (LineInput(1000, 1999, 12, 2550), 1489),  # 1999 less 25.5 % = 1489.255
        (LineInput(1000, 4900, 6, 10_000), 0),  # 100 % discount
        (LineInput(2500, -123, 25), -308),  # a negative line mirrors: half away from zero
    ],
)
def test_line_net(line: LineInput, net: int) -> None:
    """Quantity × price less discount, rounded half up to whole öre (EN 16931 BR-CO-10 line net amounts
    with two decimals; ARCHITECTURE.md: amounts are whole öre)."""
    assert line_net(line) == net


# --- VAT per rate -----------------------------------------------------------------------------


def test_vat_is_rounded_per_rate_not_per_line() -> None:
    """VAT Directive art. 226 (8), (10) / ML 2023:200 17 kap.; EN 16931 BR-CO-17: VAT on each rate's
    taxable amount. Three SMS packs at 2,10 kr: per line 52.5 -> 53 öre each (159), per rate
    630 × 25 % = 157.5 -> 158 öre."""
    lines = [LineInput(1000, 210, 25)] * 3
    per_line = sum(vat_for(line_net(line), line.vat_rate) for line in lines)
    totals = compute_totals(lines, round_to_krona_total=False)
    assert per_line == 159
    assert totals.vat_summary == (VatGroup(25, 630, 158),)
    assert totals.vat == 158 != per_line
    assert totals.total == 788


def test_telecom_invoice_example() -> None:
    """VAT per rate (EN 16931 BR-CO-17), öresavrundning half up (Lag 1970:1029): 611,84 kr -> 612 kr."""
    lines = [LineInput(1000, 31600, 25), LineInput(2000, 4900, 25), LineInput(1000, 8900, 6)]
    totals = compute_totals(lines, round_to_krona_total=True)
    assert totals.line_nets == (31600, 9800, 8900)
    assert totals.vat_summary == (VatGroup(25, 41400, 10350), VatGroup(6, 8900, 534))
    assert (totals.net, totals.vat) == (50300, 10884)
    assert totals.rounding == 16
    assert totals.total == 61200


def test_groups_are_ordered_by_rate_descending_and_include_zero_rate() -> None:
    """ML 2023:200 9 kap.: 25, 12, 6 and 0 %; the exempt group carries net and no VAT."""
    lines = [LineInput(1000, 1000, 0), LineInput(1000, 1000, 6), LineInput(1000, 1000, 25), LineInput(1000, 1000, 12)]
    totals = compute_totals(lines, round_to_krona_total=False)
    assert [g.rate for g in totals.vat_summary] == [25, 12, 6, 0]
    assert [g.vat for g in totals.vat_summary] == [250, 120, 60, 0]
    assert totals.total == 4430


@pytest.mark.parametrize(
    ("net_ore", "vat", "rounding", "total"),
    [
        (4000, 1000, 0, 5000),  # 50,00 kr: nothing to round
        (3960, 990, 50, 5000),  # 49,50 kr -> 50 kr: 50 öre up
        (3959, 990, -49, 4900),  # VAT 989.75 -> 990, 49,49 kr -> 49 kr: 49 öre down
        (3961, 990, 49, 5000),  # VAT 990.25 -> 990, 49,51 kr -> 50 kr
    ],
)
def test_oresavrundning_boundaries(net_ore: int, vat: int, rounding: int, total: int) -> None:
    """Lag (1970:1029): 1–49 öre down, 50–99 öre up; the rounding line is total − (net + VAT)."""
    totals = compute_totals([LineInput(1000, net_ore, 25)], round_to_krona_total=True)
    assert (totals.net, totals.vat, totals.rounding, totals.total) == (net_ore, vat, rounding, total)


def test_oresavrundning_down() -> None:
    """Lag (1970:1029): 1–49 öre down (49,49 kr -> 49 kr, a rounding line of −49 öre)."""
    totals = compute_totals([LineInput(1000, 4949, 0)], round_to_krona_total=True)
    assert (totals.net, totals.vat, totals.rounding, totals.total) == (4949, 0, -49, 4900)


def test_no_rounding_when_the_issuer_does_not_round() -> None:
    """ARCHITECTURE.md: the total is rounded to whole kronor only where the issuer wants it."""
    totals = compute_totals([LineInput(1000, 4949, 0)], round_to_krona_total=False)
    assert (totals.rounding, totals.total) == (0, 4949)


def test_empty_invoice() -> None:
    """Nothing to sum: every amount is 0 (issuing refuses an invoice without lines)."""
    totals = compute_totals([], round_to_krona_total=True)
    assert totals == Totals((), (), 0, 0, 0, 0)


# --- invariants -------------------------------------------------------------------------------


@given(line_lists, st.booleans())
def test_totals_invariants(lines: list[LineInput], round_total: bool) -> None:
    """EN 16931 BR-CO-13/-15 (totals add up), BR-CO-17 (VAT per rate rounded), Lag (1970:1029) (whole
    kronor, at most 50 öre off), ARCHITECTURE.md (integers of öre, never float)."""
    totals = compute_totals(lines, round_to_krona_total=round_total)
    assert all_ints(totals)
    assert totals.total == totals.net + totals.vat + totals.rounding
    assert totals.net == sum(totals.line_nets)
    assert totals.net == sum(g.net for g in totals.vat_summary)
    assert totals.vat == sum(g.vat for g in totals.vat_summary)
    assert len(totals.line_nets) == len(lines)
    assert len({g.rate for g in totals.vat_summary}) == len(totals.vat_summary)
    for group in totals.vat_summary:
        assert group.net == sum(
            net for line, net in zip(lines, totals.line_nets, strict=True) if line.vat_rate == group.rate
        )
        assert group.vat == round_to_ore(Decimal(group.net) * group.rate / 100)
    if round_total:
        assert totals.total % 100 == 0
        assert abs(totals.rounding) <= 50
    else:
        assert totals.rounding == 0


@given(st.lists(line_inputs(allow_negative=True), max_size=20), st.booleans())
def test_credit_note_mirrors_invoice(lines: list[LineInput], round_total: bool) -> None:
    """Kvitt's rule (money.py): rounding half away from zero, so negated lines give exactly the negated
    totals and a mirrored credit note cancels its invoice to the öre on 1510, 30xx, 26xx and 3740."""
    invoice = compute_totals(lines, round_to_krona_total=round_total)
    mirrored = [LineInput(line.quantity_milli, -line.unit_price, line.vat_rate, line.discount_bp) for line in lines]
    note = compute_totals(mirrored, round_to_krona_total=round_total)
    assert note.line_nets == tuple(-net for net in invoice.line_nets)
    assert note.vat_summary == tuple(VatGroup(g.rate, -g.net, -g.vat) for g in invoice.vat_summary)
    assert (note.net, note.vat, note.rounding, note.total) == (
        -invoice.net,
        -invoice.vat,
        -invoice.rounding,
        -invoice.total,
    )


# --- split_credit -----------------------------------------------------------------------------


def test_split_credit_example() -> None:
    """Proportional to each rate's gross (Kvitt's rule); VAT backed out of the gross share
    (25 % VAT is 20 % of the price including VAT, Skatteverket)."""
    groups = (VatGroup(25, 41400, 10350), VatGroup(6, 8900, 534))  # gross 51750 and 9434
    shares = split_credit(10000, groups)
    # 10000 × 51750 / 61184 = 8458.09..., 10000 × 9434 / 61184 = 1541.90...: the leftover öre
    # goes to the larger remainder.
    assert [s.net + s.vat for s in shares] == [8458, 1542]
    assert shares[0] == VatGroup(25, 6766, 1692)  # 8458 / 1.25 = 6766.4
    assert shares[1] == VatGroup(6, 1455, 87)  # 1542 / 1.06 = 1454.7


def test_split_credit_skips_empty_groups() -> None:
    """Kvitt's rule: a rate with nothing on it gets no share (EN 16931 has no empty VAT breakdown)."""
    assert split_credit(100, [VatGroup(25, 0, 0)]) == ()
    assert split_credit(100, []) == ()
    assert split_credit(100, [VatGroup(25, 0, 0), VatGroup(0, 500, 0)]) == (VatGroup(0, 100, 0),)


def test_split_credit_refuses_groups_that_cancel_out() -> None:
    """Kvitt's rule: no proportion exists when the groups sum to zero; a clear error, not a ZeroDivisionError."""
    with pytest.raises(ValueError, match="sum to zero"):
        split_credit(100, [VatGroup(0, 500, 0), VatGroup(0, -500, 0)])


def test_split_credit_of_a_share_that_has_no_exact_vat() -> None:
    """No net N gives N + round(N × 25 %) = 2 öre; the share's VAT (0) then differs by 1 öre from
    25 % of its net (2 öre -> 0.5 -> 1), which EN 16931 BR-CO-17's ±1 tolerance allows."""
    (share,) = split_credit(2, [VatGroup(25, 100, 25)])
    assert share == VatGroup(25, 2, 0)
    assert vat_for(share.net, 25) == 1


@given(invoice_groups(), st.data())
def test_split_credit_invariants(groups: tuple[VatGroup, ...], data: st.DataObject) -> None:
    """Kvitt's rule: shares add up exactly to the credit; each share's net + VAT is the share; each
    share is within 1 öre of its exact proportion; VAT within 1 öre of rate × net (EN 16931 BR-CO-17
    tolerance); nothing is a float."""
    whole = sum(g.net + g.vat for g in groups)
    amount = data.draw(st.integers(min_value=1, max_value=whole + 50))
    shares = split_credit(amount, groups)
    live = [g for g in groups if g.net + g.vat]
    assert [s.rate for s in shares] == [g.rate for g in live]
    assert sum(s.net + s.vat for s in shares) == amount
    for share, group in zip(shares, live, strict=True):
        assert type(share.net) is int and type(share.vat) is int
        exact = Decimal(amount) * (group.net + group.vat) / whole
        assert abs((share.net + share.vat) - exact) < 1
        assert share.net == round_to_ore(Decimal(share.net + share.vat) * 100 / (100 + share.rate))
        assert abs(share.vat - vat_for(share.net, share.rate)) <= 1
        if share.rate == 0:
            assert share.vat == 0


@given(invoice_groups())
def test_credit_of_the_full_gross_reproduces_the_groups(groups: tuple[VatGroup, ...]) -> None:
    """Crediting the whole gross (net + VAT, before öresavrundning) gives back each rate's net and VAT
    exactly: VAT = round(net × r) leaves gross / (1 + r) within 0.5 / (1 + r) < 0.5 öre of the net."""
    whole = sum(g.net + g.vat for g in groups)
    shares = split_credit(whole, groups)
    assert shares == tuple(g for g in groups if g.net + g.vat)


@given(invoice_groups(), st.data())
def test_split_credit_works_for_negative_amounts(groups: tuple[VatGroup, ...], data: st.DataObject) -> None:
    """A negative amount (taking a credit back) splits in proportion too, each share within 1 öre of
    its exact part, and the shares add up exactly (before the fix, int() truncation towards zero gave
    negative remainders and a negative leftover that sliced the wrong groups)."""
    whole = sum(g.net + g.vat for g in groups)
    amount = data.draw(st.integers(min_value=-whole, max_value=-1))
    shares = split_credit(amount, groups)
    assert sum(s.net + s.vat for s in shares) == amount
    for share, group in zip(shares, [g for g in groups if g.net + g.vat], strict=True):
        assert abs((share.net + share.vat) - Decimal(amount) * (group.net + group.vat) / whole) < 1


@given(st.lists(st.tuples(rates, st.integers(min_value=-(10**6), max_value=10**6)), min_size=1, max_size=4), st.data())
def test_split_credit_with_mixed_signs_still_adds_up(raw: list[tuple[int, int]], data: st.DataObject) -> None:
    """Should a discount ever leave a rate negative, the shares still add up exactly (floor + largest
    remainder on exact integers)."""
    groups = [VatGroup(rate, net, vat_for(net, rate)) for rate, net in raw]
    whole = sum(g.net + g.vat for g in groups)
    live = [g for g in groups if g.net + g.vat]
    if whole == 0:
        if live:
            with pytest.raises(ValueError):
                split_credit(1, groups)
        return
    amount = data.draw(st.integers(min_value=-(10**7), max_value=10**7))
    shares = split_credit(amount, groups)
    assert sum(s.net + s.vat for s in shares) == amount
    for share, group in zip(shares, live, strict=True):
        assert abs((share.net + share.vat) - Decimal(amount) * (group.net + group.vat) / whole) < 1
