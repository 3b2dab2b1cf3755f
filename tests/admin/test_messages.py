"""Meddelanden: the tenant-wide inbox, unanswered first, answered in place (seen on the web
invoice), and ``GET /api/v1/messages``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.admin.conftest import Staff, make_customer, make_issued
from tests.web.helpers import open_page, post_form


def _asked(api: Any, client: TestClient, customer_no: str, question: str) -> dict[str, Any]:
    invoice = make_issued(api, make_customer(api, customer_no)["id"])
    assert post_form(client, invoice, "messages", {"text": question}).status_code == 303
    return invoice


def test_unanswered_first_answer_in_place_and_the_customer_sees_it(
    staff_factory: Any, api: Any, client: TestClient
) -> None:
    answered = _asked(api, client, "K-1", "Första frågan")
    assert api.post(f"/invoices/{answered['id']}/messages", {"text": "Redan besvarad"}).status_code == 201
    waiting = _asked(api, client, "K-2", "Varför är surfen dyrare?")
    support = staff_factory("support")
    page = support.get("/admin/meddelanden").text
    assert page.index("Varför är surfen dyrare?") < page.index("Första frågan")
    assert "Obesvarat" in page and "Besvarat" in page
    only = support.get("/admin/meddelanden?visa=obesvarade").text
    assert "Varför är surfen dyrare?" in only and "Första frågan" not in only

    reply = support.post(
        f"/admin/fakturor/{waiting['id']}/meddelanden",
        {"text": "Hej! Extra surf 2 × 49 kr.", "next": "/admin/meddelanden?done=answered"},
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/admin/meddelanden?done=answered"
    assert "Varför är surfen dyrare?" not in support.get("/admin/meddelanden?visa=obesvarade").text
    web = open_page(client, waiting, "?tab=meddelanden")
    assert "Hej! Extra surf 2 × 49 kr." in web


def test_an_answer_may_not_lead_off_the_back_office(admin: Staff, api: Any, client: TestClient) -> None:
    invoice = _asked(api, client, "K-1", "Fråga")
    reply = admin.post(f"/admin/fakturor/{invoice['id']}/meddelanden", {"text": "Svar", "next": "//evil.example/"})
    assert reply.headers["location"] == f"/admin/fakturor/{invoice['id']}?done=answered"


def test_an_empty_answer_is_refused(admin: Staff, api: Any, client: TestClient) -> None:
    invoice = _asked(api, client, "K-1", "Fråga")
    assert admin.post(f"/admin/fakturor/{invoice['id']}/meddelanden", {"text": "  "}).status_code == 422
    assert len(api.get(f"/invoices/{invoice['id']}/messages").json()["data"]) == 1


def test_marketing_may_not_read_messages(staff_factory: Any) -> None:
    assert staff_factory("marketing").get("/admin/meddelanden").status_code == 403


def test_another_tenants_conversations_are_not_shown(admin: Staff, api_b: Any, client: TestClient) -> None:
    _asked(api_b, client, "B-1", "Hemlig fråga från B")
    assert "Hemlig fråga från B" not in admin.get("/admin/meddelanden").text


def test_the_api_lists_messages_newest_first_and_the_unanswered(api: Any, client: TestClient) -> None:
    first = _asked(api, client, "K-1", "Fråga ett")
    second = _asked(api, client, "K-2", "Fråga två")
    assert api.post(f"/invoices/{first['id']}/messages", {"text": "Svar ett"}).status_code == 201
    listed = api.get("/messages").json()
    assert [m["text"] for m in listed["data"]] == ["Svar ett", "Fråga två", "Fråga ett"]
    waiting = api.get("/messages", params={"unanswered": "true"}).json()["data"]
    assert [(m["invoice"], m["text"]) for m in waiting] == [(second["id"], "Fråga två")]
    ours = api.get("/messages", params={"author": "staff"}).json()["data"]
    assert [m["text"] for m in ours] == ["Svar ett"]
    page = api.get("/messages", params={"limit": 1}).json()
    assert page["has_more"] is True
    rest = api.get("/messages", params={"limit": 5, "starting_after": page["data"][0]["id"]}).json()["data"]
    assert [m["text"] for m in rest] == ["Fråga två", "Fråga ett"]
