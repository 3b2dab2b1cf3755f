"""In-process subscribers to domain events, run by the worker from the outbox.

Later features (webhooks, event chains, notifications) subscribe here; each subscriber runs
in the job's transaction, so a failure retries the event for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Subscriber = Callable[[Session, int | None, dict[str, Any]], None]
_subscribers: list[tuple[str, Subscriber]] = []


def subscribe(prefix: str) -> Callable[[Subscriber], Subscriber]:
    """Call the decorated function for every event whose type starts with ``prefix``."""

    def register(subscriber: Subscriber) -> Subscriber:
        _subscribers.append((prefix, subscriber))
        return subscriber

    return register


def dispatch(session: Session, tenant_id: int | None, event: dict[str, Any]) -> int:
    """Hand an event to its subscribers; returns how many there were."""
    matching = [s for prefix, s in _subscribers if str(event.get("type", "")).startswith(prefix)]
    for subscriber in matching:
        subscriber(session, tenant_id, event)
    return len(matching)
