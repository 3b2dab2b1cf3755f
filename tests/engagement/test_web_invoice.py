"""Placements on the web invoice: who sees what, escaped text, the click redirect, survey
answers, impressions once per visit, and the report that counts exactly those."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.engagement.models import EngagementEvent, SurveyAnswer
from kvitt.invoices.models import InvoiceEvent
from tests.conftest import Api
from tests.engagement.helpers import medium_segment, placement, upgrade_offer
from tests.segments.isolation_cases import _created
from tests.web.helpers import form_token, issued, open_page, text_of, token_of
from tests.webhooks.helpers import run_worker

OFFER_URL = "https://operator.example/uppgradera?kampanj=global"

# the report of the days around today (the rows carry the real time of the request)
PERIOD = {
    "from": (date.today() - timedelta(days=30)).isoformat(),
    "to": (date.today() + timedelta(days=30)).isoformat(),
}


@pytest.fixture
def setup(api: Api) -> dict[str, Any]:
    inside = _created(
        api.post(
            "/customers",
            {
                "customer_no": "IN-1",
                "name": "Astrid Lindqvist",
                "email": "astrid@example.se",
                "attributes": {"plan": "Medium", "contract_end": "2027-01-31", "note": "<script>alert(1)</script>"},
            },
        )
    )
    outside = _created(
        api.post(
            "/customers",
            {"customer_no": "OUT-1", "name": "Bo Ek", "email": "bo@example.se", "attributes": {"plan": "Bas"}},
        )
    )
    segment = medium_segment(api)
    offer = upgrade_offer(
        api,
        segment,
        title_en="Upgrade to Global Plus",
        text="Surfa i hela världen.",
        url=OFFER_URL,
        cta="Uppgradera",
        priority=1,
    )
    info = placement(api, "info", "Ditt avtal", segment, text="Ditt avtal går ut {contract_end}. {note}", priority=2)
    survey = placement(api, "survey", "Hur nöjd är du med oss?", segment, survey={"type": "rating"}, priority=3)
    return {
        "inside": issued(api, inside),
        "outside": issued(api, outside),
        "segment": segment,
        "offer": offer,
        "info": info,
        "survey": survey,
    }


def count(db: Database, model: Any, **where: Any) -> int:
    with db.read() as session:
        query = select(func.count(model.id)).where(*(getattr(model, k) == v for k, v in where.items()))
        return int(session.scalar(query) or 0)


def test_a_customer_in_the_segment_sees_the_placements_and_one_outside_sees_none(
    client: TestClient, setup: dict[str, Any]
) -> None:
    page = open_page(client, setup["inside"])
    text = text_of(page)
    assert "Uppgradera till Global Plus" in text and "Ditt avtal går ut 2027-01-31." in text
    assert "Hur nöjd är du med oss?" in text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.index("Uppgradera till Global Plus") < page.index("Ditt avtal") < page.index("Hur nöjd")
    english = text_of(open_page(client, setup["inside"], "?lang=en"))
    assert "Upgrade to Global Plus" in english
    outside = open_page(client, setup["outside"])
    assert "Global Plus" not in outside and '<article class="placement' not in outside and "erbjudanden" not in outside


def test_impressions_once_per_visit_click_redirects_and_counts(
    client: TestClient, db: Database, setup: dict[str, Any]
) -> None:
    invoice = setup["inside"]
    open_page(client, invoice)
    open_page(client, invoice)  # a reload within the visit: no second impression
    assert count(db, EngagementEvent, kind="impression", invoice_id=invoice["id"]) == 3
    assert count(db, EngagementEvent, kind="impression", invoice_id=setup["outside"]["id"]) == 0
    link = re.search(r'href="(/e/[^"]+)"', open_page(client, invoice))
    assert link is not None and link.group(1) == f"/e/{token_of(invoice)}.{setup['offer']['id']}.w"
    clicked = client.get(link.group(1), follow_redirects=False)
    assert clicked.status_code == 302 and clicked.headers["location"] == OFFER_URL
    assert count(db, EngagementEvent, kind="click", placement_id=setup["offer"]["id"], channel="web") == 1
    assert count(db, InvoiceEvent, type="offer_clicked", invoice_id=invoice["id"]) == 1
    # A link sent before clicks named their channel (no letter) still works, and counts as web.
    assert client.get(f"/e/{token_of(invoice)}.{setup['offer']['id']}", follow_redirects=False).status_code == 302
    assert count(db, EngagementEvent, kind="click", placement_id=setup["offer"]["id"], channel="web") == 2


@pytest.mark.parametrize(
    "address",
    [
        "/e/{token}.999999",  # no such placement
        "/e/{token}.{info}",  # not an offer
        "/e/{forged}.{offer}",  # not an invoice's token
        "/e/{token}",  # no placement at all
        "/e/{token}.{offer}x",
        "/e/.5",
        "/e/{token}.-1",
        "/e/{token}.{offer}.x",  # no such channel
        "/e/{token}.{offer}.w.w",
        "/e/{token}.w",  # a channel, no placement
        "/e/.{offer}.s",
    ],
)
def test_unknown_or_forged_click_tokens_are_404_never_a_redirect(
    client: TestClient, db: Database, setup: dict[str, Any], address: str
) -> None:
    token = token_of(setup["inside"])
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    url = address.format(token=token, forged=forged, offer=setup["offer"]["id"], info=setup["info"]["id"])
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers
    assert count(db, EngagementEvent, kind="click") == 0


def test_a_placement_of_another_tenant_cannot_be_clicked_through_my_invoice(
    client: TestClient, setup: dict[str, Any], api_b: Api
) -> None:
    theirs = _created(api_b.post("/placements", {"kind": "offer", "title": "B", "url": "https://b.example/"}))
    response = client.get(f"/e/{token_of(setup['inside'])}.{theirs['id']}", follow_redirects=False)
    assert response.status_code == 404


def test_survey_answer_is_stored_once_with_customer_and_invoice(
    client: TestClient, db: Database, setup: dict[str, Any]
) -> None:
    invoice, survey = setup["inside"], setup["survey"]
    action = f"/i/{token_of(invoice)}/survey/{survey['id']}"
    page = open_page(client, invoice)
    csrf = form_token(page, action)
    assert (
        client.post(action, data={"csrf": "0" * 64, "rating": "5"}, follow_redirects=False)
        .headers["location"]
        .endswith(f"done=refused#placement-{survey['id']}")
    )
    bad = client.post(action, data={"csrf": csrf, "rating": "9"}, follow_redirects=False)
    assert "done=survey_invalid" in bad.headers["location"]
    answered = client.post(action, data={"csrf": csrf, "rating": "4"}, follow_redirects=False)
    assert answered.status_code == 303 and "done=survey" in answered.headers["location"]
    again = client.post(action, data={"csrf": csrf, "rating": "1"}, follow_redirects=False)
    assert again.status_code == 303
    with db.read() as session:
        rows = list(session.scalars(select(SurveyAnswer)))
    assert [(r.rating, r.invoice_id, r.customer_id, r.segment_id) for r in rows] == [
        (4, invoice["id"], invoice["customer"], setup["segment"]["id"])
    ]
    assert "Tack för ditt svar!" in open_page(client, invoice)


def test_report_counts_exactly_the_impressions_clicks_and_answers(
    client: TestClient, api: Api, setup: dict[str, Any]
) -> None:
    invoice = setup["inside"]
    page = open_page(client, invoice)
    open_page(client, setup["outside"])
    for _ in range(2):
        client.get(f"/e/{token_of(invoice)}.{setup['offer']['id']}.w", follow_redirects=False)
    client.get(f"/e/{token_of(invoice)}.{setup['offer']['id']}.e", follow_redirects=False)  # the email's link
    action = f"/i/{token_of(invoice)}/survey/{setup['survey']['id']}"
    client.post(action, data={"csrf": form_token(page, action), "rating": "5"}, follow_redirects=False)
    today = date.today().isoformat()
    report = api.get("/reports/engagement", params=PERIOD)
    assert report.status_code == 200, report.text
    rows = {row["placement"]: row for row in report.json()["data"]}
    segment = setup["segment"]["id"]
    offer, info, survey = rows[setup["offer"]["id"]], rows[setup["info"]["id"]], rows[setup["survey"]["id"]]
    assert (offer["segment"], offer["impressions"], offer["unique_viewers"], offer["clicks"], offer["ctr"]) == (
        segment,
        1,
        1,
        3,
        "3.0000",
    )
    # Clicks and CTR per channel: shown once on the web, clicked twice there and once by email.
    assert offer["channels"] == {
        "email": {"impressions": 0, "clicks": 1, "ctr": "0.0000"},
        "web": {"impressions": 1, "clicks": 2, "ctr": "2.0000"},
    }
    assert (info["impressions"], info["clicks"], info["ctr"], info["answers"]) == (1, 0, "0.0000", 0)
    assert (survey["answers"], survey["ratings"], survey["share_4_or_more"]) == (1, {"5": 1}, "1.0000")
    assert report.json()["from"] == PERIOD["from"]
    empty = api.get("/reports/engagement", params={"from": "2020-01-01", "to": "2020-01-31"}).json()["data"]
    assert empty == [] and today
    csv_text = api.get("/reports/engagement.csv", params=PERIOD).text
    assert csv_text.splitlines()[0].startswith("placement,title,kind,segment,impressions")
    assert csv_text.splitlines()[0].endswith("impressions_sms,clicks_sms,ctr_sms")
    offer_line = next(line for line in csv_text.splitlines() if line.startswith(f"{setup['offer']['id']},"))
    assert offer_line.endswith(",1,2,2.0000,0,1,0.0000,0,0,0.0000,0,0,0.0000")  # web, email, pdf, sms
    assert len(csv_text.splitlines()) == 4
    # The calendar's last day cannot end a period (its next day overflowed: found by schemathesis).
    for path in ("/reports/engagement", "/reports/engagement.csv"):
        beyond = api.get(path, params={"from": "9999-12-01", "to": "9999-12-31"})
        assert (beyond.status_code, beyond.json()["error"]["param"]) == (422, "from"), beyond.text


def test_placement_urls_must_be_https_and_segments_the_tenants_own(api: Api, api_b: Api) -> None:
    for url in (
        "javascript:alert(1)",
        "http://plain.example/",
        "data:text/html,hi",
        "https://u:p@x.example/",
        "//x.example",
    ):
        refused = api.post("/placements", {"kind": "offer", "title": "X", "url": url})
        assert refused.status_code in (400, 422), url
    refused = api.post("/placements", {"kind": "info", "title": "X", "image_url": "javascript:x"})
    assert refused.status_code in (400, 422)
    theirs = _created(api_b.post("/segments", {"name": "B", "conditions": []}))
    refused = api.post("/placements", {"kind": "info", "title": "X", "segments": [theirs["id"]]})
    assert refused.status_code in (400, 422) and refused.json()["error"]["param"] == "segments[0]"
    assert api.post("/placements", {"kind": "offer", "title": "X"}).status_code in (400, 422)  # no url
    choice = {"kind": "survey", "title": "Vad?", "survey": {"type": "choice", "choices": ["Ja"]}}
    assert api.post("/placements", choice).status_code in (400, 422)


def test_a_click_on_an_offer_starts_an_event_chain_for_the_segment(
    client: TestClient, api: Api, db: Database, settings: Settings, setup: dict[str, Any]
) -> None:
    body = {
        "name": "Säljlead: uppgradera",
        "trigger": "offer_clicked",
        "conditions": [
            {"field": "customer.segments", "op": "contains", "value": setup["segment"]["id"]},
            {"field": "event.placement", "op": "eq", "value": setup["offer"]["id"]},
        ],
        "actions": [{"type": "add_tag", "tag": "upgrade-lead"}],
    }
    _created(api.post("/automation-rules", body))
    open_page(client, setup["inside"])
    client.get(f"/e/{token_of(setup['inside'])}.{setup['offer']['id']}", follow_redirects=False)
    run_worker(db, settings)
    tags = api.get(f"/customers/{setup['inside']['customer']}").json()["attributes"].get("tags")
    assert tags == ["upgrade-lead"]


def test_a_broken_rule_never_breaks_the_page(client: TestClient, db: Database, setup: dict[str, Any]) -> None:
    from sqlalchemy import update

    from kvitt.segments.models import Segment

    with db.transaction() as session:  # a rule no API would save (written past the checks)
        session.execute(update(Segment).values(conditions=[{"field": "no_such_field", "op": "eq", "value": 1}]))
    page = client.get(f"/i/{token_of(setup['inside'])}")
    assert page.status_code == 200 and "Uppgradera till Global Plus" not in page.text


def test_bad_placement_and_rule_values_are_refused_not_errors(api: Api) -> None:
    naive = api.post("/placements", {"kind": "info", "title": "X", "starts_at": "2026-12-01T00:00:00"})
    assert naive.status_code in (400, 422), naive.text
    assert api.post("/placements", {"kind": "info", "title": "X", "segments": [0]}).status_code in (400, 422)
    assert api.post("/placements", {"kind": "info", "title": "X", "segments": [2**70]}).status_code in (400, 422)
    huge = {"name": "X", "conditions": [{"field": "open_balance", "op": "gt", "value": 10**30}]}
    assert api.post("/segments", huge).status_code in (400, 422)
    policy = {"name": "P", "rules": [{"field": "segment", "op": "eq", "value": 2**70}], "steps": [{"days": 1}]}
    assert api.post("/dunning-policies", policy).status_code in (400, 422)


def test_the_back_office_overview_shows_the_months_click_through(
    app: Any, client: TestClient, api: Api, api_b: Api, db: Database, setup: dict[str, Any]
) -> None:
    """The marketer's figure on *Översikt*: the engagement report's rows of this month."""
    import re

    from tests.reports.test_dashboard import login

    invoice = setup["inside"]
    open_page(client, invoice)
    client.get(f"/e/{token_of(invoice)}.{setup['offer']['id']}", follow_redirects=False)
    html = login(app, db, api.tenant_id, "marketing").get("/admin").text
    assert html.count('id="h-engagement"') == 1 and re.search(r"<title>[^<]*</title>", html), "one section, in main"
    row = re.search(r'<tr><th scope="row">Uppgradera till Global Plus</th>(.*?)</tr>', html)
    assert row is not None, html
    # impressions, clicks, click-through rate, survey answers
    assert re.findall(r'<td class="num">(.*?)</td>', row.group(1)) == ["1", "1", "100,0\u00a0%", "0"]
    theirs = login(app, db, api_b.tenant_id, "admin").get("/admin").text
    assert "Uppgradera till Global Plus" not in theirs and "Inga erbjudanden eller enkäter" in theirs
