"""What a firing does. Each action uses the owning feature's service function, imported when
the action runs, so that event chains depend on delivery, messages and dunning only when a
tenant's rule asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from kvitt.automation import conditions
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.core import clock
from kvitt.core.errors import KvittError
from kvitt.tenants.models import Tenant

Context = tuple[Session, Tenant, AutomationRule, AutomationFiring, dict[str, Any]]
Runner = Callable[[Context, dict[str, Any]], dict[str, Any]]


class ActionFailed(Exception):
    """An action could not be done; ``results`` says what the ones before it had done."""

    def __init__(self, message: str, results: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.results = results


def run_actions(
    session: Session, tenant: Tenant, rule: AutomationRule, firing: AutomationFiring, facts: dict[str, Any]
) -> list[dict[str, Any]]:
    context: Context = (session, tenant, rule, firing, facts)
    results: list[dict[str, Any]] = []
    for i, action in enumerate(rule.actions):
        runner = RUNNERS.get(action.get("type", ""))
        try:
            if runner is None:
                raise ValueError(f"unknown action {action.get('type')!r}")
            results.append({"type": action["type"], **runner(context, action)})
        # What bad rule data or a refused action raises; a bug (an ImportError, a TypeError...)
        # is not an action's failure: it fails the job, visible in `kvitt jobs` (docs/operations.md).
        except (KvittError, ValueError, LookupError) as exc:
            message = exc.message if isinstance(exc, KvittError) else str(exc)
            raise ActionFailed(f"actions[{i}] ({action.get('type')}): {message}", results) from exc
    return results


def _invoice_id(context: Context) -> int:
    invoice_id = context[3].invoice_id
    if invoice_id is None:
        raise ValueError("the event names no invoice")
    return invoice_id


def _customer_id(context: Context) -> int:
    customer_id = context[3].customer_id
    if customer_id is None:
        raise ValueError("the event names no customer")
    return customer_id


def send(context: Context, action: dict[str, Any]) -> dict[str, Any]:
    from kvitt.delivery.service import RESEND, request_delivery

    session, tenant, rule, _, _ = context
    invoice_id = _invoice_id(context)
    # A new delivery on purpose ("resend"): the automatic one of the invoice was made already.
    request_delivery(
        session, tenant.id, invoice_id, channel=action.get("channel"), reason=RESEND, actor=f"automation:{rule.id}"
    )
    return {"invoice": invoice_id, "channel": action.get("channel")}


def message(context: Context, action: dict[str, Any]) -> dict[str, Any]:
    from kvitt.web.messages import post_message

    session, tenant, _, _, facts = context
    text = conditions.render(action["text"], facts)
    posted = post_message(session, tenant.id, _invoice_id(context), author="system", text=text)
    return {"message": posted.get("id"), "text": text}


def add_tag(context: Context, action: dict[str, Any]) -> dict[str, Any]:
    return _tag(context, action["tag"], add=True)


def remove_tag(context: Context, action: dict[str, Any]) -> dict[str, Any]:
    return _tag(context, action["tag"], add=False)


def _tag(context: Context, tag: str, *, add: bool) -> dict[str, Any]:
    from kvitt.customers import service as customers

    session, tenant, _, _, _ = context
    customer = customers.get(session, tenant, _customer_id(context))
    attributes = dict(customer.attributes or {})
    tags = [t for t in attributes.get("tags") or [] if isinstance(t, str)]
    changed = (tag not in tags) if add else (tag in tags)
    if changed:
        tags = [*tags, tag] if add else [t for t in tags if t != tag]
        customers.set_attributes(session, tenant, customer.id, {**attributes, "tags": tags})
    return {"customer": customer.id, "tag": tag, "changed": changed}


def pause_dunning(context: Context, action: dict[str, Any]) -> dict[str, Any]:
    from kvitt.dunning.service import pause

    session, tenant, rule, _, _ = context
    until = clock.today() + timedelta(days=action["days"]) if action.get("days") else None
    reason = f"{action.get('reason') or 'automation'} (rule {rule.id})"
    actor = f"automation:{rule.id}"
    if action.get("scope") == "customer":
        scope = {"customer": _customer_id(context)}
        paused = pause(session, tenant.id, customer_id=scope["customer"], reason=reason, until=until, actor=actor)
    else:
        scope = {"invoice": _invoice_id(context)}
        paused = pause(session, tenant.id, invoice_id=scope["invoice"], reason=reason, until=until, actor=actor)
    return {**scope, "pause": getattr(paused, "id", None), "until": until.isoformat() if until else None}


def notify_staff(context: Context, action: dict[str, Any]) -> dict[str, Any]:
    from kvitt.delivery.service import notify_staff as notify

    session, tenant, _, _, facts = context
    subject = conditions.render(action["subject"], facts)
    notify(session, tenant.id, subject, conditions.render(action["text"], facts))
    return {"subject": subject, "to": tenant.email}


def webhook(context: Context, action: dict[str, Any]) -> dict[str, Any]:
    from kvitt.webhooks import service as webhooks

    session, tenant, rule, firing, _ = context
    endpoint = webhooks.get_endpoint(session, tenant, int(action["endpoint"]))
    sent = webhooks.record_event(
        session,
        tenant,
        firing.event_type,
        firing.event,
        source_key=f"automation:{firing.id}",
        extra={"rule": {"id": rule.id, "name": rule.name}},
    )
    webhooks.deliver_event_to(session, tenant, endpoint, sent)
    return {"endpoint": endpoint.id, "event": sent.public_id}


RUNNERS: dict[str, Runner] = {
    "send": send,
    "message": message,
    "add_tag": add_tag,
    "remove_tag": remove_tag,
    "pause_dunning": pause_dunning,
    "notify_staff": notify_staff,
    "webhook": webhook,
}
