"""Inställningar: an admin changes the tenant's details, channels and fees through the services
the API uses; every other role is refused on the server, a form without the session's CSRF token
is refused, a reminder fee above 60 kr is refused naming the law, each change is audited with
before and after, and one tenant's staff never touches another's settings."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core import identity
from kvitt.core.db import Database
from tests.admin.conftest import Staff

DETAILS = {
    "name": "Norrsken Telekom AB",
    "address_line1": "Storgatan 12",
    "address_line2": "",
    "postal_code": "903 26",
    "city": "Umeå",
    "email": "kundtjanst@norrsken.test",
    "phone": "090-12 34 56",
}
FEES = {
    "payment_terms_days": "20",
    "invoice_fee": "29,50",
    "reminder_fee": "60",
    "reminder_fee_agreed": "1",
    "late_interest": "1",
    "late_interest_margin": "8",
    "round_to_krona": "1",
}
CHANNELS = {"default_delivery": "letter", "fallback_sms_1": "email", "fallback_sms_2": "letter", "attach_pdf": "1"}
ROUTES = {
    "/admin/installningar/foretag": DETAILS,
    "/admin/installningar/avgifter": FEES,
    "/admin/installningar/kanaler": CHANNELS,
}


def audit_rows(db: Database, tenant_id: int, action: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
        )


def test_an_admin_changes_the_details_and_the_api_sees_them_audited(
    admin: Staff, api: Any, db: Database, tenant_a: tuple[int, str]
) -> None:
    before = api.get("/tenant").json()
    answer = admin.post("/admin/installningar/foretag", {**DETAILS, "name": "Norrsken Telekom i Umeå AB"})
    assert answer.status_code == 303, answer.text
    after = api.get("/tenant").json()
    assert after["name"] == "Norrsken Telekom i Umeå AB"
    assert (after["address_line1"], after["postal_code"], after["city"]) == ("Storgatan 12", "903 26", "Umeå")
    assert after["phone"] == identity.phone_e164("090-12 34 56")
    (row,) = audit_rows(db, tenant_a[0], "settings.details")
    assert row.staff_email == admin.email and row.target == f"tenant:{tenant_a[0]}"
    assert row.before is not None and row.after is not None
    assert row.before["name"] == before["name"] and row.after["name"] == "Norrsken Telekom i Umeå AB"
    assert row.after["city"] == "Umeå" and row.before.get("city") == before["city"]
    page = admin.get("/admin/installningar?done=saved").text
    assert 'value="Norrsken Telekom i Umeå AB"' in page and "Sparat." in page


def test_fees_and_terms_through_the_tenant_service(admin: Staff, api: Any, db: Database, tenant_a: Any) -> None:
    answer = admin.post("/admin/installningar/avgifter", FEES)
    assert answer.status_code == 303, answer.text
    tenant = api.get("/tenant").json()
    assert (tenant["payment_terms_days"], tenant["invoice_fee"], tenant["reminder_fee"]) == (20, 2950, 6000)
    assert tenant["reminder_fee_agreed"] and tenant["late_interest"] and tenant["late_interest_margin_bp"] == 800
    (row,) = audit_rows(db, tenant_a[0], "settings.fees")
    assert row.after is not None and row.after["reminder_fee"] == 6000 and row.after["invoice_fee"] == 2950
    assert row.before is not None and "reminder_fee" in row.before


def test_a_reminder_fee_above_60_kr_is_refused_naming_the_law(
    admin: Staff, api: Any, db: Database, tenant_a: Any
) -> None:
    before = api.get("/tenant").json()
    refused = admin.post("/admin/installningar/avgifter", {**FEES, "reminder_fee": "60,01"})
    assert refused.status_code == 422
    assert "Lag (1981:739) om ersättning för inkassokostnader" in refused.text and "60 kr" in refused.text
    assert api.get("/tenant").json() == before
    assert audit_rows(db, tenant_a[0], "settings.fees") == []
    # The same service refuses it to the API.
    error = api.patch("/tenant", {"reminder_fee": 7500}).json()["error"]
    assert error["code"] == "fee_above_legal_cap" and error["param"] == "reminder_fee"
    assert "1981:739" in error["message"]


def test_channels_and_fallbacks_through_the_delivery_service(
    admin: Staff, api: Any, db: Database, tenant_a: Any
) -> None:
    answer = admin.post("/admin/installningar/kanaler", CHANNELS)
    assert answer.status_code == 303, answer.text
    assert api.get("/tenant").json()["default_delivery"] == "letter"
    settings = api.get("/delivery/settings").json()
    assert settings["fallback"]["sms"] == ["email", "letter"] and settings["fallback"]["email"] == []
    assert settings["attach_pdf"] is True
    (row,) = audit_rows(db, tenant_a[0], "settings.channels")
    assert row.before is not None and row.after is not None
    assert row.before["default_delivery"] == "email" and row.after["default_delivery"] == "letter"
    assert row.after["fallback"]["sms"] == ["email", "letter"]
    twice = admin.post("/admin/installningar/kanaler", {**CHANNELS, "fallback_sms_2": "email"})
    assert twice.status_code == 422  # the delivery service: a channel twice in one chain
    assert api.get("/delivery/settings").json() == settings


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_every_other_role_is_refused_on_the_server(staff_factory: Any, api: Any, role: str) -> None:
    staff = staff_factory(role)
    tenant, delivery = api.get("/tenant").json(), api.get("/delivery/settings").json()
    assert staff.get("/admin/installningar").status_code == 403
    for path, form in ROUTES.items():
        assert staff.post(path, form).status_code == 403, (role, path)
    assert api.get("/tenant").json() == tenant and api.get("/delivery/settings").json() == delivery


def test_a_form_without_the_sessions_csrf_token_is_refused(admin: Staff, staff_factory: Any, api: Any) -> None:
    other = staff_factory("read_only")
    tenant = api.get("/tenant").json()
    for path, form in ROUTES.items():
        assert admin.post(path, form, csrf="").status_code == 403, path
        assert admin.post(path, form, csrf=other.csrf()).status_code == 403, path
        assert admin.post(path, form, headers={"Origin": "https://evil.example"}).status_code == 403, path
    assert api.get("/tenant").json() == tenant


def test_another_tenants_admin_changes_only_their_own(
    admin: Staff, staff_factory: Any, api: Any, api_b: Any, tenant_b: tuple[int, str], db: Database
) -> None:
    theirs = staff_factory("admin", email="chef@fjallstrom.test", tenant_id=tenant_b[0])
    mine = api.get("/tenant").json()
    b_name = api_b.get("/tenant").json()["name"]
    assert b_name in theirs.get("/admin/installningar").text
    assert mine["name"] not in theirs.get("/admin/installningar").text
    answer = theirs.post("/admin/installningar/avgifter", {**FEES, "invoice_fee": "49"})
    assert answer.status_code == 303
    assert api_b.get("/tenant").json()["invoice_fee"] == 4900
    assert api.get("/tenant").json() == mine
    assert b_name not in admin.get("/admin/installningar").text
    with db.read() as session:
        targets = [
            row.target for row in session.scalars(select(AuditEntry).where(AuditEntry.action == "settings.fees"))
        ]
    assert targets == [f"tenant:{tenant_b[0]}"]
