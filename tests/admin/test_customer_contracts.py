"""Kunder: the personal or organisation number, the customer's subscriptions (pause, resume,
cancel) and autogiro mandates (cancel), each through the API's own service, refused by role and
without the CSRF token, the API's refusals shown (422), audited with before and after, and the
API's view of the object checked afterwards."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from kvitt.core.db import Database
from tests.admin.conftest import Staff, make_customer
from tests.admin.test_customer_actions import audit_count, audited

PN = "19121212-1212"  # Skatteverket's test personal number
ORGNR = "556703-7485"  # a valid organisation number (Luhn)
LINE = {"description": "Mobil Fri", "quantity": "1", "unit_price": 29900, "vat_rate": 25}
TODAY = date.today().isoformat()


@pytest.fixture
def astrid(api: Any) -> dict[str, Any]:
    return make_customer(api, "K-88", name="Astrid Lindqvist", email="astrid@example.se")


def subscription(api: Any, customer_id: int, **fields: Any) -> dict[str, Any]:
    body = {"customer": customer_id, "interval": "month", "start_date": TODAY, "lines": [LINE], **fields}
    created = api.post("/subscriptions", body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def mandate(api: Any, customer_id: int) -> dict[str, Any]:
    created = api.post("/autogiro/mandates", {"customer": customer_id, "clearing": "5001", "account": "12"})
    assert created.status_code == 201, created.text
    return dict(created.json())


# --- the personal or organisation number -------------------------------------------------------------


def test_support_sets_a_personal_number_as_the_api_writes_it_audited(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    support = staff_factory("support")
    answer = support.post(f"/admin/kunder/{astrid['id']}/nummer", {"id_number": "191212121212"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/admin/kunder/{astrid['id']}?done=id_number"
    assert api.get(f"/customers/{astrid['id']}").json()["id_number"] == "191212121212"
    (entry,) = audited(db, "customer.update")
    assert (entry.before, entry.after) == ({"id_number": None}, {"id_number": "191212121212"})
    assert entry.target == f"customer:{astrid['id']}" and entry.staff_email == "support@norrsken.test"
    # Empty removes it, audited again.
    assert support.post(f"/admin/kunder/{astrid['id']}/nummer", {"id_number": ""}).status_code == 303
    assert api.get(f"/customers/{astrid['id']}").json()["id_number"] is None
    assert [(e.before, e.after) for e in audited(db, "customer.update")][1] == (
        {"id_number": "191212121212"},
        {"id_number": None},
    )


def test_a_company_takes_an_organisation_number(admin: Staff, api: Any) -> None:
    company = make_customer(api, "F-1", name="Fjällbolaget AB", type="company")
    assert admin.post(f"/admin/kunder/{company['id']}/nummer", {"id_number": "5567037485"}).status_code == 303
    assert api.get(f"/customers/{company['id']}").json()["id_number"] == ORGNR


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("19121212-1213", "personal number"), (ORGNR, "personal number"), ("1" * 25, "at most 20")],
    ids=["bad-check-digit", "organisation-number-for-an-individual", "too-long"],
)
def test_a_refused_number_is_shown_beside_the_field_and_changes_nothing(
    admin: Staff, astrid: dict[str, Any], api: Any, db: Database, typed: str, expected: str
) -> None:
    before = api.get(f"/customers/{astrid['id']}").json()
    answer = admin.post(f"/admin/kunder/{astrid['id']}/nummer", {"id_number": typed})
    assert answer.status_code == 422, answer.text
    error = re.search(r'<p class="error" id="id-number-error" role="alert">([^<]+)</p>', answer.text)
    assert error is not None, answer.text
    assert error.group(1).startswith("Person-/organisationsnummer: ") and expected in error.group(1)
    field = re.search(r'<input id="id_number"[^>]*>', answer.text)
    assert field is not None and 'aria-invalid="true"' in field.group(0) and f'value="{typed}"' in field.group(0)
    assert "id-number-error" in field.group(0)  # aria-describedby names the message
    assert api.get(f"/customers/{astrid['id']}").json() == before
    assert audited(db, "customer.update") == []


def test_the_api_refuses_the_same_number(api: Any, astrid: dict[str, Any]) -> None:
    """The form's rule is the API's: the same number is refused by the PATCH."""
    refused = api.patch(f"/customers/{astrid['id']}", {"id_number": "19121212-1213"})
    assert refused.status_code == 422 and refused.json()["error"]["param"] == "id_number"


# --- subscriptions -----------------------------------------------------------------------------------


def test_support_pauses_and_resumes_a_subscription_audited(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    sub = subscription(api, astrid["id"])
    support = staff_factory("support")
    paused = support.post(f"/admin/kunder/{astrid['id']}/abonnemang/paus", {"subscription": str(sub["id"])})
    assert paused.status_code == 303, paused.text
    assert paused.headers["location"] == f"/admin/kunder/{astrid['id']}?done=pause"
    after = api.get(f"/subscriptions/{sub['id']}").json()
    assert [(p["start"], p["end"]) for p in after["pauses"]] == [(sub["next_period_start"], None)]
    (entry,) = audited(db, "subscription.pause")
    assert entry.target == f"subscription:{sub['id']}"
    assert entry.before["pauses"] == [] and entry.after["pauses"] == [{"start": sub["next_period_start"], "end": None}]
    page = support.get(f"/admin/kunder/{astrid['id']}").text
    assert "Återuppta abonnemanget" in page and "Pausa abonnemanget" not in page

    resumed = support.post(f"/admin/kunder/{astrid['id']}/abonnemang/ateruppta", {"subscription": str(sub["id"])})
    assert resumed.status_code == 303, resumed.text
    assert api.get(f"/subscriptions/{sub['id']}").json()["pauses"] == []  # resumed before it began
    (entry,) = audited(db, "subscription.resume")
    assert entry.before["pauses"] != [] and entry.after["pauses"] == []


def test_finance_cancels_a_subscription_on_a_day(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    sub = subscription(api, astrid["id"])
    end = date.fromisoformat(sub["next_period_start"]).replace(day=1)
    end = date(end.year + 1, 1, 1) if end.month == 12 else date(end.year, end.month + 1, 1)
    finance = staff_factory("finance")
    form = {"subscription": str(sub["id"]), "end_date": end.isoformat()}
    answer = finance.post(f"/admin/kunder/{astrid['id']}/abonnemang/avsluta", form)
    assert answer.status_code == 303, answer.text
    assert api.get(f"/subscriptions/{sub['id']}").json()["end_date"] == end.isoformat()
    (entry,) = audited(db, "subscription.cancel")
    assert entry.before["end_date"] is None and entry.after["end_date"] == end.isoformat()
    # Cancelled: no more forms for it; again is the API's refusal.
    assert "Säg upp abonnemanget" not in finance.get(f"/admin/kunder/{astrid['id']}").text
    again = finance.post(f"/admin/kunder/{astrid['id']}/abonnemang/avsluta", {"subscription": str(sub["id"])})
    assert again.status_code == 422 and "already cancelled" in again.text


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("avsluta", {"end_date": TODAY}, "binding period runs until"),
        ("paus", {"start": "2020-01-01"}, "already invoiced"),
        ("ateruppta", {}, "has no pause to end"),
        ("paus", {"start": "2030-02-01", "end": "2030-01-01"}, "end must be after start"),
        ("avsluta", {"end_date": "31/12"}, "a date such as"),
    ],
    ids=["binding", "billed-period", "not-paused", "end-before-start", "not-a-date"],
)
def test_the_subscription_services_refusals_are_shown_and_change_nothing(
    admin: Staff, astrid: dict[str, Any], api: Any, db: Database, path: str, form: dict[str, str], message: str
) -> None:
    sub = subscription(api, astrid["id"], binding_months=12)
    before = api.get(f"/subscriptions/{sub['id']}").json()
    count = audit_count(db)
    answer = admin.post(f"/admin/kunder/{astrid['id']}/abonnemang/{path}", {"subscription": str(sub["id"]), **form})
    assert answer.status_code == 422, answer.text
    assert message in answer.text
    assert api.get(f"/subscriptions/{sub['id']}").json() == before
    assert audit_count(db) == count


def test_another_customers_subscription_is_not_found(admin: Staff, astrid: dict[str, Any], api: Any) -> None:
    other = make_customer(api, "K-99", name="Bo Ek")
    theirs = subscription(api, other["id"])
    for path in ("paus", "avsluta"):
        answer = admin.post(f"/admin/kunder/{astrid['id']}/abonnemang/{path}", {"subscription": str(theirs["id"])})
        assert answer.status_code == 404, answer.text
    assert api.get(f"/subscriptions/{theirs['id']}").json()["pauses"] == []
    assert api.get(f"/subscriptions/{theirs['id']}").json()["end_date"] is None


def test_another_tenants_subscription_is_not_found(admin: Staff, astrid: dict[str, Any], api_b: Any) -> None:
    theirs = subscription(api_b, make_customer(api_b, "B-1")["id"])
    before = api_b.get(f"/subscriptions/{theirs['id']}").json()
    answer = admin.post(f"/admin/kunder/{astrid['id']}/abonnemang/avsluta", {"subscription": str(theirs["id"])})
    assert answer.status_code == 404
    assert api_b.get(f"/subscriptions/{theirs['id']}").json() == before


# --- autogiro mandates -------------------------------------------------------------------------------


def test_support_cancels_a_mandate_audited(staff_factory: Any, api: Any, db: Database) -> None:
    customer = make_customer(api, "K-90", name="Bo Ek", id_number=PN)
    held = mandate(api, customer["id"])
    support = staff_factory("support")
    assert (
        f'Avsluta medgivandet <span class="mono">{held["payer_number"]}</span>'
        in support.get(f"/admin/kunder/{customer['id']}").text
    )
    answer = support.post(f"/admin/kunder/{customer['id']}/autogiro/avsluta", {"mandate": str(held["id"])})
    assert answer.status_code == 303, answer.text
    assert api.get(f"/autogiro/mandates/{held['id']}").json()["status"] == "cancelled"
    (entry,) = audited(db, "mandate.cancel")
    assert entry.before == {"status": "pending", "outgoing": "new"}
    assert entry.after == {"status": "cancelled", "outgoing": None}
    again = support.post(f"/admin/kunder/{customer['id']}/autogiro/avsluta", {"mandate": str(held["id"])})
    assert again.status_code == 422 and f"mandate {held['id']} is cancelled" in again.text
    assert len(audited(db, "mandate.cancel")) == 1


def test_another_customers_or_tenants_mandate_is_not_found(
    admin: Staff, astrid: dict[str, Any], api: Any, api_b: Any
) -> None:
    other = mandate(api, make_customer(api, "K-91", name="Bo Ek", id_number=PN)["id"])
    theirs = mandate(api_b, make_customer(api_b, "B-1", id_number=PN)["id"])
    for held, client in ((other, api), (theirs, api_b)):
        answer = admin.post(f"/admin/kunder/{astrid['id']}/autogiro/avsluta", {"mandate": str(held["id"])})
        assert answer.status_code == 404
        assert client.get(f"/autogiro/mandates/{held['id']}").json()["status"] == "pending"


# --- roles and CSRF ----------------------------------------------------------------------------------


def _forms(customer_id: int, sub_id: int, mandate_id: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/admin/kunder/{customer_id}/nummer", {"id_number": PN}),
        (f"/admin/kunder/{customer_id}/abonnemang/paus", {"subscription": str(sub_id)}),
        (f"/admin/kunder/{customer_id}/abonnemang/avsluta", {"subscription": str(sub_id)}),
        (f"/admin/kunder/{customer_id}/abonnemang/ateruppta", {"subscription": str(sub_id)}),
        (f"/admin/kunder/{customer_id}/autogiro/avsluta", {"mandate": str(mandate_id)}),
    ]


@pytest.mark.parametrize("role", ["marketing", "read_only"])
def test_roles_without_customer_actions_are_refused(staff_factory: Any, api: Any, db: Database, role: str) -> None:
    customer = make_customer(api, "K-92", name="Bo Ek", id_number=PN)
    sub, held = subscription(api, customer["id"]), mandate(api, customer["id"])
    before = (api.get(f"/customers/{customer['id']}").json(), api.get(f"/subscriptions/{sub['id']}").json())
    staff = staff_factory(role)
    for path, form in _forms(customer["id"], sub["id"], held["id"]):
        assert staff.post(path, form).status_code == 403, path
    if role == "read_only":
        page = staff.get(f"/admin/kunder/{customer['id']}").text
        assert "/abonnemang/" not in page and "/autogiro/" not in page and "/nummer" not in page
    assert (api.get(f"/customers/{customer['id']}").json(), api.get(f"/subscriptions/{sub['id']}").json()) == before
    assert api.get(f"/autogiro/mandates/{held['id']}").json()["status"] == "pending"
    assert audit_count(db) == 0


def test_without_the_csrf_token_nothing_is_done(admin: Staff, api: Any, db: Database) -> None:
    customer = make_customer(api, "K-93", name="Bo Ek", id_number=PN)
    sub, held = subscription(api, customer["id"]), mandate(api, customer["id"])
    for path, form in _forms(customer["id"], sub["id"], held["id"]):
        assert admin.post(path, form, csrf="").status_code == 403, path
    assert api.get(f"/subscriptions/{sub['id']}").json()["pauses"] == []
    assert api.get(f"/autogiro/mandates/{held['id']}").json()["status"] == "pending"
    assert audit_count(db) == 0
