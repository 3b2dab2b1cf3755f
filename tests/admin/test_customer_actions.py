"""Kunder: the customer page's actions beyond contact details (name, address, language,
attributes; resuming dunning; an extension, a resend and a credit of one of the customer's
invoices), each through the API's service, refused by role and without the CSRF token, and
audited with before and after."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kvitt.admin.customers import attributes_text, parse_attributes
from kvitt.admin.models import AuditEntry
from kvitt.core.db import Database
from kvitt.core.errors import ValidationFailed
from tests.admin.conftest import Staff, make_customer, make_issued


@pytest.fixture
def astrid(api: Any) -> dict[str, Any]:
    customer = make_customer(api, "K-77", name="Astrid Lindqvist", email="astrid@example.se")
    customer["invoice"] = make_issued(api, customer["id"])
    return customer


def audited(db: Database, action: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def audit_count(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action != "staff.login"))
        )


def later(invoice: dict[str, Any], days: int = 20) -> str:
    return (date.fromisoformat(invoice["due_date"]) + timedelta(days=days)).isoformat()


# --- name, address, language -----------------------------------------------------------------------


def test_support_changes_name_address_and_language_audited(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    support = staff_factory("support")
    form = {
        "name": "Astrid Berg",
        "address_line1": "Storgatan 1",
        "address_line2": "",
        "postal_code": "111 22",
        "city": "Stockholm",
        "country": "se",
        "language": "en",
    }
    answer = support.post(f"/admin/kunder/{astrid['id']}/uppgifter", form)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/admin/kunder/{astrid['id']}?done=details"
    after = api.get(f"/customers/{astrid['id']}").json()
    assert (after["name"], after["address_line1"], after["city"], after["country"], after["language"]) == (
        "Astrid Berg",
        "Storgatan 1",
        "Stockholm",
        "SE",
        "en",
    )
    (entry,) = audited(db, "customer.update")
    assert entry.staff_email == "support@norrsken.test" and entry.target == f"customer:{astrid['id']}"
    assert entry.before == {
        "name": "Astrid Lindqvist",
        "address_line1": None,
        "postal_code": None,
        "city": None,
        "language": "sv",
    }
    assert entry.after == {
        "name": "Astrid Berg",
        "address_line1": "Storgatan 1",
        "postal_code": "111 22",
        "city": "Stockholm",
        "language": "en",
    }
    page = support.get(f"/admin/kunder/{astrid['id']}").text
    assert "Storgatan 1" in page and "Engelska" in page


@pytest.mark.parametrize(
    "form",
    [{"name": ""}, {"country": "SWE"}, {"language": "de"}, {"postal_code": "12345678901"}],
    ids=str,
)
def test_the_customer_services_refusals_change_nothing(
    admin: Staff, astrid: dict[str, Any], api: Any, db: Database, form: dict[str, str]
) -> None:
    before = api.get(f"/customers/{astrid['id']}").json()
    answer = admin.post(f"/admin/kunder/{astrid['id']}/uppgifter", form)
    assert answer.status_code == 422, answer.text
    assert api.get(f"/customers/{astrid['id']}").json() == before
    assert audited(db, "customer.update") == []


# --- attributes ----------------------------------------------------------------------------------


def test_attributes_are_saved_with_their_types_and_audited(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    finance = staff_factory("finance")
    text = 'plan = Fri\nlines = 3\nvip = true\nzip = "11122"\n\nnote = två ord'
    answer = finance.post(f"/admin/kunder/{astrid['id']}/attribut", {"attributes": text})
    assert answer.status_code == 303, answer.text
    expected = {"plan": "Fri", "lines": 3, "vip": True, "zip": "11122", "note": "två ord"}
    assert api.get(f"/customers/{astrid['id']}").json()["attributes"] == expected
    (entry,) = audited(db, "customer.attributes")
    assert entry.before == {"attributes": {}} and entry.after == {"attributes": expected}
    # The page shows them so that saving the form unchanged keeps every type.
    page = finance.get(f"/admin/kunder/{astrid['id']}").text
    assert "zip = &#34;11122&#34;" in page and "lines = 3" in page
    resaved = finance.post(f"/admin/kunder/{astrid['id']}/attribut", {"attributes": attributes_text(expected)})
    assert resaved.status_code == 303
    assert api.get(f"/customers/{astrid['id']}").json()["attributes"] == expected
    assert len(audited(db, "customer.attributes")) == 1  # nothing changed: nothing audited


def test_attributes_written_by_the_api_survive_the_form() -> None:
    attributes = {
        "a": "3",
        "b": 3,
        "c": "true",
        "d": [1, "x"],
        "e": {"k": None},
        "f": "text",
        "g": 2.5,
        "h": "",
        "i": "två\nrader",
        "j": " kant ",
    }
    assert parse_attributes(attributes_text(attributes)) == attributes


@pytest.mark.parametrize("text", ["no equals sign", "= 3", "a = 1\na = 2"])
def test_a_malformed_attributes_line_is_refused(admin: Staff, astrid: dict[str, Any], api: Any, text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_attributes(text)
    answer = admin.post(f"/admin/kunder/{astrid['id']}/attribut", {"attributes": text})
    assert answer.status_code == 422
    assert api.get(f"/customers/{astrid['id']}").json()["attributes"] == {}


# --- resuming dunning ----------------------------------------------------------------------------


def test_support_resumes_paused_dunning_audited(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    support = staff_factory("support")
    assert support.post(f"/admin/kunder/{astrid['id']}/paus", {"reason": "Tvist"}).status_code == 303
    assert "Återuppta påminnelser" in support.get(f"/admin/kunder/{astrid['id']}").text
    answer = support.post(f"/admin/kunder/{astrid['id']}/ateruppta")
    assert answer.status_code == 303, answer.text
    listed = api.get("/dunning-pauses", params={"customer": astrid["id"]}).json()["data"]
    assert [p["active"] for p in listed] == [False]
    (entry,) = audited(db, "customer.resume_dunning")
    assert entry.before["ended_at"] is None and entry.after["ended_at"] is not None
    assert entry.before["reason"] == "Tvist" and entry.target == f"customer:{astrid['id']}"
    page = support.get(f"/admin/kunder/{astrid['id']}").text
    assert "Återuppta påminnelser" not in page and "Avslutad paus" in page
    again = support.post(f"/admin/kunder/{astrid['id']}/ateruppta")
    assert again.status_code == 422 and "not paused" in again.text


def test_another_customers_pause_is_not_ended(admin: Staff, api: Any, astrid: dict[str, Any]) -> None:
    other = make_customer(api, "K-78", name="Bertil Ek")
    paused = api.post("/dunning-pauses", {"customer": other["id"], "reason": "Tvist"})
    assert paused.status_code == 201, paused.text
    answer = admin.post(f"/admin/kunder/{astrid['id']}/ateruppta", {"pause": str(paused.json()["id"])})
    assert answer.status_code == 404
    assert [p["active"] for p in api.get("/dunning-pauses").json()["data"]] == [True]


# --- one of the customer's invoices --------------------------------------------------------------


def test_support_resends_an_invoice_by_a_chosen_channel(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    support = staff_factory("support")
    invoice = astrid["invoice"]
    before = len(api.get(f"/invoices/{invoice['id']}/deliveries").json()["data"])
    answer = support.post(f"/admin/kunder/{astrid['id']}/skicka", {"invoice": str(invoice["id"]), "method": "email"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/admin/kunder/{astrid['id']}?done=sent"
    deliveries = api.get(f"/invoices/{invoice['id']}/deliveries").json()["data"]
    assert len(deliveries) == before + 1 and deliveries[-1]["channel"] == "email"
    assert deliveries[-1]["reason"] == "resend"
    (entry,) = audited(db, "invoice.send")
    assert entry.before == {"deliveries": before}
    assert entry.after["deliveries"] == before + 1 and entry.after["channel"] == "email"
    # The delivery service's own rule: no letter without a postal address.
    letter = support.post(f"/admin/kunder/{astrid['id']}/skicka", {"invoice": str(invoice["id"]), "method": "letter"})
    assert letter.status_code == 422 and "no postal address" in letter.text


def test_support_gives_a_payment_extension(staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database) -> None:
    support = staff_factory("support")
    invoice = astrid["invoice"]
    until = later(invoice)
    form = {"invoice": str(invoice["id"]), "until": until, "reason": "Sjuk"}
    answer = support.post(f"/admin/kunder/{astrid['id']}/anstand", form)
    assert answer.status_code == 303, answer.text
    extensions = api.get("/payment-extensions").json()["data"]
    assert [(e["invoice"], e["until"], e["state"]) for e in extensions] == [(invoice["id"], until, "approved")]
    (entry,) = audited(db, "invoice.payment_extension")
    assert entry.target == f"invoice:{invoice['id']}"
    assert entry.before == {"due_date": invoice["due_date"], "state": "unpaid"}
    assert entry.after["until"] == until and entry.after["extension_state"] == "approved"
    early = support.post(
        f"/admin/kunder/{astrid['id']}/anstand", {"invoice": str(invoice["id"]), "until": "2020-01-01"}
    )
    assert early.status_code == 422


def test_finance_credits_an_invoice(staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database) -> None:
    finance = staff_factory("finance")
    invoice = astrid["invoice"]
    form = {"invoice": str(invoice["id"]), "mode": "amount", "amount": "100,00", "reason": "Fel pris"}
    answer = finance.post(f"/admin/kunder/{astrid['id']}/kreditera", form)
    assert answer.status_code == 303, answer.text
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["credited"] == 10000 and after["remaining"] == invoice["total"] - 10000
    (entry,) = audited(db, "invoice.credit")
    assert entry.before["credited"] == 0 and entry.after["credited"] == 10000
    assert entry.after["credit_note"] is not None


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("skicka", {"method": "email"}),
        ("anstand", {"until": "2027-06-01"}),
        ("kreditera", {"mode": "full"}),
    ],
)
def test_an_invoice_of_another_customer_or_tenant_is_not_found(
    admin: Staff, api: Any, api_b: Any, astrid: dict[str, Any], db: Database, action: str, form: dict[str, str]
) -> None:
    bertil = make_issued(api, make_customer(api, "K-78", name="Bertil Ek")["id"])
    theirs = make_issued(api_b, make_customer(api_b, "B-1")["id"])
    snapshot = (
        api.get(f"/invoices/{bertil['id']}").json(),
        api.get(f"/invoices/{bertil['id']}/deliveries").json(),
        api_b.get(f"/invoices/{theirs['id']}").json(),
        api_b.get(f"/invoices/{theirs['id']}/deliveries").json(),
    )
    for invoice_id in (bertil["id"], theirs["id"], 10**9):
        answer = admin.post(f"/admin/kunder/{astrid['id']}/{action}", {"invoice": str(invoice_id), **form})
        assert answer.status_code == 404, (invoice_id, answer.status_code)
    assert admin.post(f"/admin/kunder/{astrid['id']}/{action}", {"invoice": "x", **form}).status_code == 422
    assert snapshot == (
        api.get(f"/invoices/{bertil['id']}").json(),
        api.get(f"/invoices/{bertil['id']}/deliveries").json(),
        api_b.get(f"/invoices/{theirs['id']}").json(),
        api_b.get(f"/invoices/{theirs['id']}/deliveries").json(),
    )
    assert audit_count(db) == 0


# --- roles and CSRF, per route -------------------------------------------------------------------

SUPPORT_ROUTES = ("uppgifter", "attribut", "ateruppta", "skicka", "anstand")
# route -> the roles that may not use it (the customer page is not even open to marketing)
REFUSED = {route: ("read_only", "marketing") for route in SUPPORT_ROUTES} | {
    "kreditera": ("read_only", "marketing", "support")
}


def forms(astrid: dict[str, Any]) -> dict[str, dict[str, str]]:
    invoice = str(astrid["invoice"]["id"])
    return {
        "uppgifter": {"name": "Någon Annan", "language": "en"},
        "attribut": {"attributes": "plan = Max"},
        "ateruppta": {},
        "skicka": {"invoice": invoice, "method": "email"},
        "anstand": {"invoice": invoice, "until": later(astrid["invoice"])},
        "kreditera": {"invoice": invoice, "mode": "full"},
    }


def customer_state(api: Any, astrid: dict[str, Any]) -> Any:
    invoice = astrid["invoice"]["id"]
    return (
        api.get(f"/customers/{astrid['id']}").json(),
        api.get(f"/invoices/{invoice}").json(),
        api.get(f"/invoices/{invoice}/deliveries").json(),
        api.get("/payment-extensions").json(),
        api.get("/dunning-pauses").json(),
    )


@pytest.mark.parametrize(
    ("route", "role"), [(route, role) for route, roles in REFUSED.items() for role in roles], ids=str
)
def test_each_role_that_may_not_is_refused(
    staff_factory: Any, api: Any, astrid: dict[str, Any], db: Database, route: str, role: str
) -> None:
    assert api.post("/dunning-pauses", {"customer": astrid["id"], "reason": "Tvist"}).status_code == 201
    before = customer_state(api, astrid)
    staff = staff_factory(role)
    answer = staff.post(f"/admin/kunder/{astrid['id']}/{route}", forms(astrid)[route])
    assert answer.status_code == 403, answer.text
    assert customer_state(api, astrid) == before
    assert audit_count(db) == 0


@pytest.mark.parametrize("route", sorted(REFUSED))
def test_a_post_without_the_csrf_token_is_refused(
    admin: Staff, staff_factory: Any, api: Any, astrid: dict[str, Any], db: Database, route: str
) -> None:
    assert api.post("/dunning-pauses", {"customer": astrid["id"], "reason": "Tvist"}).status_code == 201
    before = customer_state(api, astrid)
    url = f"/admin/kunder/{astrid['id']}/{route}"
    assert admin.post(url, forms(astrid)[route], csrf="").status_code == 403
    assert admin.post(url, forms(astrid)[route], csrf=staff_factory("finance").csrf()).status_code == 403
    assert admin.post(url, forms(astrid)[route], headers={"Origin": "https://evil.example"}).status_code == 403
    assert customer_state(api, astrid) == before
    assert audit_count(db) == 0


def test_finance_and_admin_may_use_every_route(staff_factory: Any, api: Any, astrid: dict[str, Any]) -> None:
    """The other side of the refusals: the allowed roles get through (each route once)."""
    assert api.post("/dunning-pauses", {"customer": astrid["id"], "reason": "Tvist"}).status_code == 201
    finance = staff_factory("finance")
    for route, form in forms(astrid).items():
        answer = finance.post(f"/admin/kunder/{astrid['id']}/{route}", form)
        assert answer.status_code == 303, (route, answer.text)


def test_the_page_offers_each_role_only_its_actions(staff_factory: Any, astrid: dict[str, Any]) -> None:
    support = staff_factory("support").get(f"/admin/kunder/{astrid['id']}").text
    assert "/uppgifter" in support and "/attribut" in support and "/skicka" in support and "/anstand" in support
    assert "/kreditera" not in support
    assert "/kreditera" in staff_factory("finance").get(f"/admin/kunder/{astrid['id']}").text
    read_only = staff_factory("read_only").get(f"/admin/kunder/{astrid['id']}").text
    for route in REFUSED:
        assert f"/admin/kunder/{astrid['id']}/{route}" not in read_only, route
