"""``settings``, ``logotype`` and ``report`` through the official client; ``billogram_user``
printed by ``kvitt init --json`` and ``kvitt keys create --json`` and accepted by the API;
every Billogram route scoped to the caller's tenant."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from billogram_api import BillogramAPI, BillogramExceptions  # type: ignore[import-untyped]
from fastapi.routing import APIRoute
from typer.testing import CliRunner

from kvitt.billogram.api import PARTS
from kvitt.billogram.route import PREFIX, BillogramRoute
from kvitt.cli import app as cli
from kvitt.core.db import Database
from kvitt.simulators import RunningServer
from kvitt.tenants.models import Tenant

E = BillogramExceptions


def test_settings_read_and_update(bg: BillogramAPI, db: Database) -> None:
    settings = bg.settings
    assert settings["name"] == "Norrsken Telekom AB" and settings["org_no"] == "556036-0793"
    assert settings["payment"]["bankgiro"] == "5050-1055"
    assert settings["invoices"]["default_invoice_fee"] == 0
    settings.update(
        {"invoices": {"default_invoice_fee": 29.5, "default_due_days": 20}, "contact": {"email": "ekonomi@norrsken.se"}}
    )
    assert settings["invoices"] == {"default_due_days": 20, "default_invoice_fee": 29.5, "default_reminder_fee": 0}
    with db.transaction() as session:
        tenant = session.get_one(Tenant, int(bg._auth[0].split("-")[0]))
        assert (tenant.invoice_fee, tenant.payment_terms_days, tenant.email) == (2950, 20, "ekonomi@norrsken.se")
    assert bg.settings.refresh()["invoices"]["default_invoice_fee"] == Decimal("29.5")
    with pytest.raises(E.ReadOnlyFieldError):
        settings.update({"name": "Other AB"})
    with pytest.raises(E.InvalidFieldValueError) as info:
        settings.update({"invoices": {"default_invoice_fee": 1.001}})
    assert info.value.field == "default_invoice_fee" and info.value.field_path == ["invoices"]
    with pytest.raises(E.InvalidFieldValueError) as info:
        settings.update({"payment": {"bankgiro": "123"}})
    assert info.value.field == "bankgiro"


def test_logotype_and_reports_are_not_supported(bg: BillogramAPI) -> None:
    with pytest.raises(E.ObjectNotFoundError):
        bg.logotype.refresh()
    with pytest.raises(E.RequestDataError) as info:
        bg.logotype.update({"content": "", "file_type": "image/png"})
    assert "not supported" in str(info.value)
    with pytest.raises(E.RequestDataError):
        bg.reports.query().count  # noqa: B018
    with pytest.raises(E.RequestDataError):
        bg.reports.get("daily.csv")


def test_cli_prints_the_billogram_user_and_it_works(cli_env: str, server: RunningServer) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli, ["init", "--name", "Norrsken Telekom AB", "--org-number", "5560360793", "--bankgiro", "50501055", "--json"]
    )
    assert created.exit_code == 0, created.output
    first = json.loads(created.output)
    assert first["billogram_user"] == f"{first['tenant_id']}-5560360793"
    keyed = runner.invoke(cli, ["keys", "create", "--name", "billogram", "--json"])
    assert keyed.exit_code == 0, keyed.output
    second = json.loads(keyed.output)
    assert second["billogram_user"] == first["billogram_user"] and second["api_key"] != first["api_key"]
    for key in (first["api_key"], second["api_key"]):
        api = BillogramAPI(first["billogram_user"], key, api_base=server.url + PREFIX)
        assert api.settings["org_no"] == "556036-0793"


def _routes() -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for part in PARTS
        for route in part.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    )


def test_every_route_is_a_billogram_route() -> None:
    routes = [route for part in PARTS for route in part.routes]
    assert routes and all(isinstance(route, BillogramRoute) for route in routes)
    assert len(_routes()) >= 20


# An object of tenant B for every route with an identifier in its path: tenant A must get 404.
FOREIGN = {
    "{item_no}": "B-ITEM",
    "{customer_no}": "900",
    "{billogram_id}": "",  # filled in by the test
    "{command}": "payment",
    "{filename}": "x",
}


def test_every_route_with_an_id_hides_another_tenants_object(bg: BillogramAPI, bg_b: BillogramAPI) -> None:
    bg_b.items.create({"item_no": "B-ITEM", "title": "B", "price": 1, "vat": 25})
    bg_b.customers.create({"customer_no": 900, "name": "B's customer", "contact": {"email": "b@example.se"}})
    billogram = bg_b.billogram.create_and_send(
        {"customer": {"customer_no": 900}, "items": [{"item_no": "B-ITEM", "count": 1}]}, "Email"
    )
    before = bg_b.billogram.get(billogram["id"]).data
    ids = {**FOREIGN, "{billogram_id}": billogram["id"]}
    checked = 0
    for method, path in _routes():
        if "{" not in path or path.startswith("/report"):
            continue
        url = path.removeprefix("/")
        for name, value in ids.items():
            url = url.replace(name, value)
        call = {
            "GET": lambda u: bg.get(u, expect_content_type="application/json"),
            "PUT": lambda u: bg.put(u, {}),
            "POST": lambda u: bg.post(u, {"amount": 1}),
            "DELETE": bg.delete,
        }[method]
        with pytest.raises(E.ObjectNotFoundError):
            call(url)
        checked += 1
    assert checked >= 9
    after = bg_b.billogram.get(billogram["id"]).data
    assert after == before
    assert bg_b.items.get("B-ITEM")["title"] == "B" and bg_b.customers.get(900)["name"] == "B's customer"
