"""The recipient changes how invoices reach them: delivery method, email, phone, language.

Each change updates the customer (through the customers service, which validates email and
phone with ``core.identity``) and is recorded on the invoice's timeline as a
``recipient_settings_changed`` event naming what changed, from what to what. A method needs
its address: email needs an email address, SMS a phone number.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from kvitt.core import identity
from kvitt.core.errors import ValidationFailed
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerUpdate
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.tenants.models import Tenant

# What a recipient may choose on the page; an e-invoice needs the issuer's set-up, so it is
# kept when it is already the method but never offered.
RECIPIENT_METHODS = ("email", "sms", "letter")
LANGUAGES = ("sv", "en")
CHANGED = "recipient_settings_changed"


class SettingsRejected(ValueError):
    """Per field, what is wrong (the page shows it next to the field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def change_settings(
    session: Session, tenant: Tenant, invoice: Invoice, form: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Apply the settings form; returns the changes ``{field: {"from": old, "to": new}}``."""
    customer = customers.get(session, tenant, invoice.customer_id)
    errors: dict[str, str] = {}
    wanted: dict[str, Any] = {}

    method = form.get("delivery_method", customer.delivery_method)
    if method not in RECIPIENT_METHODS and method != customer.delivery_method:
        errors["delivery_method"] = "unknown"
    wanted["delivery_method"] = method

    # A field the form did not send keeps its value; one sent empty is cleared.
    email = form.get("email", customer.email or "").strip()
    try:
        wanted["email"] = identity.email_address(email) if email else None
    except ValueError:
        errors["email"] = "invalid"
    phone = form.get("phone", customer.phone or "").strip()
    try:
        wanted["phone"] = identity.phone_e164(phone) if phone else None
    except ValueError:
        errors["phone"] = "invalid"
    language = form.get("language", customer.language)
    if language not in LANGUAGES:
        errors["language"] = "unknown"
    wanted["language"] = language

    if method == "email" and not email and "email" not in errors:
        errors["email"] = "required"
    if method == "sms" and not phone and "phone" not in errors:
        errors["phone"] = "required"
    if errors:
        raise SettingsRejected(errors)

    changes = {
        field: {"from": getattr(customer, field), "to": value}
        for field, value in wanted.items()
        if getattr(customer, field) != value
    }
    if not changes:
        return {}
    try:
        update = CustomerUpdate(**{field: change["to"] for field, change in changes.items()})
    except ValidationError as exc:  # the customer schema's own checks, should they be stricter
        raise ValidationFailed(str(exc.errors()[0]["msg"]), param="settings") from exc
    customers.update(session, tenant, customer.id, update)
    record(session, tenant.id, [Happening(invoice.id, CHANGED, "recipient", {"changes": changes})])
    return changes
