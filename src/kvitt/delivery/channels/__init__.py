"""The channel adapters: one small module per way of reaching a customer, behind one interface.

An adapter turns a prepared message into a call to its provider (SMTP server, 46elks, access
point, print folder) and reports the outcome by returning a provider reference or by raising
:class:`TemporaryFailure` (retry later: SMTP 4xx, HTTP 5xx, timeouts) or
:class:`PermanentFailure` (the next channel of the fallback chain takes over).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EMAIL, SMS, LETTER, EINVOICE = "email", "sms", "letter", "einvoice"
CHANNELS = (EMAIL, SMS, LETTER, EINVOICE)


class DeliveryError(Exception):
    """A channel could not deliver; ``message`` says why in words a person can act on."""


class TemporaryFailure(DeliveryError):
    """Try again later (the outbox's retry with backoff)."""


class PermanentFailure(DeliveryError):
    """Retrying will not help: fall back to the next channel."""


@dataclass
class Sent:
    """What a provider answered when it took a message."""

    provider_ref: str | None
    data: dict[str, Any] = field(default_factory=dict)
