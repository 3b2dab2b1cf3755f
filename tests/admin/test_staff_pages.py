"""Användare and Granskningslogg: admins only, their own tenant only."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.admin.conftest import Staff


def test_an_admin_creates_a_user_who_must_change_the_one_time_password(app: Any, admin: Staff) -> None:
    page = admin.post("/admin/anvandare", {"email": "Eva@Norrsken.test", "role": "finance", "name": "Eva"})
    assert page.status_code == 200, page.text
    found = re.search(r'<dd class="mono">([A-Za-z0-9]{16})</dd>', page.text)
    assert found is not None and "eva@norrsken.test" in page.text
    eva = Staff(app, "eva@norrsken.test", found.group(1))
    assert eva.login_response.headers["location"] == "/admin/password"


def test_the_last_admin_keeps_the_role_and_others_can_be_changed(admin: Staff, staff_factory: Any) -> None:
    support = staff_factory("support")
    users = admin.get("/admin/anvandare").text
    ids = dict(re.findall(r'<form method="post" action="/admin/anvandare/(\d+)">.*?value="([^"]+)"', users, re.S))
    del ids
    admin_id = re.search(r'action="/admin/anvandare/(\d+)/nytt-losenord"', users)
    assert admin_id is not None
    refused = admin.post(f"/admin/anvandare/{admin_id.group(1)}", {"role": "support"})
    assert refused.status_code == 422 and "last active admin" in refused.text
    support_id = re.findall(r'action="/admin/anvandare/(\d+)/nytt-losenord"', users)[-1]
    assert admin.post(f"/admin/anvandare/{support_id}", {"active": "0"}).status_code == 303
    assert support.get("/admin/kunder").status_code == 303  # deactivated: the session is gone


def test_a_new_one_time_password_ends_the_users_sessions(admin: Staff, staff_factory: Any) -> None:
    finance = staff_factory("finance")
    users = admin.get("/admin/anvandare").text
    finance_id = re.findall(r'action="/admin/anvandare/(\d+)/nytt-losenord"', users)[-1]
    page = admin.post(f"/admin/anvandare/{finance_id}/nytt-losenord")
    assert page.status_code == 200 and "Engångslösenord" in page.text
    assert finance.get("/admin/kunder").status_code == 303


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_admins_manage_users_and_read_the_audit_log(staff_factory: Any, role: str) -> None:
    staff = staff_factory(role)
    for path in ("/admin/anvandare", "/admin/granskningslogg", "/admin/granskningslogg.csv"):
        assert staff.get(path).status_code == 403, path
    assert staff.post("/admin/anvandare", {"email": "x@norrsken.test", "role": "admin"}).status_code == 403


def test_users_and_audit_of_another_tenant_are_not_shown(
    app: Any, admin: Staff, db: Any, tenant_b: tuple[int, str]
) -> None:
    from tests.admin.conftest import make_staff

    make_staff(db, tenant_b[0], "boss@fjallstrom.test", "admin")
    other = Staff(app, "boss@fjallstrom.test")
    assert other.login_response.status_code == 303
    assert "boss@fjallstrom.test" not in admin.get("/admin/anvandare").text
    assert "boss@fjallstrom.test" not in admin.get("/admin/granskningslogg").text
    assert "boss@fjallstrom.test" not in admin.get("/admin/granskningslogg.csv").text
    theirs = re.search(r'action="/admin/anvandare/(\d+)/nytt-losenord"', other.get("/admin/anvandare").text)
    assert theirs is not None
    assert admin.post(f"/admin/anvandare/{theirs.group(1)}", {"role": "read_only"}).status_code == 404
    assert admin.post(f"/admin/anvandare/{theirs.group(1)}/nytt-losenord").status_code == 404
    assert other.get("/admin/anvandare").status_code == 200  # still an admin, still logged in


def test_the_audit_log_reads_and_exports_what_staff_did(admin: Staff, client: TestClient) -> None:
    admin.post("/admin/anvandare", {"email": "eva@norrsken.test", "role": "finance"})
    page = admin.get("/admin/granskningslogg").text
    assert "user.create" in page and "staff.login" in page
    exported = admin.get("/admin/granskningslogg.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    created = [r for r in rows if r["action"] == "user.create"]
    assert len(created) == 1 and created[0]["staff_email"] == "admin@norrsken.test"
    assert '"role": "finance"' in created[0]["after"]
    assert "user.create" in admin.get("/admin/granskningslogg?action=user.create").text
    assert "staff.login" not in admin.get("/admin/granskningslogg?action=user.create").text
