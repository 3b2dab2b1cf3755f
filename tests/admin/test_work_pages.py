"""Påminnelser och inkasso, Händelsekedjor, Fakturering, Inställningar: roles and tenants."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import Staff

PAGES = ("/admin/paminnelser", "/admin/handelsekedjor", "/admin/fakturering", "/admin/installningar")
ALLOWED = {
    "finance": {"/admin/paminnelser", "/admin/fakturering"},
    "support": set(),
    "marketing": {"/admin/handelsekedjor"},
    "read_only": {"/admin/paminnelser", "/admin/handelsekedjor", "/admin/fakturering"},
}


def test_an_admin_opens_them_all_in_both_languages(admin: Staff) -> None:
    for path in PAGES:
        assert admin.get(path).status_code == 200, path
    assert "Billing runs" in admin.get("/admin/fakturering?lang=en").text


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_opens_only_its_pages(staff_factory: Any, role: str) -> None:
    staff = staff_factory(role)
    for path in PAGES:
        assert staff.get(path).status_code == (200 if path in ALLOWED[role] else 403), (role, path)


def test_nothing_of_another_tenant_is_shown(admin: Staff, api_b: Any) -> None:
    rule = {"name": "Regel hos B", "trigger": "invoice.issued", "actions": [{"type": "add_tag", "tag": "b"}]}
    assert api_b.post("/automation-rules", rule).status_code == 201
    assert api_b.post("/billing-runs", {"date": "2026-01-01"}).status_code == 202
    assert "Regel hos B" not in admin.get("/admin/handelsekedjor").text
    billing = admin.get("/admin/fakturering").text
    assert "2026-01-01" not in billing and "Inget här ännu." in billing
    settings = admin.get("/admin/installningar").text
    assert "Norrsken Telekom AB" in settings and "Fjällström" not in settings
