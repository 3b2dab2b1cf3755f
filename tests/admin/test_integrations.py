"""API-nycklar and Webhooks: admins only, their own tenant only; keys shown once; replay."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kvitt.worker import Worker
from tests.admin.conftest import Staff, make_customer, make_issued


def test_a_new_key_is_shown_once_and_works_and_revoking_stops_it(admin: Staff, client: TestClient) -> None:
    page = admin.post("/admin/api-nycklar", {"name": "Ekonomisystem"})
    assert page.status_code == 200
    secret = re.search(r'<p class="mono">(\S+)</p>', page.text)
    assert secret is not None
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/v1/customers", headers=headers).status_code == 200
    listing = admin.get("/admin/api-nycklar").text
    assert secret.group(1) not in listing and "Ekonomisystem" in listing
    key_id = re.findall(r'action="/admin/api-nycklar/(\d+)/aterkalla"', listing)[-1]
    assert admin.post(f"/admin/api-nycklar/{key_id}/aterkalla").status_code == 303
    assert client.get("/api/v1/customers", headers=headers).status_code == 401


def test_another_tenants_key_cannot_be_revoked(admin: Staff, api_b: Any) -> None:
    theirs = api_b.get("/api-keys").json()["data"][0]
    assert admin.post(f"/admin/api-nycklar/{theirs['id']}/aterkalla").status_code == 404
    assert api_b.get("/customers").status_code == 200


@pytest.fixture
def failed_delivery(api: Any) -> dict[str, Any]:
    # Nothing listens on port 9 (discard): the attempt fails at once.
    endpoint = api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "events": ["*"]}).json()
    make_issued(api, make_customer(api, "K-1")["id"])
    app = api.client.app
    Worker(app.state.db, app.state.settings, worker_id="admin-test").run_until_idle()
    deliveries = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
    assert deliveries
    return {"endpoint": endpoint, "delivery": deliveries[0]}


def test_the_delivery_log_and_replay(admin: Staff, api: Any, failed_delivery: dict[str, Any]) -> None:
    endpoint, delivery = failed_delivery["endpoint"], failed_delivery["delivery"]
    assert "127.0.0.1:9/hooks" in admin.get("/admin/webhooks").text
    log = admin.get(f"/admin/webhooks/{endpoint['id']}").text
    assert delivery["event"] in log and delivery["event_type"] in log
    answer = admin.post(f"/admin/webhooks/{endpoint['id']}/leveranser/{delivery['id']}/skicka-igen")
    assert answer.status_code == 303, answer.text
    app = api.client.app
    Worker(app.state.db, app.state.settings, worker_id="admin-test").run_until_idle()
    after = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
    log_after = next(d for d in after if d["id"] == delivery["id"])["log"]
    assert [a["replay"] for a in log_after].count(True) == 1


def test_another_tenants_endpoint_is_not_shown(admin: Staff, api_b: Any) -> None:
    theirs = api_b.post("/webhook-endpoints", {"url": "https://b.example/hooks", "events": ["*"]}).json()
    assert "b.example" not in admin.get("/admin/webhooks").text
    assert admin.get(f"/admin/webhooks/{theirs['id']}").status_code == 404
    assert admin.post(f"/admin/webhooks/{theirs['id']}/leveranser/1/skicka-igen").status_code == 404


@pytest.mark.parametrize("role", ["finance", "support", "read_only"])
def test_only_admins(staff_factory: Any, role: str) -> None:
    staff = staff_factory(role)
    assert staff.get("/admin/api-nycklar").status_code == 403
    assert staff.post("/admin/api-nycklar", {"name": "x"}).status_code == 403
    assert staff.get("/admin/webhooks").status_code == 403
