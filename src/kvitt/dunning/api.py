"""``/api/v1/dunning-policies``, ``/reminders``, ``/dunning-pauses``, ``/payment-extensions``,
``/instalment-plans``, ``/collection-cases``, ``/dunning-settings``, ``/reference-rates``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant, writes_on_read
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.dunning import collection, extensions, instalments, pauses, policies, service
from kvitt.dunning.law import LATE_INTEREST_MARGIN_BP
from kvitt.dunning.models import (
    CollectionCase,
    DunningPause,
    DunningPolicy,
    InstalmentPlan,
    PaymentExtension,
    Reminder,
)
from kvitt.dunning.schemas import (
    CaseOut,
    ExtensionCreate,
    ExtensionDecision,
    ExtensionOut,
    PauseCreate,
    PauseOut,
    PlanCreate,
    PlanOut,
    PolicyCreate,
    PolicyOut,
    PolicyUpdate,
    RateOut,
    ReminderOut,
    RunIn,
    RunOut,
    SettingsOut,
    SettingsUpdate,
)
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["dunning"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
ACTOR = "api"


def policy_out(p: DunningPolicy) -> PolicyOut:
    return PolicyOut(
        id=p.id,
        name=p.name,
        priority=p.priority,
        rules=p.rules,
        steps=p.steps,
        active=p.active,
        is_default=p.is_default,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def reminder_out(session: Session, tenant: Tenant, r: Reminder) -> ReminderOut:
    facts = service.reminder_facts(session, tenant.id, r.id)
    return ReminderOut(
        id=r.id,
        invoice=r.invoice_id,
        customer=r.customer_id,
        policy=r.policy_id,
        level=r.level,
        action=r.action,
        number=r.number,
        sent_on=r.sent_on,
        due_date=r.due_date,
        principal=r.principal,
        fee=r.fee,
        fee_kind=r.fee_kind,
        interest=r.interest,
        interest_from=r.interest_from,
        interest_to=r.interest_to,
        interest_rates_bp=r.interest_rates_bp,
        charge_invoice=r.charge_invoice_id,
        channel=r.channel,
        total_due=int(facts["total_due"]),
    )


def pause_out(p: DunningPause) -> PauseOut:
    return PauseOut(
        id=p.id,
        invoice=p.invoice_id,
        customer=p.customer_id,
        reason=p.reason,
        until=p.until,
        actor=p.actor,
        active=pauses.is_active(p, clock.today()),
        created_at=p.created_at,
        ended_at=p.ended_at,
    )


def extension_out(e: PaymentExtension) -> ExtensionOut:
    return ExtensionOut(
        id=e.id,
        invoice=e.invoice_id,
        until=e.until,
        reason=e.reason,
        state=e.state,
        requested_by=e.requested_by,
        decided_by=e.decided_by,
        decided_at=e.decided_at,
        created_at=e.created_at,
    )


def plan_out(p: InstalmentPlan) -> PlanOut:
    return PlanOut(
        id=p.id,
        invoice=p.invoice_id,
        amount=p.amount,
        fee=p.fee,
        charge_invoice=p.charge_invoice_id,
        parts=p.parts,
        state=p.state,
        created_at=p.created_at,
        ended_on=p.ended_on,
    )


def case_out(c: CollectionCase) -> CaseOut:
    return CaseOut(
        id=c.id,
        invoice=c.invoice_id,
        customer=c.customer_id,
        reminder=c.reminder_id,
        handed_over_on=c.handed_over_on,
        principal=c.principal,
        charges=c.charges,
        fee_kind=c.fee_kind,
        fee=c.fee,
        state=c.state,
        external_id=c.external_id,
        collected=c.collected,
        closed_reason=c.closed_reason,
        closed_on=c.closed_on,
    )


# --- policies ---------------------------------------------------------------------------------


@router.post("/dunning-policies", response_model=PolicyOut, status_code=201)
def create_policy(body: PolicyCreate, session: SessionDep, tenant: TenantDep) -> PolicyOut:
    """A policy: segment rules (all must hold) and steps. A fee above the legal cap is refused (422)."""
    return policy_out(policies.create(session, tenant, body))


@router.get("/dunning-policies", response_model=ListResponse[PolicyOut])
@writes_on_read
def list_policies(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[PolicyOut]:
    page = policies.list_page(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse[PolicyOut](data=[policy_out(p) for p in page.items], has_more=page.has_more)


@router.get("/dunning-policies/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: PathId, session: SessionDep, tenant: TenantDep) -> PolicyOut:
    return policy_out(policies.get(session, tenant, policy_id))


@router.patch("/dunning-policies/{policy_id}", response_model=PolicyOut)
def update_policy(policy_id: PathId, body: PolicyUpdate, session: SessionDep, tenant: TenantDep) -> PolicyOut:
    return policy_out(policies.update(session, tenant, policy_id, body))


@router.delete("/dunning-policies/{policy_id}", response_model=PolicyOut)
def delete_policy(policy_id: PathId, session: SessionDep, tenant: TenantDep) -> PolicyOut:
    return policy_out(policies.delete(session, tenant, policy_id))


# --- reminders --------------------------------------------------------------------------------


@router.get("/reminders", response_model=ListResponse[ReminderOut])
def list_reminders(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    invoice: QueryId = None,
) -> ListResponse[ReminderOut]:
    page = service.list_reminders(session, tenant, limit=limit, starting_after=starting_after, invoice=invoice)
    return ListResponse[ReminderOut](
        data=[reminder_out(session, tenant, r) for r in page.items], has_more=page.has_more
    )


@router.get("/reminders/{reminder_id}", response_model=ReminderOut)
def get_reminder(reminder_id: PathId, session: SessionDep, tenant: TenantDep) -> ReminderOut:
    return reminder_out(session, tenant, service.get_reminder(session, tenant, reminder_id))


# --- pauses -----------------------------------------------------------------------------------


@router.post("/dunning-pauses", response_model=PauseOut, status_code=201)
def create_pause(body: PauseCreate, session: SessionDep, tenant: TenantDep) -> PauseOut:
    row = pauses.pause(
        session,
        tenant,
        invoice_id=body.invoice,
        customer_id=body.customer,
        reason=body.reason,
        until=body.until,
        actor=ACTOR,
    )
    return pause_out(row)


@router.get("/dunning-pauses", response_model=ListResponse[PauseOut])
def list_pauses(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    invoice: QueryId = None,
    customer: QueryId = None,
) -> ListResponse[PauseOut]:
    page = pauses.list_page(
        session, tenant, limit=limit, starting_after=starting_after, invoice=invoice, customer=customer
    )
    return ListResponse[PauseOut](data=[pause_out(p) for p in page.items], has_more=page.has_more)


@router.post("/dunning-pauses/{pause_id}/end", response_model=PauseOut)
def end_pause(pause_id: PathId, session: SessionDep, tenant: TenantDep) -> PauseOut:
    return pause_out(pauses.end(session, tenant, pause_id))


# --- payment extensions (anstånd) -------------------------------------------------------------


@router.post("/payment-extensions", response_model=ExtensionOut, status_code=201)
def request_extension(body: ExtensionCreate, session: SessionDep, tenant: TenantDep) -> ExtensionOut:
    """The recipient asks to pay later (the web invoice calls the same service); approved at once
    when within the tenant's ``extension_auto_days``, else ``pending`` for a person."""
    row = extensions.request(
        session, tenant, body.invoice, until=body.until, reason=body.reason, today=clock.today(), actor="recipient"
    )
    return extension_out(row)


