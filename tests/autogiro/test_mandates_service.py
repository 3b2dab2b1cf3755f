"""Mandates stored by the service: validation, payer numbers, the signed (BankID) mandate."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kvitt.autogiro import service
from kvitt.core.db import Database
from kvitt.core.errors import Conflict, ValidationFailed
from kvitt.core.outbox import OutboxJob
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.tenants.models import Tenant


def _customer(db: Database, tenant_id: int, number: str = "1001", **fields: Any) -> int:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        data = {"customer_no": number, "type": "individual", "name": "Anna Berg", "email": "anna@example.se"}
        data["id_number"] = "19121212-1212"
        return customers.create(session, tenant, CustomerCreate(**{**data, **fields})).id


def test_signed_mandate_is_pending_with_its_evidence_and_event(db: Database, tenant_a: tuple[int, str]) -> None:
    customer_id = _customer(db, tenant_a[0])
    evidence = {"signature": "PD94bWwg", "ocspResponse": "MIIHfgoBAKCC", "user": {"name": "Anna Berg"}}
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_a[0])
        assert tenant is not None
        mandate = service.create_signed_mandate(
            session,
            tenant,
            customer_id,
            clearing="8327-9",
            account="916 331 417-4",
            personal_number="19121212-1212",
            evidence=evidence,
        )
        assert (mandate.status, mandate.source, mandate.outgoing) == ("pending", "bankid", "new")
        assert (mandate.clearing, mandate.account) == ("8327", "9163314174")
        assert mandate.personal_number == "191212121212"
        assert mandate.payer_number == "1001"
        assert mandate.evidence == evidence
        assert service.active_mandate_for(session, tenant, customer_id) is None
        jobs = session.scalars(select(OutboxJob).where(OutboxJob.tenant_id == tenant.id)).all()
        assert [j.payload["type"] for j in jobs if j.payload.get("type", "").startswith("autogiro")] == [
            "autogiro.mandate.created"
        ]


@pytest.mark.parametrize(
    ("clearing", "account", "param"),
    [
        ("12", "123456", "clearing"),
        ("0999", "123456", "clearing"),
        ("5001", "1234567890123", "account"),
        ("5001", "", "account"),
    ],
)
def test_bad_clearing_or_account_is_refused(
    db: Database, tenant_a: tuple[int, str], clearing: str, account: str, param: str
) -> None:
    customer_id = _customer(db, tenant_a[0])
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_a[0])
        assert tenant is not None
        with pytest.raises(ValidationFailed) as caught:
            service.create_mandate(session, tenant, customer_id, clearing=clearing, account=account)
        assert caught.value.param == param


def test_payer_number_is_unique_per_tenant_and_free_again_after_cancel(
    db: Database, tenant_a: tuple[int, str], tenant_b: tuple[int, str]
) -> None:
    first = _customer(db, tenant_a[0], "1001")
    second = _customer(db, tenant_a[0], "ABC-7")
    other_tenant = _customer(db, tenant_b[0], "1001")
    with db.transaction() as session:
        a = session.get(Tenant, tenant_a[0])
        b = session.get(Tenant, tenant_b[0])
        assert a is not None and b is not None
        mandate = service.create_mandate(session, a, first, clearing="5001", account="1000001")
        assert service.create_mandate(session, b, other_tenant, clearing="5001", account="1").payer_number == "1001"
        with pytest.raises(Conflict):
            service.create_mandate(session, a, second, clearing="5001", account="2", payer_number="0001001")
        with pytest.raises(Conflict):
            service.create_mandate(session, a, first, clearing="5001", account="3")
        # A customer number that is not digits gives the customer's id as payer number.
        assert service.create_mandate(session, a, second, clearing="5001", account="4").payer_number == str(second)
        service.cancel(session, a, mandate.id)
        assert (mandate.status, mandate.outgoing) == ("cancelled", None)  # never sent: nothing to send
        again = service.create_mandate(session, a, first, clearing="5001", account="5")
        assert again.payer_number == "1001"


def test_a_mandate_needs_a_personal_or_organisation_number(db: Database, tenant_a: tuple[int, str]) -> None:
    unknown = _customer(db, tenant_a[0], "1001", id_number=None)
    company = _customer(db, tenant_a[0], "1002", id_number=None, type="company")
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_a[0])
        assert tenant is not None
        with pytest.raises(ValidationFailed) as caught:
            service.create_mandate(session, tenant, unknown, clearing="5001", account="1")
        assert caught.value.param == "personal_number"
        made = service.create_mandate(
            session, tenant, company, clearing="5001", account="1", personal_number="556036-0793"
        )
        assert made.personal_number == "005560360793"  # an organisation number: 00 + its 10 digits
