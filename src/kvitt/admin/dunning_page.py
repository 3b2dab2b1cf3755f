"""*Påminnelser och inkasso*: who is at which step, what the next tick sends, pauses, payment
extensions, hand-overs to collection and the dunning policies.

What the next tick sends is the tick's own finding query for today over the range the tick itself
would read (``dunning.tick.preview``), so the page shows what ``kvitt worker`` would take. A look
writes nothing and holds no write lock (a read-only unit of work; only a tenant's very first look
makes its default policy, as the API's GET does, so that it can be edited here). Actions (finance and admin), each
through the dunning service the API uses, in one transaction with an audit row:

- pause an invoice (by invoice number) or a customer (by customer number): ``dunning.pauses.pause``;
- resume (end a pause): ``dunning.pauses.end``;
- give a payment extension (anstånd) by invoice number: ``dunning.extensions.request``, approved by
  the staff member through ``decide`` when beyond the automatic limit; decide a waiting request;
- (admins) new policies, changes to a policy and deleting one: ``kvitt.admin.dunning_policies``;
- (admins) the dunning settings — the automatic and longest payment extension, the collection
  agency's address and key: ``dunning.extensions.update_settings`` with the API's
  ``SettingsUpdate``, as ``PATCH /api/v1/dunning-settings`` (the key is never shown, only whether
  one is set; an empty key field leaves it).

Instalment plans (made with ``POST /api/v1/instalment-plans``) are listed, not made, here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit, audit_changes
from kvitt.admin.auth import FINANCE_ACTORS, StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, actor, database, tenant_of
from kvitt.admin.dunning_policies import new_rows, rules_text, step_rows
from kvitt.admin.nav import roles_of
from kvitt.core import clock
from kvitt.core.db import Database
from kvitt.core.errors import ValidationFailed
from kvitt.core.law import COLLECTION_FEE_CAP, REMINDER_FEE_CAP
from kvitt.customers import service as customers
from kvitt.customers.models import Customer
from kvitt.dunning import extensions, pauses, policies, tick
from kvitt.dunning.models import (
    CollectionCase,
    DunningPause,
    DunningPolicy,
    DunningSettings,
    InstalmentPlan,
    NextStep,
    PaymentExtension,
    Reminder,
)
from kvitt.dunning.schemas import SettingsUpdate
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("dunning"))
ADMINS = ("admin",)
CHANNELS = ("email", "sms", "letter", "einvoice")


# --- the page ---------------------------------------------------------------------------------


def dunning_data(session: Session, tenant: Tenant) -> dict[str, Any]:
    t, today = tenant.id, clock.today()
    due = tick.preview(session, tenant, today)
    names = {
        c.id: c.name for c in customers.get_many(session, tenant, {d.customer_id for d in due[:PAGE_SIZE]}).values()
    }
    next_tick = [
        {
            "invoice_id": d.invoice_id,
            "number": d.number,
            "customer_id": d.customer_id,
            "customer": names.get(d.customer_id, ""),
            "step": d.level + 1,
            "action": d.policy.steps[d.level].get("action", "reminder"),
            "policy": d.policy.name,
            "remaining": d.remaining,
        }
        for d in due[:PAGE_SIZE]
    ]
    reached = (
        select(Reminder.invoice_id, func.max(Reminder.level).label("level"), func.max(Reminder.sent_on).label("sent"))
        .where(Reminder.tenant_id == t)
        .group_by(Reminder.invoice_id)
        .subquery()
    )
    open_reached = (
        select(Invoice, Customer.name, reached.c.level, reached.c.sent, NextStep.next_on)
        .join(reached, reached.c.invoice_id == Invoice.id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(NextStep, NextStep.invoice_id == Invoice.id)
        .where(Invoice.tenant_id == t, Customer.tenant_id == t, Invoice.state.in_(states.OPEN_STATES))
    )
    at_steps = session.execute(open_reached.order_by(reached.c.level.desc(), Invoice.id).limit(PAGE_SIZE)).all()
    per_level = session.execute(
        select(reached.c.level, func.count())
        .join(Invoice, Invoice.id == reached.c.invoice_id)
        .where(Invoice.tenant_id == t, Invoice.state.in_(states.OPEN_STATES))
        .group_by(reached.c.level)
        .order_by(reached.c.level)
    ).all()
    schedule = session.execute(
        select(NextStep.next_on, func.count())
        .where(NextStep.tenant_id == t, NextStep.next_on > today)
        .group_by(NextStep.next_on)
        .order_by(NextStep.next_on)
        .limit(14)
    ).all()
    paused = session.execute(
        select(DunningPause, Invoice.number, Customer.name)
        .outerjoin(Invoice, (Invoice.id == DunningPause.invoice_id) & (Invoice.tenant_id == t))
        .outerjoin(Customer, (Customer.id == DunningPause.customer_id) & (Customer.tenant_id == t))
        .where(DunningPause.tenant_id == t, DunningPause.ended_at.is_(None))
        .order_by(DunningPause.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    extension_rows = session.execute(
        select(PaymentExtension, Invoice.number)
        .join(Invoice, Invoice.id == PaymentExtension.invoice_id)
        .where(PaymentExtension.tenant_id == t, Invoice.tenant_id == t)
        .order_by((PaymentExtension.state == "pending").desc(), PaymentExtension.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    cases = session.execute(
        select(CollectionCase, Invoice.number)
        .join(Invoice, Invoice.id == CollectionCase.invoice_id)
        .where(CollectionCase.tenant_id == t, Invoice.tenant_id == t)
        .order_by(CollectionCase.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    plans = session.execute(
        select(InstalmentPlan, Invoice.number)
        .join(Invoice, Invoice.id == InstalmentPlan.invoice_id)
        .where(InstalmentPlan.tenant_id == t, Invoice.tenant_id == t)
        .order_by((InstalmentPlan.state == "active").desc(), InstalmentPlan.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    all_policies = list(
        session.scalars(
            select(DunningPolicy)
            .where(DunningPolicy.tenant_id == t)
            .order_by(DunningPolicy.is_default, DunningPolicy.priority, DunningPolicy.id)
        )
    )
    return {
        "today": today,
        "next_tick": next_tick,
        "next_tick_count": len(due),
        "at_steps": at_steps,
        "per_level": per_level,
        "schedule": schedule,
        "paused": [(p, number, name, pauses.is_active(p, today)) for p, number, name in paused],
        "extensions": extension_rows,
        "cases": cases,
        "plans": plans,
        # read as it is: a tenant without a row has the defaults settings_of would make
        "settings": session.get(DunningSettings, t) or DunningSettings(extension_auto_days=14, extension_max_days=60),
        "policies": [(p, step_rows(p.steps), rules_text(p.rules)) for p in all_policies],
        "new_rows": new_rows(),
        "channels": CHANNELS,
        "reminder_cap": REMINDER_FEE_CAP,
        "collection_cap": COLLECTION_FEE_CAP,
    }


@router.get("/admin/paminnelser")
def dunning_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    db = database(request)
    _make_default_policy_once(db, staff)
    # A read snapshot, not a write transaction: on SQLite a write one would hold the database's
    # write lock while the finding query looks, and the page writes nothing.
    with db.read_snapshot() as session:
        data = dunning_data(session, tenant_of(session, staff))
    context = {**data, "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/dunning.html", context, nav="dunning")


def _make_default_policy_once(db: Database, staff: StaffMember) -> None:
    """A tenant's first look makes its default policy (shown to be edited); later looks only read."""
    with db.read() as session:
        if policies.active(session, tenant_of(session, staff)):
            return
    with db.transaction() as session:
        policies.ensure_default(session, tenant_of(session, staff))