@router.get("/payment-extensions", response_model=ListResponse[ExtensionOut])
def list_extensions(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    state: Literal["pending", "approved", "rejected"] | None = None,
) -> ListResponse[ExtensionOut]:
    page = extensions.list_page(session, tenant, limit=limit, starting_after=starting_after, state=state)
    return ListResponse[ExtensionOut](data=[extension_out(e) for e in page.items], has_more=page.has_more)


@router.post("/payment-extensions/{extension_id}/approve", response_model=ExtensionOut)
def approve_extension(
    extension_id: PathId, session: SessionDep, tenant: TenantDep, body: ExtensionDecision | None = None
) -> ExtensionOut:
    note = body.reason if body else None
    return extension_out(extensions.decide(session, tenant, extension_id, approve=True, actor=ACTOR, note=note))


@router.post("/payment-extensions/{extension_id}/reject", response_model=ExtensionOut)
def reject_extension(
    extension_id: PathId, session: SessionDep, tenant: TenantDep, body: ExtensionDecision | None = None
) -> ExtensionOut:
    note = body.reason if body else None
    return extension_out(extensions.decide(session, tenant, extension_id, approve=False, actor=ACTOR, note=note))


# --- instalment plans -------------------------------------------------------------------------


@router.post("/instalment-plans", response_model=PlanOut, status_code=201)
def create_plan(body: PlanCreate, session: SessionDep, tenant: TenantDep) -> PlanOut:
    """Split what is left of an invoice into parts; a fee above 170 kr is refused (förordning 1981:1057)."""
    return plan_out(instalments.create(session, tenant, body, today=clock.today(), actor=ACTOR))


