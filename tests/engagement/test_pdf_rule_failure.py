"""A placement rule that fails when the PDF is made (written past the API's checks) leaves that
PDF without placements and never fails its request: on PostgreSQL the failing statement would
abort the request's transaction, so ``engagement.fitting`` evaluates inside a SAVEPOINT and the
PDF's other reads go on. Meaningful on PostgreSQL (``KVITT_TEST_DB=postgresql``), where the
database itself refuses the rule; on SQLite the same rule simply matches nobody."""

from __future__ import annotations

import io
from pathlib import Path

import structlog
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import update

from kvitt.core.db import Database
from kvitt.segments.models import Segment
from kvitt.tenants import branding
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.documents.helpers import pdf_text
from tests.engagement.helpers import UPGRADE, medium_segment, placement, upgrade_offer
from tests.segments.isolation_cases import _created
from tests.web.helpers import issued, token_of


def test_a_rule_failing_while_the_pdf_is_made_leaves_the_pdf_without_placements(
    client: TestClient, api: Api, db: Database, tmp_path: Path
) -> None:
    # A logo: the PDF reads it after the placements, in the same transaction (so a transaction the
    # rule had aborted would fail the request there).
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (91, 42, 134)).save(buffer, "PNG")
    with db.transaction() as session:
        tenant = session.get(Tenant, api.tenant_id)
        assert tenant is not None
        branding.set_logo(session, tenant, buffer.getvalue())
    segment = medium_segment(api)
    upgrade_offer(api, segment, channels=["pdf"])
    placement(api, "info", "Till alla", text="Gäller alla kunder.", channels=["pdf"])  # no segment: no rule
    body = {"customer_no": "M1", "name": "Kund M1", "attributes": {"plan": "Medium"}}
    invoice = issued(api, _created(api.post("/customers", body)))
    before = " ".join(pdf_text(api.get(f"/invoices/{invoice['id']}/pdf").content, tmp_path).split())
    assert UPGRADE in before and "Gäller alla kunder." in before

    with db.transaction() as session:  # a number field compared with a text: PostgreSQL refuses it
        broken = [{"field": "open_balance", "op": "eq", "value": "not a number"}]
        session.execute(update(Segment).where(Segment.id == segment["id"]).values(conditions=broken))
    with structlog.testing.capture_logs() as logs:
        by_api = api.get(f"/invoices/{invoice['id']}/pdf")
        by_page = client.get(f"/i/{token_of(invoice)}/pdf")
    assert by_api.status_code == 200 and by_page.status_code == 200, (by_api.text, by_page.text)
    for answer in (by_api, by_page):
        text = " ".join(pdf_text(answer.content, tmp_path).split())
        assert UPGRADE not in text and invoice["number"] and str(invoice["number"]) in text
    if db.engine.dialect.name == "postgresql":  # the database refused the rule, and the PDF went on
        failed = [entry for entry in logs if entry["event"] == "engagement_not_on_pdf"]
        assert len(failed) == 2 and "operator does not exist" in failed[0]["error"], logs
