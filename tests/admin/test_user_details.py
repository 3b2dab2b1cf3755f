"""A staff member's name and e-mail address: their own at *Mina uppgifter* (every role), another
user's at *Användare* (admins), both through ``users.update_details``: the address checked and
unique across the installation as at creation (another tenant's user's address too), the login
name from the next login, audited; CSRF, roles and another tenant's users refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry, StaffUser
from kvitt.core.db import Database
from tests.admin.conftest import Staff, make_staff


def user(db: Database, email: str) -> StaffUser | None:
    with db.read() as session:
        return session.scalar(select(StaffUser).where(StaffUser.email == email))


def audit_rows(db: Database, tenant_id: int) -> list[AuditEntry]:
    with db.read() as session:
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == "user.update")
        return list(session.scalars(query.order_by(AuditEntry.id)))


@pytest.mark.parametrize("role", ["admin", "finance", "support", "marketing", "read_only"])
def test_every_staff_member_edits_their_own_name_and_email(
    app: Any, staff_factory: Any, db: Database, tenant_a: Any, role: str
) -> None:
    staff = staff_factory(role)
    page = staff.get("/admin/profil")
    assert page.status_code == 200 and f'value="{role}@norrsken.test"' in page.text
    answer = staff.post("/admin/profil", {"name": "Eva Ek", "email": " Eva.Ek@Norrsken.test "})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/profil?done=saved", answer.text
    found = user(db, "eva.ek@norrsken.test")
    assert found is not None and found.name == "Eva Ek" and found.role == role
    assert user(db, f"{role}@norrsken.test") is None
    [row] = audit_rows(db, tenant_a[0])
    assert row.target == f"staff_user:{found.id}"
    assert row.before == {"name": "", "email": f"{role}@norrsken.test"}
    assert row.after == {"name": "Eva Ek", "email": "eva.ek@norrsken.test"}
    assert "eva.ek@norrsken.test" in staff.get("/admin/profil").text  # the session goes on
    again = Staff(app, "eva.ek@norrsken.test")  # the new login name
    assert again.login_response.status_code == 303
    assert Staff(app, f"{role}@norrsken.test").login_response.status_code != 303


def test_an_address_in_use_anywhere_or_not_an_address_is_refused(
    staff_factory: Any, db: Database, tenant_a: Any, tenant_b: Any
) -> None:
    make_staff(db, tenant_b[0], "boss@fjallstrom.test", "admin")
    staff = staff_factory("finance")
    make_staff(db, tenant_a[0], "kollega@norrsken.test", "support")
    for taken in ("boss@fjallstrom.test", "KOLLEGA@norrsken.test"):
        refused = staff.post("/admin/profil", {"name": "X", "email": taken})
        assert refused.status_code == 422 and "exists already" in refused.text
    for bad in ("ingen-snabel-a", "två ord@norrsken.test", "x" * 250 + "@a.se"):
        assert staff.post("/admin/profil", {"name": "X", "email": bad}).status_code == 422
    assert staff.post("/admin/profil", {"name": "n" * 201, "email": "finance@norrsken.test"}).status_code == 422
    found = user(db, "finance@norrsken.test")
    assert found is not None and found.name == ""
    assert audit_rows(db, tenant_a[0]) == []
    # the same address again is no change at all
    assert staff.post("/admin/profil", {"name": "", "email": "finance@norrsken.test"}).status_code == 303
    assert audit_rows(db, tenant_a[0]) == []


def test_an_admin_edits_another_users_name_and_email(admin: Staff, db: Database, tenant_a: Any) -> None:
    make_staff(db, tenant_a[0], "kassa@norrsken.test", "finance")
    other = user(db, "kassa@norrsken.test")
    assert other is not None
    assert f'action="/admin/anvandare/{other.id}/uppgifter"' in admin.get("/admin/anvandare").text
    answer = admin.post(f"/admin/anvandare/{other.id}/uppgifter", {"name": "Kim Kassa", "email": "kim@norrsken.test"})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/anvandare?done=saved"
    found = user(db, "kim@norrsken.test")
    assert found is not None and found.id == other.id and found.name == "Kim Kassa" and found.role == "finance"
    [row] = audit_rows(db, tenant_a[0])
    assert row.target == f"staff_user:{other.id}" and row.after == {"name": "Kim Kassa", "email": "kim@norrsken.test"}
    refused = admin.post(f"/admin/anvandare/{other.id}/uppgifter", {"name": "K", "email": "admin@norrsken.test"})
    assert refused.status_code == 422 and "exists already" in refused.text


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_admins_edit_another_user(staff_factory: Any, admin: Staff, db: Database, role: str) -> None:
    staff = staff_factory(role)
    target = user(db, "admin@norrsken.test")
    assert target is not None
    answer = staff.post(f"/admin/anvandare/{target.id}/uppgifter", {"name": "X", "email": "x@norrsken.test"})
    assert answer.status_code == 403
    assert user(db, "admin@norrsken.test") is not None and user(db, "x@norrsken.test") is None


def test_without_csrf_nothing_changes(admin: Staff, db: Database) -> None:
    assert admin.post("/admin/profil", {"name": "X", "email": "x@norrsken.test"}, csrf="").status_code == 403
    target = user(db, "admin@norrsken.test")
    assert target is not None
    url = f"/admin/anvandare/{target.id}/uppgifter"
    assert admin.post(url, {"name": "X", "email": "x@norrsken.test"}, csrf="0" * 64).status_code == 403
    assert user(db, "x@norrsken.test") is None


def test_the_page_in_english(admin: Staff) -> None:
    assert "My details" in admin.get("/admin/profil?lang=en").text