@router.get("/instalment-plans", response_model=ListResponse[PlanOut])
def list_plans(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[PlanOut]:
    page = instalments.list_page(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse[PlanOut](data=[plan_out(p) for p in page.items], has_more=page.has_more)


@router.get("/instalment-plans/{plan_id}", response_model=PlanOut)
def get_plan(plan_id: PathId, session: SessionDep, tenant: TenantDep) -> PlanOut:
    return plan_out(instalments.get(session, tenant, plan_id))


# --- collection -------------------------------------------------------------------------------


@router.get("/collection-cases/export", response_class=Response)
def export_cases(
    session: SessionDep, tenant: TenantDep, handed_over_on: Annotated[date | None, Query()] = None
) -> Response:
    """The cases as a CSV file for the agency (UTF-8, ``;``, amounts in öre)."""
    body = collection.export_csv(session, tenant, handed_over_on=handed_over_on)
    return Response(body, media_type="text/csv; charset=utf-8")


@router.get("/collection-cases", response_model=ListResponse[CaseOut])
def list_cases(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    state: Literal["pending", "open", "closed"] | None = None,
) -> ListResponse[CaseOut]:
    page = collection.list_page(session, tenant, limit=limit, starting_after=starting_after, state=state)
    return ListResponse[CaseOut](data=[case_out(c) for c in page.items], has_more=page.has_more)


@router.get("/collection-cases/{case_id}", response_model=CaseOut)
def get_case(case_id: PathId, session: SessionDep, tenant: TenantDep) -> CaseOut:
    return case_out(collection.get(session, tenant, case_id))


# --- the tick ---------------------------------------------------------------------------------


@router.post("/dunning/run", response_model=RunOut)
def run_tick(body: RunIn, session: SessionDep, tenant: TenantDep) -> RunOut:
    """Take the dunning steps due on ``date`` now (the worker does this daily; running it again for
    the same date sends nothing twice)."""
    result = service.run(session, tenant, today=body.date, actor=ACTOR)
    return RunOut(
        date=result.date,
        reminders=result.reminders,
        collections=result.collections,
        fees=result.fees,
        interest=result.interest,
        charge_invoices=result.charge_invoices,
        plans_broken=result.plans_broken,
    )


# --- settings and reference rates -------------------------------------------------------------


def settings_out(session: Session, tenant: Tenant) -> SettingsOut:
    row = extensions.settings_of(session, tenant)
    return SettingsOut(
        extension_auto_days=row.extension_auto_days,
        extension_max_days=row.extension_max_days,
        agency_url=row.agency_url,
        agency_api_key_set=bool(row.agency_api_key),
    )


@router.get("/dunning-settings", response_model=SettingsOut)
@writes_on_read
def get_settings(session: SessionDep, tenant: TenantDep) -> SettingsOut:
    return settings_out(session, tenant)


@router.patch("/dunning-settings", response_model=SettingsOut)
def update_settings(body: SettingsUpdate, session: SessionDep, tenant: TenantDep) -> SettingsOut:
    extensions.update_settings(session, tenant, body)
    return settings_out(session, tenant)


@router.get("/reference-rates", response_model=ListResponse[RateOut])
def list_reference_rates(session: SessionDep, tenant: TenantDep) -> ListResponse[RateOut]:
    """Riksbanken's reference rates Kvitt knows (the operator keeps them: ``kvitt dunning rates set``),
    newest first, with the late-interest rate each gives (+ 8 percentage points, Räntelagen 6 §)."""
    rows = service.reference_rates(session)
    data = [
        RateOut(
            valid_from=r.valid_from,
            rate_bp=r.rate_bp,
            late_interest_bp=r.rate_bp + LATE_INTEREST_MARGIN_BP,
            source=r.source,
        )
        for r in rows
    ]
    return ListResponse[RateOut](data=data, has_more=False)
