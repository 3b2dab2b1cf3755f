"""Engagemang: marketing writes segments and placements through the API's services (the same
rule checks, the same https-only addresses), previews a segment without saving it, and reads the
engagement report of a period with its CSV; the figures are the API's report's. Other roles,
forms without the session's CSRF token and another tenant's objects are refused; each write is
audited."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core import clock
from kvitt.core.db import Database
from tests.admin.conftest import Staff, make_customer, make_issued
from tests.engagement.helpers import medium_segment, upgrade_offer
from tests.web.helpers import token_of

SEGMENT = {
    "name": "Medium-kunder",
    "match": "all",
    "conditions": "attributes.plan eq Medium\ntype eq individual",
}
OFFER = {
    "kind": "offer",
    "title": "Uppgradera till Global Plus",
    "text": "Ditt avtal går ut {contract_end}",
    "url": "https://operator.example/uppgradera",
    "cta": "Uppgradera nu",
    "channels": ["web", "email"],
    "priority": "5",
    "active": "1",
}


def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


@pytest.fixture
def marketer(staff_factory: Any) -> Staff:
    return staff_factory("marketing")


def customers(api: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    medium = make_customer(api, "1001", attributes={"plan": "Medium", "contract_end": "2027-03-31"})
    other = make_customer(api, "1002", name="Bertil Berg", attributes={"plan": "Max"})
    return medium, other


def test_marketing_writes_a_segment_the_api_reads_back_with_its_count(marketer: Staff, api: Any, db: Database) -> None:
    customers(api)
    answer = marketer.post("/admin/engagemang/segment", SEGMENT)
    assert answer.status_code == 303, unescape(answer.text)
    (segment,) = api.get("/segments").json()["data"]
    assert answer.headers["location"] == f"/admin/engagemang/segment/{segment['id']}?done=saved"
    assert segment["name"] == "Medium-kunder" and segment["customer_count"] == 1
    assert segment["conditions"] == [
        {"field": "attributes.plan", "op": "eq", "value": "Medium"},
        {"field": "type", "op": "eq", "value": "individual"},
    ]
    page = unescape(marketer.get(f"/admin/engagemang/segment/{segment['id']}").text)
    assert "attributes.plan eq Medium\ntype eq individual</textarea>" in page
    assert "Astrid Lindqvist" in page and "Bertil Berg" not in page  # its customers, not the others
    (row,) = audit_rows(db, "segment.create")
    assert row.target == f"segment:{segment['id']}" and row.after is not None and row.after["name"] == "Medium-kunder"

    changed = {**SEGMENT, "match": "any", "conditions": "attributes.plan eq Medium\nattributes.plan eq Max"}
    assert marketer.post(f"/admin/engagemang/segment/{segment['id']}", changed).status_code == 303
    after = api.get(f"/segments/{segment['id']}").json()
    assert (after["match"], after["customer_count"]) == ("any", 2)
    (update,) = audit_rows(db, "segment.update")
    assert update.after is not None and set(update.after) == {"match", "conditions"}


def test_a_preview_counts_without_saving(marketer: Staff, api: Any) -> None:
    customers(api)
    page = marketer.post("/admin/engagemang/segment/forhandsvisa", SEGMENT)
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Med de här villkoren: <strong>1</strong> kunder, t.ex. Astrid Lindqvist (1001)" in text
    assert "attributes.plan eq Medium\ntype eq individual</textarea>" in text  # the form as typed
    assert api.get("/segments").json()["data"] == []


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"conditions": "attributes.plan eq Medium\nshoe_size gt 40"}, "shoe_size"),
        ({"conditions": "open_balance gt mycket"}, "open_balance"),
        ({"conditions": "attributes.plan"}, "conditions, line 1: write field op value"),
        ({"match": "some"}, "match: all"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_segment_is_refused_naming_what_and_nothing_is_written(
    marketer: Staff, api: Any, db: Database, form: dict[str, str], says: str
) -> None:
    answer = marketer.post("/admin/engagemang/segment", {**SEGMENT, **form})
    assert answer.status_code == 422 and says in unescape(answer.text)
    assert api.get("/segments").json()["data"] == [] and audit_rows(db, "segment.create") == []


def test_marketing_writes_an_offer_for_a_segment_that_the_web_invoice_shows(
    marketer: Staff, api: Any, client: TestClient, db: Database
) -> None:
    medium, other = customers(api)
    segment = medium_segment(api)
    answer = marketer.post("/admin/engagemang/placering", {**OFFER, "segments": [str(segment["id"])]})
    assert answer.status_code == 303, unescape(answer.text)
    (offer,) = api.get("/placements").json()["data"]
    assert (offer["kind"], offer["url"], offer["cta"], offer["priority"]) == (
        "offer",
        "https://operator.example/uppgradera",
        "Uppgradera nu",
        5,
    )
    assert offer["segments"] == [segment["id"]] and offer["channels"] == ["web", "email"] and offer["active"] is True
    assert audit_rows(db, "placement.create")[0].target == f"placement:{offer['id']}"
    shown = client.get(f"/i/{token_of(make_issued(api, medium['id']))}")
    not_shown = client.get(f"/i/{token_of(make_issued(api, other['id']))}")
    assert "Uppgradera till Global Plus" in shown.text and "Ditt avtal går ut 2027-03-31" in shown.text
    assert "Uppgradera till Global Plus" not in not_shown.text

    # Its page writes it back as the form takes it: the last day shown, the checked boxes.
    page = unescape(marketer.get(f"/admin/engagemang/placering/{offer['id']}").text)
    assert f'name="segments" value="{segment["id"]}" checked' in page and 'value="email" checked' in page
    ended = {**OFFER, "segments": [str(segment["id"])], "ends": "2026-12-24", "active": ""}
    assert marketer.post(f"/admin/engagemang/placering/{offer['id']}", ended).status_code == 303
    after = api.get(f"/placements/{offer['id']}").json()
    assert after["active"] is False and after["ends_at"].startswith("2026-12-24T23:00:00")  # 25th, 00:00 in Sweden
    assert (
        'id="ends" name="ends" type="date" value="2026-12-24"'
        in marketer.get(f"/admin/engagemang/placering/{offer['id']}").text
    )


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"url": "javascript:alert(1)"}, "https://"),
        ({"url": "http://operator.example/"}, "https://"),
        ({"url": ""}, "an offer needs a url"),
        ({"segments": ["999999"]}, "no segment 999999"),
        ({"channels": ["fax"]}, "channels"),
        ({"priority": "först"}, "priority must be a whole number"),
        ({"ends": "31/12"}, "ends: write a date"),
    ],
)
def test_a_bad_placement_is_refused_and_nothing_is_written(
    marketer: Staff, api: Any, form: dict[str, Any], says: str
) -> None:
    answer = marketer.post("/admin/engagemang/placering", {**OFFER, **form})
    assert answer.status_code == 422 and says in unescape(answer.text), unescape(answer.text)[:2000]
    assert api.get("/placements").json()["data"] == []


def test_a_survey_with_choices_and_deleting_what_was_written(marketer: Staff, api: Any, db: Database) -> None:
    survey = {"kind": "survey", "title": "Vad tycker du?", "survey_type": "choice", "choices": "Bra\nSådär\n\nDåligt"}
    assert marketer.post("/admin/engagemang/placering", {**survey, "channels": ["web"]}).status_code == 303
    (placement,) = api.get("/placements").json()["data"]
    assert placement["survey"] == {"type": "choice", "choices": ["Bra", "Sådär", "Dåligt"]}
    assert marketer.post(f"/admin/engagemang/placering/{placement['id']}/ta-bort", {}).status_code == 303
    assert api.get("/placements").json()["data"] == []
    assert audit_rows(db, "placement.delete")[0].before is not None

    assert marketer.post("/admin/engagemang/segment", SEGMENT).status_code == 303
    (segment,) = api.get("/segments").json()["data"]
    assert marketer.post(f"/admin/engagemang/segment/{segment['id']}/ta-bort", {}).status_code == 303
    assert api.get("/segments").json()["data"] == [] and len(audit_rows(db, "segment.delete")) == 1


def test_the_report_of_a_period_is_the_apis_and_its_csv_too(
    marketer: Staff, api: Any, client: TestClient, db: Database
) -> None:
    medium, _ = customers(api)
    offer = upgrade_offer(api, medium_segment(api))
    invoice = make_issued(api, medium["id"])
    page = client.get(f"/i/{token_of(invoice)}")
    assert "Uppgradera till Global Plus" in page.text
    today = clock.today().isoformat()
    expected = api.get("/reports/engagement", params={"from": today, "to": today}).json()["data"]
    assert [(r["placement"], r["impressions"]) for r in expected] == [(offer["id"], 1)]

    text = unescape(marketer.get("/admin/engagemang", params={"from": today, "to": today}).text)
    assert "Visningar: <strong>1</strong> · Klick: <strong>0</strong> · Klickfrekvens: <strong>0,0 %</strong>" in text
    assert f'<a href="/admin/engagemang/placering/{offer["id"]}">Uppgradera till Global Plus</a>' in text
    csv = marketer.get("/admin/engagemang/rapport.csv", params={"from": today, "to": today})
    api_csv = api.get("/reports/engagement.csv", params={"from": today, "to": today})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text == api_csv.text and csv.text.count("\n") == 2
    bad = marketer.get("/admin/engagemang", params={"from": today, "to": "2020-01-01"})
    assert bad.status_code == 422 and "the last day is before the first" in unescape(bad.text)


@pytest.mark.parametrize("role", ["finance", "support"])
def test_roles_without_the_page_are_refused(staff_factory: Any, api: Any, role: str) -> None:
    staff = staff_factory(role)
    assert staff.get("/admin/engagemang").status_code == 403
    assert staff.post("/admin/engagemang/segment", SEGMENT).status_code == 403
    assert staff.post("/admin/engagemang/placering", OFFER).status_code == 403
    assert api.get("/segments").json()["data"] == [] and api.get("/placements").json()["data"] == []


def test_read_only_sees_the_page_without_forms_and_cannot_write(staff_factory: Any, api: Any) -> None:
    reader = staff_factory("read_only")
    page = reader.get("/admin/engagemang")
    assert page.status_code == 200 and "Nytt segment" not in page.text
    assert reader.post("/admin/engagemang/segment", SEGMENT).status_code == 403
    assert reader.post("/admin/engagemang/segment/forhandsvisa", SEGMENT).status_code == 403
    assert reader.post("/admin/engagemang/placering", OFFER).status_code == 403
    assert api.get("/segments").json()["data"] == []


def test_a_form_without_the_sessions_csrf_token_is_refused(marketer: Staff, api: Any) -> None:
    assert marketer.post("/admin/engagemang/segment", SEGMENT, csrf="0" * 64).status_code == 403
    assert api.get("/segments").json()["data"] == []


def test_another_tenants_segments_are_neither_listed_nor_chosen(marketer: Staff, api_b: Any) -> None:
    theirs = medium_segment(api_b)
    assert "Medium" not in marketer.get("/admin/engagemang").text
    assert 'name="segments"' not in marketer.get("/admin/engagemang/placering/ny").text
    answer = marketer.post("/admin/engagemang/placering", {**OFFER, "segments": [str(theirs["id"])]})
    assert answer.status_code == 422 and f"no segment {theirs['id']}" in unescape(answer.text)
