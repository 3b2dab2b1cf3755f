"""The domain event types Kvitt publishes, for webhook subscriptions and event-chain triggers.

The name is the type as it travels on the outbox (``invoice.<timeline event>`` for everything
that happens to an invoice). A few names people naturally write (``reminder.sent``,
``payment.received``, ``message.received``) are accepted as aliases of the published type, so
that a rule written either way fires on the same event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    subject: str  # what the event is about: invoice | customer | payment
    description: str


CATALOGUE: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType("invoice.created", "invoice", "a draft invoice was created"),
        EventType("invoice.updated", "invoice", "a draft invoice was changed"),
        EventType("invoice.issued", "invoice", "an invoice or credit note was issued (numbered, booked)"),
        EventType("invoice.sent", "invoice", "an invoice was handed to a channel (email, sms, letter, einvoice)"),
        EventType("invoice.delivered", "invoice", "a channel reported the invoice delivered"),
        EventType("invoice.delivery_failed", "invoice", "a channel could not deliver (bounce, bad number ...)"),
        EventType("invoice.letter_sent", "invoice", "a printed letter went to the print partner"),
        EventType("invoice.opened", "invoice", "the recipient opened the web invoice"),
        EventType("invoice.payment", "invoice", "money was put on the invoice"),
        EventType("invoice.paid", "invoice", "the invoice is fully paid"),
        EventType("invoice.overpayment", "invoice", "more money came than the invoice asked for"),
        EventType("invoice.overdue", "invoice", "the due date passed with money left to pay"),
        EventType("invoice.credited", "invoice", "a credit note credited the invoice"),
        EventType("invoice.written_off", "invoice", "what was left on the invoice was written off"),
        EventType("invoice.reminder_sent", "invoice", "a reminder (påminnelse) was sent"),
        EventType("invoice.in_collection", "invoice", "the invoice was handed to a collection agency"),
        EventType("invoice.message_received", "invoice", "the recipient wrote a message on the web invoice"),
        EventType("invoice.message_sent", "invoice", "staff or the system wrote on the web invoice"),
        EventType("invoice.recipient_settings_changed", "invoice", "the recipient changed delivery settings"),
        EventType("invoice.offer_clicked", "invoice", "the recipient clicked an offer on the invoice (engagement)"),
        EventType("invoice.survey_answered", "invoice", "the recipient answered a survey on the invoice (engagement)"),
        EventType("invoice.extension_requested", "invoice", "the recipient asked for more time (anstånd)"),
        EventType("invoice.extension_approved", "invoice", "a payment extension was approved"),
        EventType("invoice.extension_rejected", "invoice", "a payment extension was rejected"),
        EventType("invoice.instalment_plan_created", "invoice", "the debt was split into an instalment plan"),
        EventType("invoice.instalment_plan_broken", "invoice", "an instalment was not paid"),
        EventType("invoice.instalment_plan_completed", "invoice", "every instalment was paid"),
        EventType("invoice.collection_payment", "invoice", "the collection agency reported a payment"),
        EventType("invoice.collection_ended", "invoice", "the collection agency closed the case"),
        EventType("autogiro.failed", "invoice", "an autogiro debit of the invoice failed"),
        EventType("invoice.autogiro_failed", "invoice", "the timeline's record of a failed autogiro debit"),
        EventType("autogiro.debited", "invoice", "an autogiro debit of the invoice went through"),
        EventType("autogiro.retrying", "invoice", "Bankgirot tries the debit again (status 9); a later file answers"),
        EventType("invoice.autogiro_retrying", "invoice", "the timeline's record of a debit Bankgirot tries again"),
        EventType(
            "autogiro.refunded", "invoice", "a debit was paid back to the payer (TK77): the invoice is open again"
        ),
        EventType("invoice.payment_reversed", "invoice", "the timeline's record of a payment taken back"),
        EventType("autogiro.credit.created", "customer", "a credit to the payer's account was asked for (TK32)"),
        EventType("autogiro.credit.paid", "customer", "Bankgirot paid the credit out: the refund is booked"),
        EventType(
            "autogiro.credit.failed", "customer", "Bankgirot did not pay the credit out (status or comment code)"
        ),
        EventType("autogiro.credit.cancelled", "customer", "a credit was dropped before it was sent"),
        EventType("autogiro.mandate.created", "customer", "an autogiro mandate was registered (pending)"),
        EventType("autogiro.mandate.sent", "customer", "a mandate (or its cancellation) went to Bankgirot"),
        EventType("autogiro.mandate.activated", "customer", "Bankgirot accepted the mandate: debits can start"),
        EventType("autogiro.mandate.rejected", "customer", "Bankgirot refused the mandate (comment code)"),
        EventType("autogiro.mandate.cancelled", "customer", "the mandate was cancelled (payee, payer or bank)"),
        EventType(
            "autogiro.mandate.payer_number_change_requested", "customer", "a new payer number was asked for (TK05)"
        ),
        EventType("autogiro.mandate.payer_number_changed", "customer", "Bankgirot moved the mandate to its new number"),
        EventType(
            "autogiro.mandate.payer_number_change_rejected", "customer", "Bankgirot refused the change (comment code)"
        ),
    )
}

ALIASES = {
    "payment.received": "invoice.payment",
    "reminder.sent": "invoice.reminder_sent",
    "message.received": "invoice.message_received",
    "invoice.message": "invoice.message_received",
    "offer_clicked": "invoice.offer_clicked",
    "survey_answered": "invoice.survey_answered",
}


def canonical(name: str) -> str | None:
    """The published type for ``name`` (an alias or a type), or None when Kvitt knows no such event."""
    name = ALIASES.get(name, name)
    return name if name in CATALOGUE else None


def subject_of(name: str) -> str | None:
    event = CATALOGUE.get(name)
    return event.subject if event else None


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether a subscription (``*``, ``invoice.*`` or exact types) covers ``event_type``."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def normalise_patterns(patterns: list[str]) -> list[str]:
    """Subscriptions as stored; raises ValueError naming the first unknown event type."""
    out: list[str] = []
    for pattern in patterns:
        if pattern == "*" or (pattern.endswith(".*") and any(n.startswith(pattern[:-1]) for n in CATALOGUE)):
            out.append(pattern)
            continue
        name = canonical(pattern)
        if name is None:
            raise ValueError(f"unknown event type {pattern!r}; see GET /api/v1/event-types for the catalogue")
        out.append(name)
    if not out:
        raise ValueError('name at least one event type, or ["*"] for all')
    return sorted(set(out))
