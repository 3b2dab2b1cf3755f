"""Placements on the PDF (channel pdf): the segment's customer gets the offer with its address
through the click redirect and the information with their values; others get none."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.documents.helpers import pdf_text
from tests.engagement.helpers import medium_segment, placement, upgrade_offer
from tests.segments.isolation_cases import _created
from tests.web.helpers import issued, token_of


def test_the_pdf_carries_the_placements_that_fit(client: TestClient, api: Api, tmp_path: Path) -> None:
    def customer(no: str, plan: str) -> dict[str, object]:
        body = {"customer_no": no, "name": f"Kund {no}", "attributes": {"plan": plan, "end": "2027-01-31"}}
        return _created(api.post("/customers", body))

    segment = medium_segment(api)
    offer = upgrade_offer(api, segment, cta="Uppgradera", channels=["pdf"])
    placement(api, "info", "Ditt avtal", segment, text="Går ut {end}.", channels=["pdf"])
    placement(api, "info", "Bara på webben", channels=["web"])
    inside, outside = issued(api, customer("IN-1", "Medium")), issued(api, customer("OUT-1", "Bas"))

    text = " ".join(pdf_text(api.get(f"/invoices/{inside['id']}/pdf").content, tmp_path).split())
    assert "Uppgradera till Global Plus" in text and "Ditt avtal Går ut 2027-01-31." in text
    assert f"/e/{token_of(inside)}.{offer['id']}.p" in text and "Bara på webben" not in text
    other = " ".join(pdf_text(api.get(f"/invoices/{outside['id']}/pdf").content, tmp_path).split())
    assert "Uppgradera" not in other and "Ditt avtal" not in other
    assert client.get(f"/i/{token_of(inside)}/pdf").status_code == 200
