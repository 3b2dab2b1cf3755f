"""Subscription use cases: the only code that writes subscriptions. Each runs in the caller's transaction.

Billing is in advance: a period is invoiced on its first day. So a change (new lines or
prices, a pause, a resume, a cancellation) takes effect on a day not yet billed; a date inside
a period already invoiced is refused with ``period_already_billed`` (credit that invoice
instead), never silently moved.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kvitt.catalog import service as catalog
from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.money import quantity_to_milli
from kvitt.core.pagination import Page, paginate
from kvitt.customers import service as customers
from kvitt.subscriptions.charges import Plan, Version
from kvitt.subscriptions.models import PeriodInfo, Subscription, SubscriptionLine, SubscriptionPause
from kvitt.subscriptions.periods import Span, add_months, boundary, period_index
from kvitt.subscriptions.schemas import (
    CancelIn,
    PauseIn,
    PeriodInfoIn,
    ResumeIn,
    SubscriptionCreate,
    SubscriptionLineIn,
    SubscriptionUpdate,
)
from kvitt.tenants.models import Tenant


def get(session: Session, tenant: Tenant, subscription_id: int, *, for_update: bool = False) -> Subscription:
    query = select(Subscription).where(Subscription.tenant_id == tenant.id, Subscription.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    subscription = session.scalar(query)
    if subscription is None:
        raise NotFound(f"no subscription {subscription_id}", param="subscription")
    return subscription


def list_page(
    session: Session, tenant: Tenant, *, limit: int, starting_after: int | None, customer: int | None = None
) -> Page[Subscription]:
    query = select(Subscription).where(Subscription.tenant_id == tenant.id)
    if customer is not None:
        query = query.where(Subscription.customer_id == customer)
    return paginate(session, query, Subscription.id, limit=limit, starting_after=starting_after)


def lines_of(session: Session, tenant: Tenant, ids: Iterable[int]) -> dict[int, list[SubscriptionLine]]:
    wanted = list(set(ids))
    result: dict[int, list[SubscriptionLine]] = {i: [] for i in wanted}
    rows = session.scalars(
        select(SubscriptionLine)
        .where(SubscriptionLine.tenant_id == tenant.id, SubscriptionLine.subscription_id.in_(wanted))
        .order_by(SubscriptionLine.position, SubscriptionLine.valid_from, SubscriptionLine.id)
    )
    for line in rows:
        result[line.subscription_id].append(line)
    return result


def pauses_of(session: Session, tenant: Tenant, ids: Iterable[int]) -> dict[int, list[SubscriptionPause]]:
    wanted = list(set(ids))
    result: dict[int, list[SubscriptionPause]] = {i: [] for i in wanted}
    rows = session.scalars(
        select(SubscriptionPause)
        .where(SubscriptionPause.tenant_id == tenant.id, SubscriptionPause.subscription_id.in_(wanted))
        .order_by(SubscriptionPause.start)
    )
    for pause in rows:
        result[pause.subscription_id].append(pause)
    return result


def status(subscription: Subscription, pauses: list[SubscriptionPause], today: date) -> str:
    if subscription.end_date is not None and today >= subscription.end_date:
        return "canceled"
    if today < subscription.start_date:
        return "scheduled"
    if any(p.start <= today and (p.end is None or today < p.end) for p in pauses):
        return "paused"
    return "active"


def plan_of(subscription: Subscription, lines: list[SubscriptionLine], pauses: list[SubscriptionPause]) -> Plan:
    return Plan(
        interval=subscription.interval,
        anchor_date=subscription.anchor_date,
        end_date=subscription.end_date,
        versions=[version_of(line) for line in lines],
        pauses=[Span(p.start, p.end) for p in pauses],
    )


def version_of(line: SubscriptionLine) -> Version:
    return Version(
        position=line.position,
        item_id=line.item_id,
        description=line.description,
        quantity_milli=line.quantity_milli,
        unit=line.unit,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,
        account=line.account,
        valid_from=line.valid_from,
        valid_to=line.valid_to,
    )


def anchor_for(start: date, anchor_day: int | None) -> date:
    """The latest day on or before ``start`` that falls on ``anchor_day`` (the start if none given).

    Going back month by month finds a month that has the day (the 31st, 30th or 29th), so that
    later periods keep that day wherever the month is long enough.
    """
    if anchor_day is None:
        return start
    year, month = start.year, start.month
    while True:
        if anchor_day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, anchor_day)
            if candidate <= start:
                return candidate
        month -= 1
        if month == 0:
            year, month = year - 1, 12


def create(session: Session, tenant: Tenant, data: SubscriptionCreate, *, today: date) -> Subscription:
    customer = customers.get(session, tenant, data.customer)
    start = data.start_date or today
    if data.end_date is not None and data.end_date <= start:
        raise ValidationFailed("end_date must be after start_date", param="end_date")
    binding_until = add_months(start, data.binding_months) if data.binding_months else None
    if data.end_date is not None and binding_until is not None and data.end_date < binding_until:
        raise ValidationFailed(
            f"end_date is inside the binding period (until {binding_until})", param="end_date", code="binding_period"
        )
    subscription = Subscription(
        tenant_id=tenant.id,
        customer_id=customer.id,
        interval=data.interval,
        anchor_date=anchor_for(start, data.anchor_day),
        start_date=start,
        end_date=data.end_date,
        binding_until=binding_until,
        next_period_start=start,
        payment_terms_days=data.payment_terms_days,
        notes=data.notes,
        metadata_=data.metadata,
    )
    session.add(subscription)
    session.flush()
    _add_lines(session, tenant, subscription, data.lines, valid_from=start)
    return subscription


def update(session: Session, tenant: Tenant, subscription: Subscription, data: SubscriptionUpdate) -> Subscription:
    """New lines from a date (a price change), and notes or metadata (at once)."""
    changes = data.model_dump(exclude_unset=True)
    if "notes" in changes:
        subscription.notes = data.notes
    if "metadata" in changes:
        subscription.metadata_ = data.metadata or {}
    if data.lines is not None:
        effective = data.effective_date or _first_unbilled(subscription, "effective_date")
        _require_unbilled(subscription, effective, "effective_date")
        effective = max(effective, subscription.start_date)
        current = lines_of(session, tenant, [subscription.id])[subscription.id]
        for line in current:
            if line.valid_from >= effective:
                session.delete(line)  # a version not yet started is replaced
            elif line.valid_to is None or line.valid_to > effective:
                line.valid_to = effective
        session.flush()
        _add_lines(session, tenant, subscription, data.lines, valid_from=effective)
    elif "effective_date" in changes:
        raise ValidationFailed("effective_date goes with new lines", param="effective_date")
    subscription.updated_at = utcnow()
    session.flush()
    return subscription


def pause(session: Session, tenant: Tenant, subscription: Subscription, data: PauseIn) -> Subscription:
    start = data.start or _first_unbilled(subscription, "start")
    _require_unbilled(subscription, start, "start")
    if data.end is not None and data.end <= start:
        raise ValidationFailed("end must be after start", param="end")
    for other in pauses_of(session, tenant, [subscription.id])[subscription.id]:
        if (other.end is None or other.end > start) and (data.end is None or data.end > other.start):
            raise Conflict(
                f"overlaps the pause from {other.start}" + (f" to {other.end}" if other.end else " (not resumed)"),
                param="start",
                code="pause_overlaps",
            )
    session.add(SubscriptionPause(tenant_id=tenant.id, subscription_id=subscription.id, start=start, end=data.end))
    subscription.updated_at = utcnow()
    session.flush()
    return subscription


def resume(session: Session, tenant: Tenant, subscription: Subscription, data: ResumeIn) -> Subscription:
    pauses = pauses_of(session, tenant, [subscription.id])[subscription.id]
    open_pauses = [p for p in pauses if p.end is None]
    if not open_pauses:
        raise Conflict("the subscription has no pause to end", code="not_paused")
    current = open_pauses[0]
    on = data.on or max(_first_unbilled(subscription, "on"), current.start)
    _require_unbilled(subscription, on, "on")
    if on <= current.start:
        session.delete(current)  # resumed before the pause began: no pause at all
    else:
        current.end = on
    subscription.updated_at = utcnow()
    session.flush()
    return subscription


def cancel(session: Session, tenant: Tenant, subscription: Subscription, data: CancelIn) -> Subscription:
    if subscription.canceled_at is not None:
        raise Conflict(f"the subscription is already cancelled (ends {subscription.end_date})", code="canceled")
    first_unbilled = _first_unbilled(subscription, "end_date")
    end = data.end_date or max(first_unbilled, subscription.binding_until or first_unbilled)
    _require_unbilled(subscription, end, "end_date")
    if subscription.binding_until is not None and end < subscription.binding_until:
        raise Conflict(
            f"the binding period runs until {subscription.binding_until}; the subscription can end then, not before",
            param="end_date",
            code="binding_period",
        )
    subscription.end_date = end
    subscription.canceled_at = utcnow()
    if subscription.next_period_start is not None and subscription.next_period_start >= end:
        subscription.next_period_start = None
    subscription.updated_at = utcnow()
    session.flush()
    return subscription


def set_period_info(session: Session, tenant: Tenant, subscription: Subscription, data: PeriodInfoIn) -> PeriodInfo:
    """Info blocks for one period's invoice; sending again for the same period replaces them."""
    if not is_period_start(subscription, data.period_start):
        raise ValidationFailed(
            f"{data.period_start} does not start a period of this subscription", param="period_start"
        )
    _require_unbilled(subscription, data.period_start, "period_start")
    info = session.scalar(
        select(PeriodInfo).where(
            PeriodInfo.tenant_id == tenant.id,
            PeriodInfo.subscription_id == subscription.id,
            PeriodInfo.period_start == data.period_start,
        )
    )
    blocks = [block.model_dump() for block in data.blocks]
    if info is None:
        info = PeriodInfo(
            tenant_id=tenant.id, subscription_id=subscription.id, period_start=data.period_start, blocks=blocks
        )
        session.add(info)
    else:
        info.blocks = blocks
    session.flush()
    return info


