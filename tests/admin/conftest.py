"""Logged-in browsers of the back office: a TestClient per staff member, with its cookie."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kvitt.admin import users
from kvitt.core.db import Database

PASSWORD = "rätt-häst-batteri-häftklammer"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def make_staff(db: Database, tenant_id: int, email: str, role: str, password: str | None = PASSWORD) -> str:
    with db.transaction() as session:
        created = users.create_user(session, tenant_id, email, role, password=password)
    return created.password or PASSWORD


class Staff:
    """One staff member's browser: logs in, reads the CSRF token of its session from a page."""

    def __init__(self, app: Any, email: str, password: str = PASSWORD, base_url: str = "http://testserver") -> None:
        self.client = TestClient(app, follow_redirects=False, base_url=base_url)
        self.email = email
        self.login_response = self.client.post("/admin/login", data={"email": email, "password": password})

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def csrf(self) -> str:
        page = self.client.get("/admin/password")
        found = CSRF.search(page.text)
        assert found, page.text[:500]
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None, **kw: Any) -> Any:
        form = {"csrf": self.csrf() if csrf is None else csrf, **(data or {})}
        return self.client.post(path, data=form, **kw)


@pytest.fixture
def staff_factory(app: Any, db: Database, tenant_a: tuple[int, str]) -> Any:
    def make(role: str = "admin", email: str | None = None, tenant_id: int | None = None) -> Staff:
        email = email or f"{role}@norrsken.test"
        make_staff(db, tenant_id or tenant_a[0], email, role)
        staff = Staff(app, email)
        assert staff.login_response.status_code == 303, staff.login_response.text
        return staff

    return make


@pytest.fixture
def admin(staff_factory: Any) -> Staff:
    return staff_factory("admin")


def created(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def make_customer(api: Any, customer_no: str = "1001", **fields: Any) -> dict[str, Any]:
    body = {"customer_no": customer_no, "name": "Astrid Lindqvist", "email": f"c{customer_no}@example.se"}
    return created(api.post("/customers", {**body, **fields}))


def make_issued(api: Any, customer_id: int, unit_price: int = 31600) -> dict[str, Any]:
    lines = [{"description": "Mobilabonnemang Fri", "quantity": "1", "unit_price": unit_price, "vat_rate": 25}]
    draft = created(api.post("/invoices", {"customer": customer_id, "lines": lines}))
    return created(api.post(f"/invoices/{draft['id']}/issue"))


def admin_routes(app: Any) -> list[tuple[str, set[str], Any]]:
    """Every /admin route as (path, methods, route as declared). FastAPI 0.165 keeps included
    routers as branches (``_IncludedRouter``): ``iter_route_contexts`` walks them."""
    from fastapi.routing import iter_route_contexts

    found = []
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if path == "/admin" or path.startswith("/admin/"):
            found.append((path, set(context.methods or ()) - {"HEAD"}, context.original_route))
    assert len(found) > 30, found  # the walk found the back office
    return found
