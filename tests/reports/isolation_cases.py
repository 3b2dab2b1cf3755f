"""Tenant-isolation cases for the KPI routes (tests/test_tenant_isolation.py takes them in):
each tenant's figures hold its own invoices only."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from kvitt.worker import Worker
from tests.conftest import Api


def _issue(api: Api, customer_no: str, kronor: int) -> int:
    customer = api.post("/customers", {"customer_no": customer_no, "name": "Astrid Lindqvist"})
    assert customer.status_code == 201, customer.text
    lines = [{"description": "Abonnemang", "quantity": "1", "unit_price": kronor * 100, "vat_rate": 0}]
    body = {"customer": customer.json()["id"], "lines": lines, "invoice_fee": False}
    draft = api.post("/invoices", body)
    assert draft.status_code == 201, draft.text
    issued = api.post(f"/invoices/{draft.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    return int(issued.json()["total"])


def _both(api: Api, api_b: Api) -> tuple[int, int]:
    b_total = _issue(api_b, "B-1", 700) + _issue(api_b, "B-2", 300)
    a_total = _issue(api, "A-1", 100)
    # The worker hands the issued events to the reports subscriber, which marks the days.
    Worker(api.client.app.state.db).run_until_idle()  # type: ignore[attr-defined]
    return a_total, b_total


def _kpis(api: Api, api_b: Api) -> None:
    a_total, b_total = _both(api, api_b)
    mine, theirs = api.get("/reports/kpis").json(), api_b.get("/reports/kpis").json()
    assert (mine["invoices_issued"], mine["invoiced"], mine["outstanding"]) == (1, a_total, a_total)
    assert (theirs["invoices_issued"], theirs["invoiced"], theirs["outstanding"]) == (2, b_total, b_total)


def _kpis_csv(api: Api, api_b: Api) -> None:
    a_total, b_total = _both(api, api_b)
    for client, total in ((api, a_total), (api_b, b_total)):
        response = client.get("/reports/kpis.csv", params={"figure": "invoiced"})
        assert response.status_code == 200, response.text
        (row,) = csv.DictReader(io.StringIO(response.text))
        assert row["value"] == str(total)


REPORTS_OTHER_ROUTES: dict[tuple[str, str], Callable[[Api, Api], None]] = {
    ("GET", "/reports/kpis"): _kpis,
    ("GET", "/reports/kpis.csv"): _kpis_csv,
}

__all__ = ["REPORTS_OTHER_ROUTES"]
