"""One interface for every provider a payment request goes through (Swish, a card PSP).

An adapter turns the provider's documented API into :class:`Answer`: what the provider says
about a payment request or a refund right now. Kvitt acts only on an answer it fetched itself
(never on what a callback carried), so a forged or replayed callback can at most make Kvitt ask
again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from kvitt.checkout.models import PaymentRequest, Refund
from kvitt.tenants.models import Tenant


@dataclass
class Answer:
    """The provider's view of a request or refund (``status`` in Kvitt's words)."""

    status: str  # created | paid | declined | error | cancelled
    reference: str | None = None  # the provider's id of the request (Swish: instruction id; Stripe: pi_...)
    amount: int | None = None  # öre, as the provider states it
    payment_reference: str | None = None  # the provider's id of the money movement
    paid_on: date | None = None
    token: str | None = None  # what the payer's device needs (Swish token, Stripe client_secret)
    error_code: str | None = None
    error_message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Start:
    """What a provider needs to open a request: amounts, references and where to call back."""

    amount: int
    currency: str
    reference: str  # the invoice's OCR (or number)
    message: str
    payee_alias: str | None
    payer_alias: str | None
    callback_url: str
    invoice_id: int
    tenant_id: int


class ProviderRefused(Exception):
    """The provider refused the call for good (a validation error, a declined card): the
    request or refund ends with this code; trying again would change nothing."""

    def __init__(self, code: str, message: str, *, status: str = "error") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered 5xx: try again later."""


class Provider(Protocol):
    method: str

    def start(self, request: PaymentRequest, start: Start) -> Answer: ...

    def fetch(self, request: PaymentRequest) -> Answer: ...

    def cancel(self, request: PaymentRequest) -> Answer:
        """Ask the provider to end an open request; answers what it is now (``cancelled``, or
        ``paid`` when the payer was quicker: that money is real and is booked)."""
        ...

    def refund(self, request: PaymentRequest, refund: Refund, callback_url: str) -> Answer: ...

    def fetch_refund(self, refund: Refund) -> Answer: ...


_factories: dict[str, Callable[[Tenant], Provider]] = {}


def register(method: str, factory: Callable[[Tenant], Provider]) -> None:
    """The adapter for ``method``, made per tenant (its own certificate, where it has one)."""
    _factories[method] = factory


def for_method(method: str, tenant: Tenant) -> Provider:
    if method not in _factories:
        raise LookupError(f"no provider for {method!r}")
    return _factories[method](tenant)


def use(method: str, factory: Callable[[Tenant], Provider]) -> Callable[[], None]:
    """Replace the adapter for ``method`` (tests); returns a function that puts the old one back."""
    old = _factories.get(method)
    _factories[method] = factory

    def restore() -> None:
        if old is None:
            _factories.pop(method, None)
        else:
            _factories[method] = old

    return restore
