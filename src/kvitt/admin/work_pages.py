"""*Påminnelser och inkasso*, *Händelsekedjor*, *Fakturering* and *Inställningar*: what is there,
read from the features' tables, each as tables on one page. Changes to these are made with the
API for now (each section says which endpoint); docs/admin.md says what is not built yet.

- Påminnelser och inkasso: the next dunning steps by day, the latest reminders, collection cases,
  active pauses.
- Händelsekedjor: the rules and their latest firings.
- Fakturering: billing runs with their progress and results, imported billing files.
- Inställningar: the tenant's invoicing settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, read
from kvitt.admin.nav import roles_of
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.billing.models import BillingRun
from kvitt.billing_files.models import BillingFile
from kvitt.core import clock
from kvitt.dunning.models import CollectionCase, DunningPause, NextStep, Reminder
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    api: str = ""  # the API endpoint for changes
    links: list[str | None] | None = None  # per row: where the first cell leads


def _page(request: Request, staff: StaffMember, nav: str, title: str, build: Callable[..., list[Table]]) -> Response:
    lang = render.language_of(request, staff)
    tables = read(request, staff, lambda session, tenant: build(session, tenant, lang))
    return render.page(request, staff, "admin/tables.html", {"title": title, "tables": tables}, nav=nav)


def _money(lang: str) -> Callable[[int | None], str]:
    return lambda ore: render.money(ore, lang)


def dunning_tables(session: Session, tenant: Tenant, lang: str) -> list[Table]:
    money, t = _money(lang), tenant.id
    steps = session.execute(
        select(NextStep.next_on, func.count())
        .where(NextStep.tenant_id == t, NextStep.next_on >= clock.today())
        .group_by(NextStep.next_on)
        .order_by(NextStep.next_on)
        .limit(14)
    ).all()
    due_now = session.scalar(select(func.count()).where(NextStep.tenant_id == t, NextStep.next_on <= clock.today()))
    reminders = session.execute(
        select(Reminder, Invoice.number)
        .join(Invoice, Invoice.id == Reminder.invoice_id)
        .where(Reminder.tenant_id == t, Invoice.tenant_id == t)
        .order_by(Reminder.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    cases = session.scalars(
        select(CollectionCase).where(CollectionCase.tenant_id == t).order_by(CollectionCase.id.desc()).limit(PAGE_SIZE)
    ).all()
    paused = session.scalars(
        select(DunningPause)
        .where(DunningPause.tenant_id == t, DunningPause.ended_at.is_(None))
        .order_by(DunningPause.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    return [
        Table(
            "Nästa steg",
            ["Dag", "Fakturor"],
            [["idag och tidigare", due_now or 0]] + [[d.isoformat(), n] for d, n in steps],
        ),
        Table(
            "Senaste påminnelserna",
            ["Faktura", "Nivå", "Åtgärd", "Skickad", "Nytt förfallodatum", "Kapital", "Avgift", "Ränta"],
            [
                [num, r.level, r.action, r.sent_on, r.due_date, money(r.principal), money(r.fee), money(r.interest)]
                for r, num in reminders
            ],
            links=[f"/admin/fakturor/{r.invoice_id}" for r, _ in reminders],
        ),
        Table(
            "Inkassoärenden",
            ["Faktura", "Överlämnad", "Kapital", "Avgifter", "Status"],
            [[c.invoice_id, c.handed_over_on, money(c.principal), money(c.charges), c.state] for c in cases],
            links=[f"/admin/fakturor/{c.invoice_id}" for c in cases],
        ),
        Table(
            "Pauser",
            ["Kund eller faktura", "Orsak", "Till och med", "Av"],
            [
                [
                    f"kund {p.customer_id}" if p.customer_id else f"faktura {p.invoice_id}",
                    p.reason,
                    p.until or "",
                    p.actor,
                ]
                for p in paused
            ],
            api="/api/v1/dunning-pauses",
            links=[
                f"/admin/kunder/{p.customer_id}" if p.customer_id else f"/admin/fakturor/{p.invoice_id}" for p in paused
            ],
        ),
    ]


def automation_tables(session: Session, tenant: Tenant, lang: str) -> list[Table]:
    rules = session.scalars(
        select(AutomationRule).where(AutomationRule.tenant_id == tenant.id).order_by(AutomationRule.id)
    ).all()
    firings = session.scalars(
        select(AutomationFiring)
        .where(AutomationFiring.tenant_id == tenant.id)
        .order_by(AutomationFiring.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    names = {rule.id: rule.name for rule in rules}
    return [
        Table(
            "Regler",
            ["Namn", "När", "Väntar (min)", "Åtgärder", "På"],
            [
                [
                    r.name,
                    r.trigger,
                    r.wait_minutes,
                    ", ".join(a.get("type", "") for a in r.actions),
                    "ja" if r.enabled else "nej",
                ]
                for r in rules
            ],
            api="/api/v1/automation-rules",
        ),
        Table(
            "Senaste körningarna",
            ["Regel", "Händelse", "Status", "Faktura", "Fel"],
            [
                [names.get(f.rule_id, f.rule_id), f.event_type, f.state, f.invoice_id or "", f.error or ""]
                for f in firings
            ],
        ),
    ]


def billing_tables(session: Session, tenant: Tenant, lang: str) -> list[Table]:
    money = _money(lang)
    runs = session.scalars(
        select(BillingRun).where(BillingRun.tenant_id == tenant.id).order_by(BillingRun.id.desc()).limit(PAGE_SIZE)
    ).all()
    files = session.scalars(
        select(BillingFile).where(BillingFile.tenant_id == tenant.id).order_by(BillingFile.id.desc()).limit(PAGE_SIZE)
    ).all()
    return [
        Table(
            "Faktureringskörningar",
            ["Dag", "Status", "Delar klara", "Abonnemang", "Fakturor", "Belopp", "Fel"],
            [
                [
                    r.run_date,
                    r.state,
                    f"{r.partitions_done}/{r.partitions}",
                    r.subscriptions_due,
                    r.invoices,
                    money(r.total),
                    r.error_count,
                ]
                for r in runs
            ],
            api="/api/v1/billing-runs",
        ),
        Table(
            "Faktureringsfiler",
            ["Fil", "Status", "Rader", "Fakturor", "Hoppade över", "Belopp", "Fel"],
            [
                [f.filename or f.id, f.state, f.rows, f.invoices, f.skipped, money(f.total), len(f.errors)]
                for f in files
            ],
            api="/api/v1/billing-files",
        ),
    ]


def settings_tables(session: Session, tenant: Tenant, lang: str) -> list[Table]:
    money = _money(lang)
    rows: list[list[Any]] = [
        ["Namn", tenant.name],
        ["Organisationsnummer", tenant.org_number],
        ["Momsnummer", tenant.vat_number or ""],
        ["Bankgiro", tenant.bankgiro or ""],
        ["Plusgiro", tenant.plusgiro or ""],
        ["Swish", tenant.swish_number or ""],
        ["Betalningsvillkor (dagar)", tenant.payment_terms_days],
        ["Fakturaavgift", money(tenant.invoice_fee)],
        ["Påminnelseavgift", money(tenant.reminder_fee)],
        ["Dröjsmålsränta", "ja" if tenant.late_interest else "nej"],
        ["Avrundning till hela kronor", "ja" if tenant.round_to_krona else "nej"],
        ["Förvald kanal", tenant.default_delivery],
        ["Språk", tenant.locale],
    ]
    return [Table("Fakturering", ["Inställning", "Värde"], rows, api="/api/v1/tenant")]


@router.get("/admin/paminnelser")
def dunning_page(request: Request, staff: StaffMember = Depends(require_staff(*roles_of("dunning")))) -> Response:
    return _page(request, staff, "dunning", "Påminnelser och inkasso", dunning_tables)


@router.get("/admin/handelsekedjor")
def automation_page(request: Request, staff: StaffMember = Depends(require_staff(*roles_of("automation")))) -> Response:
    return _page(request, staff, "automation", "Händelsekedjor", automation_tables)


@router.get("/admin/fakturering")
def billing_page(request: Request, staff: StaffMember = Depends(require_staff(*roles_of("billing")))) -> Response:
    return _page(request, staff, "billing", "Fakturering", billing_tables)


@router.get("/admin/installningar")
def settings_page(request: Request, staff: StaffMember = Depends(require_staff(*roles_of("settings")))) -> Response:
    return _page(request, staff, "settings", "Inställningar", settings_tables)
