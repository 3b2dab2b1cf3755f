"""Webhooks: an admin creates an endpoint (the signing secret shown on that answer only, as the
API's create answer shows it), changes it, switches it off and deletes it, each through
``webhooks.service`` with the API's input models, audited; the API sees every change. The other
roles, a missing CSRF token and another tenant's endpoints are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.db import Database
from tests.admin.conftest import Staff

NEW = {
    "url": "https://crm.example/kvitt",
    "events": "invoice.paid, invoice.*",
    "description": "CRM",
    "max_batch_size": "25",
    "enabled": "1",
}


def audit_rows(db: Database, tenant_id: int, action: str) -> list[AuditEntry]:
    with db.read() as session:
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def create(admin: Staff, api: Any, **changes: str) -> tuple[dict[str, Any], str]:
    page = admin.post("/admin/webhooks", {**NEW, **changes})
    assert page.status_code == 200, page.text
    secret = re.search(r'<p class="mono" id="webhook-secret">(whsec_\S+)</p>', page.text)
    assert secret is not None, page.text
    endpoint = api.get("/webhook-endpoints").json()["data"][-1]
    return endpoint, secret.group(1)


def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(
    admin: Staff, api: Any, db: Database, tenant_a: Any
) -> None:
    endpoint, secret = create(admin, api)
    assert (endpoint["url"], endpoint["events"], endpoint["max_batch_size"], endpoint["enabled"]) == (
        "https://crm.example/kvitt",
        ["invoice.*", "invoice.paid"],
        25,
        True,
    )
    assert endpoint["description"] == "CRM" and "secret" not in endpoint
    listing = admin.get("/admin/webhooks").text
    assert "crm.example/kvitt" in listing and secret not in listing
    assert secret not in admin.get(f"/admin/webhooks/{endpoint['id']}").text
    [row] = audit_rows(db, tenant_a[0], "webhook.create")
    assert row.target == f"webhook_endpoint:{endpoint['id']}" and row.before is None
    assert row.after == {
        "url": "https://crm.example/kvitt",
        "events": ["invoice.*", "invoice.paid"],
        "description": "CRM",
        "enabled": True,
        "max_batch_size": 25,
    }
    assert secret not in str(row.after)


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("url", "ftp://crm.example/x", "must start with https:// or http://"),
        ("events", "invoice.nonsense", "unknown event type"),
        ("events", "", "events"),
        ("max_batch_size", "101", "max_batch_size"),
        ("max_batch_size", "många", "max_batch_size"),
    ],
)
def test_the_apis_rules_refuse_a_bad_endpoint(admin: Staff, api: Any, field: str, value: str, said: str) -> None:
    page = admin.post("/admin/webhooks", {**NEW, field: value})
    assert page.status_code == 422 and said in page.text, page.text
    assert api.get("/webhook-endpoints").json()["data"] == []


def test_an_admin_changes_switches_off_and_deletes_an_endpoint(
    admin: Staff, api: Any, db: Database, tenant_a: Any
) -> None:
    endpoint, _ = create(admin, api)
    url = f"/admin/webhooks/{endpoint['id']}"
    changed = {**NEW, "url": "https://crm.example/v2", "events": "*", "max_batch_size": "1", "enabled": ""}
    answer = admin.post(url, changed)
    assert answer.status_code == 303 and answer.headers["location"] == f"{url}?done=saved", answer.text
    after = api.get(f"/webhook-endpoints/{endpoint['id']}").json()
    assert (after["url"], after["events"], after["max_batch_size"], after["enabled"]) == (
        "https://crm.example/v2",
        ["*"],
        1,
        False,
    )
    [row] = audit_rows(db, tenant_a[0], "webhook.update")
    assert row.before == {
        "url": "https://crm.example/kvitt",
        "events": ["invoice.*", "invoice.paid"],
        "enabled": True,
        "max_batch_size": 25,
    }
    assert row.after == {"url": "https://crm.example/v2", "events": ["*"], "enabled": False, "max_batch_size": 1}
    assert admin.post(url, {**changed, "events": "faktura.betald"}).status_code == 422
    assert api.get(f"/webhook-endpoints/{endpoint['id']}").json()["events"] == ["*"]

    gone = admin.post(f"{url}/ta-bort")
    assert gone.status_code == 303 and gone.headers["location"] == "/admin/webhooks?done=deleted"
    assert api.get(f"/webhook-endpoints/{endpoint['id']}").status_code == 404
    [row] = audit_rows(db, tenant_a[0], "webhook.delete")
    assert row.before is not None and row.before["url"] == "https://crm.example/v2" and row.after is None
    assert admin.get(url).status_code == 404


def test_without_csrf_nothing_is_created_changed_or_deleted(admin: Staff, api: Any) -> None:
    assert admin.post("/admin/webhooks", NEW, csrf="").status_code == 403
    assert api.get("/webhook-endpoints").json()["data"] == []
    endpoint, _ = create(admin, api)
    assert (
        admin.post(f"/admin/webhooks/{endpoint['id']}", {**NEW, "url": "https://x.example"}, csrf="0" * 64).status_code
        == 403
    )
    assert admin.post(f"/admin/webhooks/{endpoint['id']}/ta-bort", csrf="").status_code == 403
    assert api.get(f"/webhook-endpoints/{endpoint['id']}").json()["url"] == NEW["url"]


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_admins_write_endpoints(staff_factory: Any, admin: Staff, api: Any, role: str) -> None:
    endpoint, _ = create(admin, api)
    staff = staff_factory(role)
    assert staff.post("/admin/webhooks", {**NEW, "url": "https://other.example"}).status_code == 403
    assert staff.post(f"/admin/webhooks/{endpoint['id']}", {**NEW, "enabled": ""}).status_code == 403
    assert staff.post(f"/admin/webhooks/{endpoint['id']}/ta-bort").status_code == 403
    [still] = api.get("/webhook-endpoints").json()["data"]
    assert still["enabled"] is True and still["url"] == NEW["url"]


def test_the_page_in_english(admin: Staff) -> None:
    page = admin.get("/admin/webhooks?lang=en").text
    assert "New endpoint" in page and "Events per request" in page
