"""The back office's navigation: each page, its address, its Swedish name and who may open it."""

from __future__ import annotations

from dataclasses import dataclass

from kvitt.admin.auth import ALL_ROLES


@dataclass(frozen=True)
class NavItem:
    key: str
    path: str
    label: str  # Swedish; the English is in texts.EN
    roles: tuple[str, ...]


READERS = ALL_ROLES
OPERATIONS = ("admin", "finance", "support", "read_only")
FINANCE = ("admin", "finance", "read_only")
ADMINS = ("admin",)

NAV = (
    NavItem("overview", "/admin", "Översikt", READERS),
    NavItem("customers", "/admin/kunder", "Kunder", OPERATIONS),
    NavItem("invoices", "/admin/fakturor", "Fakturor", OPERATIONS),
    NavItem("deviations", "/admin/avvikelser", "Avvikelser", FINANCE),
    NavItem("messages", "/admin/meddelanden", "Meddelanden", OPERATIONS),
    NavItem("dunning", "/admin/paminnelser", "Påminnelser och inkasso", FINANCE),
    NavItem("automation", "/admin/handelsekedjor", "Händelsekedjor", ("admin", "marketing", "read_only")),
    NavItem("engagement", "/admin/engagemang", "Engagemang", ("admin", "marketing", "read_only")),
    NavItem("billing", "/admin/fakturering", "Fakturering", FINANCE),
    NavItem("settings", "/admin/installningar", "Inställningar", ADMINS),
    NavItem("api_keys", "/admin/api-nycklar", "API-nycklar", ADMINS),
    NavItem("webhooks", "/admin/webhooks", "Webhooks", ADMINS),
    NavItem("users", "/admin/anvandare", "Användare", ADMINS),
    NavItem("audit", "/admin/granskningslogg", "Granskningslogg", ADMINS),
)
BY_KEY = {item.key: item for item in NAV}


def roles_of(key: str) -> tuple[str, ...]:
    """The roles that may open the page, for ``require_staff`` (never empty: an admin-only page
    names ``admin``, since no roles would mean any staff member)."""
    return BY_KEY[key].roles