def is_period_start(subscription: Subscription, day: date) -> bool:
    if day == subscription.start_date:
        return True
    if day < subscription.start_date:
        return False
    k = period_index(subscription.anchor_date, subscription.interval, day)
    return boundary(subscription.anchor_date, subscription.interval, k) == day


def delete_period_info(session: Session, tenant: Tenant, subscription_ids: list[int]) -> None:
    session.execute(
        delete(PeriodInfo).where(PeriodInfo.tenant_id == tenant.id, PeriodInfo.subscription_id.in_(subscription_ids))
    )


def _first_unbilled(subscription: Subscription, param: str) -> date:
    if subscription.next_period_start is None:
        raise Conflict(
            f"the subscription ended on {subscription.end_date} and is fully billed", param=param, code="ended"
        )
    return subscription.next_period_start


def _require_unbilled(subscription: Subscription, day: date, param: str) -> None:
    first = _first_unbilled(subscription, param)
    if day < first:
        raise Conflict(
            f"{day} is in a period already invoiced; changes take effect from {first} at the earliest "
            "(credit the invoice to change what was billed)",
            param=param,
            code="period_already_billed",
        )


def _add_lines(
    session: Session, tenant: Tenant, subscription: Subscription, lines: list[SubscriptionLineIn], *, valid_from: date
) -> None:
    items = catalog.get_many(session, tenant, {line.item for line in lines if line.item})
    for index, line in enumerate(lines):
        item = items.get(line.item) if line.item is not None else None
        if line.item is not None and item is None:
            raise NotFound(f"no item {line.item}", param=f"lines[{index}].item")
        description = line.description or (item.title if item else "")
        unit_price = line.unit_price if line.unit_price is not None else (item.unit_price if item else 0)
        vat_rate = line.vat_rate if line.vat_rate is not None else (item.vat_rate if item else 25)
        session.add(
            SubscriptionLine(
                tenant_id=tenant.id,
                subscription_id=subscription.id,
                position=index + 1,
                item_id=item.id if item else None,
                description=description,
                quantity_milli=quantity_to_milli(line.quantity),
                unit=line.unit or (item.unit if item else None),
                # The item's price as of now: a later change of the item does not reprice
                # subscriptions silently (change the subscription from a date instead).
                unit_price=unit_price,
                vat_rate=vat_rate,
                account=line.account or (item.account if item else None),
                valid_from=valid_from,
                valid_to=None,
            )
        )
    session.flush()
