"""The invoice's states and what can be done from each."""

from __future__ import annotations

from kvitt.core.errors import InvalidState

DRAFT = "draft"
UNPAID = "unpaid"
PARTLY_PAID = "partly_paid"
OVERDUE = "overdue"
IN_COLLECTION = "in_collection"
PAID = "paid"
CREDITED = "credited"
WRITTEN_OFF = "written_off"

STATES = (DRAFT, UNPAID, PARTLY_PAID, OVERDUE, IN_COLLECTION, PAID, CREDITED, WRITTEN_OFF)
OPEN_STATES = (UNPAID, PARTLY_PAID, OVERDUE, IN_COLLECTION)

_INVOICE_ACTIONS: dict[str, tuple[str, ...]] = {
    DRAFT: ("update", "delete", "issue"),
    UNPAID: ("credit", "pay", "write_off"),
    PARTLY_PAID: ("credit", "pay", "write_off"),
    OVERDUE: ("credit", "pay", "write_off"),
    IN_COLLECTION: ("credit", "pay", "write_off"),
    # A paid invoice may be credited: the money that paid it is freed to the customer's credit
    # balance (payments feature) and paid back, or spent on their next invoice.
    PAID: ("credit",),
    CREDITED: (),
    WRITTEN_OFF: (),
}


def available_actions(kind: str, state: str) -> list[str]:
    if kind == "credit_note":
        return []
    return list(_INVOICE_ACTIONS[state])


def require_action(kind: str, state: str, action: str) -> None:
    actions = available_actions(kind, state)
    if action not in actions:
        raise InvalidState(
            f"cannot {action.replace('_', ' ')} an invoice that is {state.replace('_', ' ')}",
            available_actions=actions,
        )


def open_state_after_change(state: str, *, paid: int, remaining: int, overdue: bool) -> str:
    """The state of an issued invoice once its amounts have moved."""
    if remaining == 0:
        return PAID
    if state == IN_COLLECTION:
        return IN_COLLECTION
    if overdue:
        return OVERDUE
    return PARTLY_PAID if paid > 0 else UNPAID
