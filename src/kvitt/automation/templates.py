"""The event chains Kvitt ships, for a tenant to install (switched off) and switch on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    rule: dict[str, Any]


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "autogiro_failed_swish",
            "When an autogiro debit fails, send the invoice by email with a message on the web invoice "
            "suggesting Swish or card (while money is left on it and the customer has an email address). "
            "Installed and switched on with a tenant's first autogiro mandate.",
            {
                "name": "Misslyckad autogirodragning: e-postfaktura med Swish",
                "trigger": "autogiro.failed",
                "conditions": [
                    {"field": "invoice.remaining", "op": "gt", "value": 0},
                    {"field": "customer.email", "op": "exists"},
                ],
                "actions": [
                    {
                        "type": "message",
                        "text": "Autogirodragningen för faktura {{ invoice.number }} gick inte igenom. "
                        "Betala enkelt med Swish eller kort direkt här på fakturan.",
                    },
                    {"type": "send", "channel": "email"},
                ],
            },
        ),
        Template(
            "email_failed_letter",
            "When an email with an invoice cannot be delivered (a bounce), send it as a letter. Use it "
            "instead of a delivery fallback chain email → letter, or you send two letters.",
            {
                "name": "E-post studsade: skicka brev",
                "trigger": "invoice.delivery_failed",
                "conditions": [
                    {"field": "channel", "op": "eq", "value": "email"},
                    {"field": "invoice.state", "op": "in", "value": ["unpaid", "partly_paid", "overdue"]},
                ],
                "actions": [{"type": "send", "channel": "letter"}],
            },
        ),
    )
}
