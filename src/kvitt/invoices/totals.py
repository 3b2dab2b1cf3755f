"""Invoice arithmetic, pure: line nets, VAT per rate, öresavrundning, credit splits.

Sources:
- The invoice states the taxable amount and the VAT amount per rate (Mervärdesskattelagen
  2023:200, 17 kap. on invoice contents), so VAT is computed on the net sum per rate, not per
  line, and rounded to whole öre (Skatteverket, "Fakturering och avrundning").
- Swedish VAT rates: 25, 12, 6 and 0 % (ML 2023:200, 9 kap.).
- Öresavrundning: a total paid in cash is rounded to whole kronor (Riksbanken, 50-öre coin
  withdrawn 2010); invoices commonly round the amount due the same way, with the
  difference shown on its own line and booked on BAS 3740.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kvitt.core.money import QUANTITY_SCALE, round_to_krona, round_to_ore

VAT_RATES = (25, 12, 6, 0)
BASIS_POINTS = 10_000


@dataclass(frozen=True)
class LineInput:
    quantity_milli: int
    unit_price: int  # öre
    vat_rate: int
    discount_bp: int = 0  # hundredths of a percent


@dataclass(frozen=True)
class VatGroup:
    rate: int
    net: int
    vat: int

    def as_dict(self) -> dict[str, int]:
        return {"rate": self.rate, "net": self.net, "vat": self.vat}


@dataclass(frozen=True)
class Totals:
    line_nets: tuple[int, ...]
    vat_summary: tuple[VatGroup, ...]
    net: int
    vat: int
    rounding: int
    total: int


def line_net(line: LineInput) -> int:
    """Quantity × unit price less the discount, rounded to whole öre."""
    gross = Decimal(line.quantity_milli) * line.unit_price / QUANTITY_SCALE
    discounted = gross * (BASIS_POINTS - line.discount_bp) / BASIS_POINTS
    return round_to_ore(discounted)


def vat_for(net: int, rate: int) -> int:
    return round_to_ore(Decimal(net) * rate / 100)


def compute_totals(lines: Sequence[LineInput], *, round_to_krona_total: bool) -> Totals:
    nets = tuple(line_net(line) for line in lines)
    net_per_rate: dict[int, int] = {}
    for line, net in zip(lines, nets, strict=True):
        net_per_rate[line.vat_rate] = net_per_rate.get(line.vat_rate, 0) + net
    groups = tuple(
        VatGroup(rate, net_per_rate[rate], vat_for(net_per_rate[rate], rate))
        for rate in sorted(net_per_rate, reverse=True)
    )
    return _totals(nets, groups, round_to_krona_total)


def _totals(nets: tuple[int, ...], groups: tuple[VatGroup, ...], round_total: bool) -> Totals:
    net = sum(group.net for group in groups)
    vat = sum(group.vat for group in groups)
    gross = net + vat
    rounded = round_to_krona(gross) if round_total else gross
    return Totals(nets, groups, net, vat, rounded - gross, rounded)


def split_credit(amount: int, groups: Iterable[VatGroup]) -> tuple[VatGroup, ...]:
    """Split a gross credit ``amount`` (öre, > 0) over the invoice's VAT groups.

    Each rate gets a share proportional to its gross (largest remainder, so the shares add up
    exactly); within a share, net = share / (1 + rate) rounded and VAT = share − net, so the
    credit note's total is exactly ``amount`` with no rounding line.
    """
    groups = [group for group in groups if group.net + group.vat != 0]
    if not groups:
        return ()
    return _groups_of_shares(groups, allocate(amount, [group.net + group.vat for group in groups]))


def _groups_of_shares(groups: Sequence[VatGroup], shares: Sequence[int]) -> tuple[VatGroup, ...]:
    """Each gross share as net + VAT at its group's rate: net = share / (1 + rate), rounded."""
    result = []
    for group, share in zip(groups, shares, strict=False):
        net = round_to_ore(Decimal(share) * 100 / (100 + group.rate))
        result.append(VatGroup(group.rate, net, share - net))
    return tuple(result)


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` in proportion to ``weights`` so that the parts add up exactly.

    Exact integer arithmetic: each part is amount × weight / Σweights rounded down (floor, so
    the remainders are never negative whatever the signs), and the öre left over go one each
    to the largest remainders (Hamilton's method).
    """
    whole = sum(weights)
    if whole == 0:
        raise ValueError("cannot split an amount over weights that sum to zero")
    sign = 1 if whole > 0 else -1
    numerators = [amount * weight * sign for weight in weights]
    parts = [numerator // (whole * sign) for numerator in numerators]
    remainders = [numerator % (whole * sign) for numerator in numerators]
    leftover = amount - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: remainders[i], reverse=True)[:leftover]:
        parts[index] += 1
    return parts


def credit_figures(
    amount: int, open_groups: Sequence[VatGroup], open_rounding: int
) -> tuple[tuple[VatGroup, ...], int]:
    """The VAT groups and rounding of a credit of ``amount`` against what is still uncredited.

    Crediting everything still open gives back exactly the open groups and rounding line, so
    credits that together cancel an invoice reverse all of its VAT (a credit note reduces the
    output VAT by the VAT it states) and its öresavrundning. A smaller credit is split in
    proportion over the groups' gross and the rounding line together.
    """
    groups = [group for group in open_groups if group.net or group.vat]
    if amount == sum(group.net + group.vat for group in groups) + open_rounding:
        return tuple(groups), open_rounding
    parts = allocate(amount, [group.net + group.vat for group in groups] + [open_rounding])
    return _groups_of_shares(groups, parts[:-1]), parts[-1]