# --- pauses and extensions --------------------------------------------------------------------


def _invoice_by_number(session: Session, tenant: Tenant, value: str) -> Invoice:
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        raise ValidationFailed("invoice: the invoice number, e.g. 1042", param="invoice")
    found = invoices.open_by_numbers(session, tenant, [int(text)])
    if not found:
        raise ValidationFailed(f"no open invoice number {text}", param="invoice")
    return found[0]


def _day(value: str, param: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{param}: a date such as 2027-01-31", param=param) from None


@router.post("/admin/paminnelser/paus")
async def pause(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Pause an invoice (``invoice``: its number) or a customer (``customer``: customer number)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        until = _day(form.get("until", ""), "until")
        invoice_no, customer_no = form.get("invoice", "").strip(), form.get("customer", "").strip()
        if bool(invoice_no) == bool(customer_no):
            raise ValidationFailed("name either an invoice number or a customer number", param="invoice")
        invoice_id = customer_id = None
        if invoice_no:
            invoice_id = _invoice_by_number(session, tenant, invoice_no).id
        else:
            customer = customers.find_by_number(session, tenant, customer_no)
            if customer is None:
                raise ValidationFailed(f"no customer number {customer_no}", param="customer")
            customer_id = customer.id
        row = pauses.pause(
            session,
            tenant,
            invoice_id=invoice_id,
            customer_id=customer_id,
            reason=form.get("reason", ""),
            until=until,
            actor=actor(staff),
        )
        target = f"invoice:{invoice_id}" if invoice_id else f"customer:{customer_id}"
        after = {"pause": row.id, "reason": row.reason, "until": row.until}
        audit(session, staff, "dunning.pause", None, after, target=target)
        return "/admin/paminnelser?done=paused#pauser"

    return await act(request, staff, FINANCE_ACTORS, work, "/admin/paminnelser")


@router.post("/admin/paminnelser/pauser/{pause_id}/avsluta")
async def resume(pause_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """End a pause: dunning goes on from the next tick."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        row = pauses.get(session, tenant, pause_id)
        before = {"pause": row.id, "ended_at": row.ended_at}
        pauses.end(session, tenant, pause_id)
        target = f"invoice:{row.invoice_id}" if row.invoice_id else f"customer:{row.customer_id}"
        audit(session, staff, "dunning.resume", before, {"pause": row.id, "ended_at": row.ended_at}, target=target)
        return "/admin/paminnelser?done=resumed#pauser"

    return await act(request, staff, FINANCE_ACTORS, work, "/admin/paminnelser")


@router.post("/admin/paminnelser/anstand")
async def extension(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """A payment extension (anstånd) for an invoice by number, given by the staff member."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        invoice = _invoice_by_number(session, tenant, form.get("invoice", ""))
        until = _day(form.get("until", ""), "until")
        if until is None:
            raise ValidationFailed("until: the new due date", param="until")
        reason = form.get("reason", "").strip() or None
        row = extensions.request(
            session, tenant, invoice.id, until=until, reason=reason, today=clock.today(), actor=actor(staff)
        )
        if row.state == "pending":
            row = extensions.decide(session, tenant, row.id, approve=True, actor=actor(staff), note=reason)
        after = {"extension": row.id, "until": row.until, "state": row.state}
        audit(session, staff, "dunning.payment_extension", None, after, target=f"invoice:{invoice.id}")
        return "/admin/paminnelser?done=extended#anstand"

    return await act(request, staff, FINANCE_ACTORS, work, "/admin/paminnelser")


@router.post("/admin/paminnelser/anstand/{extension_id}/beslut")
async def decide(extension_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Approve (``decision=approve``) or reject a waiting request for an extension."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        decision = form.get("decision", "")
        if decision not in ("approve", "reject"):
            raise ValidationFailed("decision: approve or reject", param="decision")
        row = extensions.get(session, tenant, extension_id)
        before = {"extension": row.id, "state": row.state}
        extensions.decide(session, tenant, extension_id, approve=decision == "approve", actor=actor(staff))
        after = {"extension": row.id, "state": row.state, "until": row.until}
        audit(session, staff, "dunning.decide_extension", before, after, target=f"invoice:{row.invoice_id}")
        return "/admin/paminnelser?done=decided#anstand"

    return await act(request, staff, FINANCE_ACTORS, work, "/admin/paminnelser")


# --- the dunning settings (admins) -----------------------------------------------------------


@router.post("/admin/paminnelser/installningar")
async def settings(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The extension limits and the collection agency, as ``PATCH /api/v1/dunning-settings``: an
    empty agency address removes it; the key field empty leaves the key, ``remove_key=1`` removes it."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        fields: dict[str, Any] = {
            "extension_auto_days": form.get("extension_auto_days", "").strip() or None,
            "extension_max_days": form.get("extension_max_days", "").strip() or None,
            "agency_url": form.get("agency_url", "").strip() or None,
        }
        key = form.get("agency_api_key", "").strip()
        if key:
            fields["agency_api_key"] = key
        elif form.get("remove_key") == "1":
            fields["agency_api_key"] = None
        data = SettingsUpdate.model_validate(fields)
        before = _settings_snapshot(extensions.settings_of(session, tenant))
        row = extensions.update_settings(session, tenant, data)
        audit_changes(session, staff, "dunning.settings", before, _settings_snapshot(row), target="dunning_settings")
        return "/admin/paminnelser?done=saved#installningar"

    return await act(request, staff, ADMINS, work, "/admin/paminnelser#installningar")


def _settings_snapshot(row: DunningSettings) -> dict[str, Any]:
    """What the audit log keeps: never the agency's key, only whether there is one."""
    return {
        "extension_auto_days": row.extension_auto_days,
        "extension_max_days": row.extension_max_days,
        "agency_url": row.agency_url,
        "agency_api_key_set": bool(row.agency_api_key),
    }
