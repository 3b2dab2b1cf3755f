"""Reading Bankgirot's files into mandates and debits, and writing the orders: the cases the
whole cycle (test_cycle.py) does not walk through."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from kvitt.autogiro import files, service
from kvitt.autogiro.models import AutogiroFile, Debit, Mandate
from kvitt.core.db import Database
from kvitt.core.errors import ValidationFailed
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.formats import autogiro as ag
from kvitt.formats import bgmax
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.tenants.models import Tenant
from tests.conftest import Api

BGC = "471117"
BANKGIRO = "50501055"
TODAY = date(2026, 4, 15)
PN = "19121212-1212"  # a valid personal number


def tenant_of(session: Any, api: Api) -> Tenant:
    tenant = session.get(Tenant, api.tenant_id)
    assert tenant is not None
    return tenant


def issued_invoice(api: Api, customer_id: int, due: str = "2026-03-31") -> dict[str, Any]:
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}
    body = {"customer": customer_id, "lines": [line], "invoice_date": "2026-03-01", "due_date": due}
    draft = api.post("/invoices", body)
    assert draft.status_code == 201, draft.text
    issued = api.post(f"/invoices/{draft.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def advice(*records: tuple[str, str, str]) -> bytes:
    day = date(2026, 3, 4)
    rows = tuple(
        ag.MandateAdviceRecord(BANKGIRO, payer, None, None, info, comment, day) for payer, info, comment in records
    )
    return ag.write_mandate_advice(ag.MandateAdvice(day, BGC, BANKGIRO, rows))


def with_active_mandates(db: Database, api: Api, count: int = 2) -> list[int]:
    """``count`` customers with mandates, sent to Bankgirot on 2 March and accepted."""
    ids = []
    with db.transaction() as session:
        tenant = tenant_of(session, api)
        service.update_settings(session, tenant, bgc_customer_number=BGC)
        for n in range(count):
            data = CustomerCreate(customer_no=str(1001 + n), name=f"Kund {n}", email=f"k{n}@example.se", id_number=PN)
            customer = customers.create(session, tenant, data)
            service.create_mandate(session, tenant, customer.id, clearing="5001", account=str(1000 + n))
            ids.append(customer.id)
        files.export_orders(session, tenant, day=date(2026, 3, 2), name="m.txt")
        accepted = advice(*((str(1001 + n), "04", "32") for n in range(count)))
        files.import_file(session, tenant, accepted, name="a.txt", today=TODAY, actor="test")
    return ids


def statuses(db: Database) -> list[tuple[str, str, str | None]]:
    with db.transaction() as session:
        rows = session.scalars(select(Mandate).order_by(Mandate.id))
        return [(m.payer_number, m.status, m.comment_code) for m in rows]


def debits(db: Database) -> list[tuple[str, str, str | None]]:
    with db.transaction() as session:
        return [(d.payer_number, d.status, d.result_code) for d in session.scalars(select(Debit).order_by(Debit.id))]


def import_(db: Database, api: Api, data: bytes, name: str = "in.txt") -> files.Imported:
    with db.transaction() as session:
        return files.import_file(session, tenant_of(session, api), data, name=name, today=TODAY, actor="test")


def export(db: Database, api: Api, day: date) -> files.Exported:
    with db.transaction() as session:
        return files.export_orders(session, tenant_of(session, api), day=day, name="out.txt")


def test_advice_rejects_and_cancels_with_the_manuals_texts(db: Database, api: Api) -> None:
    with db.transaction() as session:
        tenant = tenant_of(session, api)
        service.update_settings(session, tenant, bgc_customer_number=BGC)
        for n in range(3):
            data = CustomerCreate(customer_no=str(2001 + n), name="K", email=f"r{n}@example.se", id_number=PN)
            service.create_mandate(
                session, tenant, customers.create(session, tenant, data).id, clearing="5001", account="1"
            )
        files.export_orders(session, tenant, day=date(2026, 3, 2), name="m.txt")
    result = import_(
        db, api, advice(("2001", "04", "32"), ("2002", "04", "23"), ("2003", "04", "32"), ("9999", "04", "32"))
    )
    assert result.summary == {"activated": 2, "rejected": 1, "cancelled": 0, "unchanged": 0, "unknown": 1}
    import_(db, api, advice(("2003", "46", "02")))  # the payer cancelled it at the bank
    assert statuses(db) == [("2001", "active", "32"), ("2002", "rejected", "23"), ("2003", "cancelled", "02")]
    with db.transaction() as session:
        rejected = session.scalar(select(Mandate).where(Mandate.payer_number == "2002"))
        assert rejected is not None and rejected.comment_text == "Felaktigt bankkontonummer."


def test_a_cancelled_mandate_goes_as_tk03_and_its_pending_debits_are_dropped(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    issued_invoice(api, first)
    with db.transaction() as session:
        tenant = tenant_of(session, api)
        mandate = service.active_mandate_for(session, tenant, first)
        assert mandate is not None
        service.cancel(session, tenant, mandate.id)
    exported = export(db, api, date(2026, 3, 27))
    assert exported.data is not None and (exported.cancellations, exported.debits) == (1, 0)
    (section,) = ag.parse_orders(exported.data)
    assert section.orders == (ag.CancelMandate("1001"),)
    assert debits(db) == []  # no debit is planned for a cancelled mandate
    import_(db, api, advice(("1001", "03", "33")))  # Bankgirot confirms the cancellation
    assert statuses(db)[0] == ("1001", "cancelled", "33")


def test_export_needs_the_bgc_customer_number(db: Database, api: Api) -> None:
    with pytest.raises(ValidationFailed) as caught:
        export(db, api, date(2026, 3, 2))
    assert caught.value.param == "bgc_customer_number"


def test_a_spec_whose_closing_does_not_add_up_changes_nothing(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    made = issued_invoice(api, first)
    export(db, api, date(2026, 3, 30))
    record = ag.SpecRecord("debit", date(2026, 3, 31), 0, None, "1001", made["total"], BANKGIRO, made["ocr"], 0)
    section = ag.SpecSection("debit", "1", date(2026, 3, 31), "00001", 0, 0, (record,))
    good = ag.write_payment_spec(ag.PaymentSpec(datetime(2026, 3, 31), BGC, BANKGIRO, date(2026, 3, 31), (section,)))
    lines = good.split(b"\r\n")
    lines[-2] = lines[-2][:20] + b"000000000002" + lines[-2][32:]  # TK09 says two debits
    with pytest.raises(ValidationFailed) as caught:
        import_(db, api, b"\r\n".join(lines))
    assert "line 4" in caught.value.message and "nothing of it applied" in caught.value.message
    assert debits(db) == [("1001", "sent", None)]
    with db.transaction() as session:
        assert (
            session.scalar(select(func.count()).select_from(AutogiroFile).where(AutogiroFile.direction == "from")) == 1
        )
    assert import_(db, api, good).summary["debited"] == 1
    assert debits(db) == [("1001", "debited", "0")]


def test_rejected_payment_orders_fail_the_debit(db: Database, api: Api) -> None:
    (first, second) = with_active_mandates(db, api)
    one = issued_invoice(api, first)
    two = issued_invoice(api, second)
    export(db, api, date(2026, 3, 30))
    rows = (
        ag.RejectedOrder("debit", "20260331", 0, None, "1001", one["total"], one["ocr"], "01"),
        ag.RejectedOrder("credit", "20260331", 0, None, "7", 100, "X", "01"),
    )
    result = import_(db, api, ag.write_rejected(ag.RejectedOrders(date(2026, 3, 30), BGC, BANKGIRO, rows)))
    assert (result.kind, result.summary["failed"]) == ("rejected", 1)
    assert result.summary["credits"]["unknown"] == 1  # a credit Kvitt never sent: nothing to fail
    assert debits(db) == [("1001", "failed", "01"), ("1002", "sent", None)]
    with db.transaction() as session:
        event = session.scalar(select(InvoiceEvent).where(InvoiceEvent.type == "autogiro_failed"))
        assert event is not None and event.invoice_id == one["id"]
        assert event.data["code"] == "rejected" and event.data["reason"] == "Utgår, medgivande saknas."
        invoice = session.get(Invoice, two["id"])
        assert invoice is not None and invoice.state == "unpaid"


def test_autogiro_results_in_bgmax_book_the_payment(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    made = issued_invoice(api, first)
    export(db, api, date(2026, 3, 30))
    payment = bgmax.BgmaxPayment(
        kind="payment",
        payer_bankgiro="0000000000",
        reference="1001",  # autogiro in BGMax: the payer number
        amount=made["total"],
        reference_code=2,
        channel=4,
        bgc_serial=" " * 12,
        has_image=False,
    )
    deposit = bgmax.BgmaxDeposit(
        payee_bankgiro="0050501055",
        payee_plusgiro=None,
        currency="SEK",
        payments=(payment,),
        account="1",
        date=date(2026, 3, 31),
        deposit_serial="00001",
        amount=made["total"],
        count=1,
    )
    data = bgmax.write(bgmax.file_of(datetime(2026, 3, 31, 7, 0), [deposit]))
    result = import_(db, api, data)
    assert (result.kind, result.summary["debited"]) == ("bgmax", 1)
    assert debits(db) == [("1001", "debited", "0")]
    with db.transaction() as session:
        invoice = session.get(Invoice, made["id"])
        assert invoice is not None and invoice.state == "paid"


def test_a_file_of_another_bankgiro_or_to_bankgirot_is_refused(db: Database, api: Api) -> None:
    with_active_mandates(db, api, count=1)
    other = ag.write_mandate_advice(ag.MandateAdvice(date(2026, 3, 4), BGC, "9912346", ()))
    with pytest.raises(ValidationFailed, match="bankgiro 9912346"):
        import_(db, api, other)
    orders = ag.write_orders([ag.OrderSection(ag.Opening(date(2026, 3, 4), BGC, BANKGIRO), ())])
    with pytest.raises(ValidationFailed, match="to Bankgirot"):
        import_(db, api, orders)


def test_a_late_debit_moves_to_the_first_day_an_order_reaches(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    issued_invoice(api, first)  # due Tuesday 31 March 2026
    exported = export(db, api, date(2026, 4, 2))  # Thursday 2 April, before Easter
    assert exported.data is not None
    (section,) = ag.parse_orders(exported.data)
    (order,) = section.orders
    # Långfredagen 3 April and annandag påsk 6 April are no banking days: Tuesday 7 April.
    assert isinstance(order, ag.PaymentOrder) and order.date == date(2026, 4, 7)
