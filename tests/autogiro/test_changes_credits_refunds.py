"""Issue 14's later part: changes of payer number (TK05 out, information 05 in), credits to payers
(TK32 out, their results in the specification and in rejected orders), debits paid back (TK77),
and debits Bankgirot tries again (status 9). Each applied once: the same file again, or the same
record in another file, changes nothing. Bankgirot's side is played by the codec's writers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from kvitt.autogiro import files, service
from kvitt.autogiro.models import Credit, Debit, Mandate
from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.formats import autogiro as ag
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.ledger.models import JournalLine
from kvitt.payments import service as payments
from tests.autogiro.test_files import (
    BANKGIRO,
    BGC,
    debits,
    export,
    import_,
    issued_invoice,
    tenant_of,
    with_active_mandates,
)
from tests.conftest import Api
from tests.formats.test_autogiro import ADVICE, SPEC  # Bankgirot's example files

ACCOUNT = "8901003232323232"


def change_advice(*records: tuple[str, str]) -> bytes:
    """Bankgirot's advice to a TK05: (payer number, comment code), information code 05."""
    day = date(2026, 3, 6)
    rows = tuple(ag.MandateAdviceRecord(BANKGIRO, payer, None, None, "05", code, day) for payer, code in records)
    return ag.write_mandate_advice(ag.MandateAdvice(day, BGC, BANKGIRO, rows))


def spec(sections: list[tuple[str, list[ag.SpecRecord]]], created: datetime = datetime(2026, 4, 1, 6, 0)) -> bytes:
    """A payment specification of the given sections (kind, records); counts and sums computed."""
    day = created.date()
    built = tuple(
        ag.SpecSection(kind, ACCOUNT, day, f"{n:05d}", 0, 0, tuple(records))
        for n, (kind, records) in enumerate(sections, start=1)
    )
    return ag.write_payment_spec(ag.PaymentSpec(created, BGC, BANKGIRO, day, built))


def result(kind: str, on: date, payer: str, amount: int, status: int, reference: str = "X") -> ag.SpecRecord:
    return ag.SpecRecord(kind, on, 0, None, payer, amount, BANKGIRO, reference, status)


def mandate_of(api: Api, payer_number: str) -> dict[str, Any]:
    found = [m for m in api.get("/autogiro/mandates").json()["data"] if m["payer_number"] == payer_number]
    assert len(found) == 1, found
    return dict(found[0])


def mandate_rows(db: Database) -> list[tuple[str, str | None, str, str | None]]:
    with db.read() as session:
        rows = session.scalars(select(Mandate).order_by(Mandate.id))
        return [(m.payer_number, m.new_payer_number, m.status, m.comment_code) for m in rows]


def timeline(db: Database, invoice_id: int) -> list[str]:
    with db.read() as session:
        rows = session.scalars(select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice_id))
        return [e.type for e in rows]


def invoice_row(db: Database, invoice_id: int) -> tuple[str, int, int]:
    with db.read() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice.state, invoice.paid, invoice.remaining


# --- change of payer number ----------------------------------------------------------------------


def test_a_payer_number_change_goes_as_tk05_and_bankgirots_advice_makes_it(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    mine = mandate_of(api, "1001")
    taken = api.post(f"/autogiro/mandates/{mine['id']}/payer_number", {"payer_number": "1002"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "duplicate_payer_number"
    asked = api.post(f"/autogiro/mandates/{mine['id']}/payer_number", {"payer_number": "005001"})
    assert asked.status_code == 200, asked.text
    assert (asked.json()["payer_number"], asked.json()["new_payer_number"]) == ("1001", "5001")
    again = api.post(f"/autogiro/mandates/{mine['id']}/payer_number", {"payer_number": "5002"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "change_pending"
    made = issued_invoice(api, first)  # due 31 March: ordered on the 30th, but held while the number changes

    exported = export(db, api, date(2026, 3, 30))
    assert exported.data is not None and (exported.changes, exported.debits) == (1, 0)
    (section,) = ag.parse_orders(exported.data)
    assert section.orders == (ag.ChangePayerNumber("1001", "5001"),)
    tk05 = "05" + "0050501055" + "1001".zfill(16) + "0050501055" + "5001".zfill(16)
    assert exported.data.decode("iso-8859-1").splitlines()[1].rstrip() == tk05
    assert export(db, api, date(2026, 3, 30)).data is None  # sent once
    assert debits(db) == [("1001", "pending", None)]

    # Bankgirot: the new number holds the mandate (05/32), the old one is gone (05/33).
    answer = change_advice(("5001", "32"), ("1001", "33"))
    applied = import_(db, api, answer)
    assert applied.summary == {
        "activated": 0,
        "rejected": 0,
        "cancelled": 0,
        "unchanged": 1,
        "unknown": 0,
        "changed": 1,
    }
    assert mandate_rows(db) == [("5001", None, "active", "32"), ("1002", None, "active", "32")]
    assert debits(db) == [("5001", "pending", None)]  # the held debit moved to the new number
    assert import_(db, api, answer).already_imported
    # The same records in another file (the old number first this time): nothing more to change.
    again_file = change_advice(("1001", "33"), ("5001", "32"))
    assert import_(db, api, again_file, name="again.txt").summary["unchanged"] == 2
    assert mandate_rows(db)[0] == ("5001", None, "active", "32")

    exported = export(db, api, date(2026, 4, 1))  # the held debit goes out now, under the new number
    assert exported.data is not None
    (section,) = ag.parse_orders(exported.data)
    assert [(o.payer_number, o.amount) for o in section.orders if isinstance(o, ag.PaymentOrder)] == [
        ("5001", made["total"])
    ]


def test_a_refused_change_keeps_the_old_number(db: Database, api: Api) -> None:
    with_active_mandates(db, api, count=1)
    mine = mandate_of(api, "1001")
    assert api.post(f"/autogiro/mandates/{mine['id']}/payer_number", {"payer_number": "7"}).status_code == 200
    export(db, api, date(2026, 3, 5))
    # A mandate changing its number at Bankgirot is not cancelled until Bankgirot has answered.
    refused_cancel = api.delete(f"/autogiro/mandates/{mine['id']}")
    assert refused_cancel.status_code == 409 and refused_cancel.json()["error"]["code"] == "change_pending"
    applied = import_(db, api, change_advice(("7", "21")))
    assert applied.summary["change_rejected"] == 1
    assert mandate_rows(db) == [("1001", None, "active", "21")]
    with db.read() as session:
        mandate = session.scalars(select(Mandate)).one()
        assert mandate.comment_text == "Felaktigt betalarnummer."


def test_a_change_not_yet_sent_is_dropped_with_a_cancellation(db: Database, api: Api) -> None:
    with_active_mandates(db, api, count=1)
    mine = mandate_of(api, "1001")
    assert api.post(f"/autogiro/mandates/{mine['id']}/payer_number", {"payer_number": "7"}).status_code == 200
    assert api.delete(f"/autogiro/mandates/{mine['id']}").status_code == 200
    exported = export(db, api, date(2026, 3, 5))
    assert exported.data is not None
    (section,) = ag.parse_orders(exported.data)
    assert section.orders == (ag.CancelMandate("1001"),)


# --- credits (TK32) ------------------------------------------------------------------------------------


def hold_money(api: Api, customer_id: int, amount: int) -> None:
    """The customer pays without an invoice to pay: the money is their credit balance."""
    paid = api.post("/payments", {"amount": amount, "customer": customer_id, "reference": "förskott"})
    assert paid.status_code == 201, paid.text


def credit_balance(db: Database, api: Api, customer_id: int) -> int:
    with db.read() as session:
        return payments.credit_balance(session, tenant_of(session, api), customer_id)


def test_a_credit_pays_back_the_customers_credit_balance_once(db: Database, api: Api) -> None:
    (first, second) = with_active_mandates(db, api)
    hold_money(api, first, 50000)
    too_much = api.post("/autogiro/credits", {"customer": first, "amount": 50001})
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "nothing_to_refund"
    no_money = api.post("/autogiro/credits", {"customer": second, "amount": 100})
    assert no_money.status_code == 409 and no_money.json()["error"]["code"] == "nothing_to_refund"
    credit = api.post("/autogiro/credits", {"customer": first, "amount": 30000, "reason": "Dubbelbetalning"})
    assert credit.status_code == 201, credit.text
    assert (credit.json()["status"], credit.json()["reference"]) == ("pending", "ÅTERBETALNING")
    # What is on its way counts: 20 000 öre are left to pay out.
    assert api.post("/autogiro/credits", {"customer": first, "amount": 20001}).status_code == 409

    exported = export(db, api, date(2026, 4, 2))  # Thursday before Easter: paid on Tuesday 7 April
    assert exported.data is not None and (exported.credits, exported.credit_amount) == (1, 30000)
    (section,) = ag.parse_orders(exported.data)
    assert section.orders == (ag.PaymentOrder("credit", date(2026, 4, 7), "1001", 30000, "ÅTERBETALNING"),)
    tk32 = "32" + "20260407" + "0" + "   " + " " + "1001".zfill(16) + "30000".zfill(12) + "0050501055" + "ÅTERBETALNING"
    assert exported.data.decode("iso-8859-1").splitlines()[1].rstrip() == tk32
    assert export(db, api, date(2026, 4, 2)).data is None

    paid = spec([("credit", [result("credit", date(2026, 4, 7), "1001", 30000, 0)])], datetime(2026, 4, 7, 6))
    applied = import_(db, api, paid)
    assert applied.summary["credits"] == {"paid": 1, "failed": 0, "applied_before": 0, "unknown": 0}
    listed = api.get("/autogiro/credits").json()["data"]
    assert [(c["status"], c["result_code"], c["pay_on"]) for c in listed] == [("paid", "0", "2026-04-07")]
    assert credit_balance(db, api, first) == 20000
    assert import_(db, api, paid).already_imported
    # The same result in another file is applied before: the money went out once.
    other = spec([("credit", [result("credit", date(2026, 4, 7), "1001", 30000, 0)])], datetime(2026, 4, 8, 6))
    assert import_(db, api, other).summary["credits"]["applied_before"] == 1
    assert credit_balance(db, api, first) == 20000
    with db.read() as session:
        refunds = session.scalar(select(func.count()).select_from(JournalLine).where(JournalLine.amount == -30000))
        assert refunds == 1  # one bank line of the refund


def test_credits_that_fail_or_are_rejected_keep_the_money_as_credit(db: Database, api: Api) -> None:
    (first, second) = with_active_mandates(db, api)
    hold_money(api, first, 10000)
    hold_money(api, second, 10000)
    for customer in (first, second):
        assert api.post("/autogiro/credits", {"customer": customer, "amount": 7500}).status_code == 201
    export(db, api, date(2026, 4, 8))
    failed = spec([("credit", [result("credit", date(2026, 4, 9), "1001", 7500, 1)])], datetime(2026, 4, 9, 6))
    assert import_(db, api, failed).summary["credits"]["failed"] == 1
    rejected = ag.write_rejected(
        ag.RejectedOrders(
            date(2026, 4, 8),
            BGC,
            BANKGIRO,
            (ag.RejectedOrder("credit", "20260409", 0, None, "1002", 7500, "ÅTERBETALNING", "09"),),
        )
    )
    assert import_(db, api, rejected).summary["credits"]["failed"] == 1
    listed = api.get("/autogiro/credits", params={"status": "failed"}).json()["data"]
    assert sorted((c["payer_number"], c["result_code"], c["result_text"]) for c in listed) == [
        ("1001", "1", "Täckning saknas."),
        ("1002", "09", "Förbud mot utbetalningar."),
    ]
    assert credit_balance(db, api, first) == credit_balance(db, api, second) == 10000


def test_a_credit_needs_an_active_mandate_and_a_pending_one_can_be_dropped(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    hold_money(api, first, 10000)
    credit = api.post("/autogiro/credits", {"customer": first, "amount": 10000}).json()
    assert api.delete(f"/autogiro/credits/{credit['id']}").json()["status"] == "cancelled"
    assert api.delete(f"/autogiro/credits/{credit['id']}").status_code == 409
    assert export(db, api, date(2026, 4, 8)).data is None
    waiting = api.post("/autogiro/credits", {"customer": first, "amount": 5000}).json()
    mine = mandate_of(api, "1001")
    assert api.delete(f"/autogiro/mandates/{mine['id']}").status_code == 200
    # A credit not yet sent is dropped with the mandate: the money stays the customer's credit.
    dropped = api.get(f"/autogiro/credits/{waiting['id']}").json()
    assert (dropped["status"], dropped["result_text"]) == ("cancelled", "the mandate ended before the credit was sent")
    refused = api.post("/autogiro/credits", {"customer": first, "amount": 100})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_active_mandate"


# --- debits paid back (TK77) ----------------------------------------------------------------------------


def test_a_debit_paid_back_to_the_payer_opens_the_invoice_again_once(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    made = issued_invoice(api, first)
    export(db, api, date(2026, 3, 30))
    debited = spec([("debit", [result("debit", date(2026, 3, 31), "1001", made["total"], 0)])])
    assert import_(db, api, debited).summary["debited"] == 1
    assert invoice_row(db, made["id"]) == ("paid", made["total"], 0)

    refund = ag.SpecRecord(
        "refund", date(2026, 3, 31), 0, None, "1001", made["total"], BANKGIRO, "X", None, date(2026, 4, 10), "02"
    )
    paid_back = spec([("refund", [refund])], datetime(2026, 4, 10, 6))
    applied = import_(db, api, paid_back)
    assert applied.summary["refunds"] == {"refunded": 1, "applied_before": 0, "unknown": 0}
    # Due 31 March, and it is 15 April: open and overdue again, for reminders and other ways to pay.
    assert invoice_row(db, made["id"]) == ("overdue", 0, made["total"])
    assert debits(db) == [("1001", "refunded", "02")]
    assert timeline(db, made["id"]).count("payment_reversed") == 1
    with db.read() as session:
        debit = session.scalars(select(Debit)).one()
        payment = api.get(f"/payments/{debit.payment_id}").json()
    assert [(a["kind"], a["invoice"], a["amount"]) for a in payment["allocations"]] == [
        ("invoice", made["id"], made["total"]),
        ("refund", made["id"], made["total"]),
    ]
    customer = api.get(f"/customers/{first}").json()
    assert customer["balance"] == made["total"]  # owed again on the receivables
    assert import_(db, api, paid_back).already_imported
    other = spec([("refund", [refund])], datetime(2026, 4, 11, 6))
    assert import_(db, api, other).summary["refunds"]["applied_before"] == 1
    assert invoice_row(db, made["id"]) == ("overdue", 0, made["total"])
    # No new debit is planned for it: the payer took the money back, the invoice is paid another way.
    assert export(db, api, date(2026, 4, 16)).data is None


# --- status 9: Bankgirot tries again -------------------------------------------------------------------------


def test_a_renewed_attempt_waits_for_a_later_file_and_is_never_ordered_twice(db: Database, api: Api) -> None:
    (first, second) = with_active_mandates(db, api)
    one = issued_invoice(api, first)
    two = issued_invoice(api, second)
    export(db, api, date(2026, 3, 30))
    renewed = spec(
        [
            (
                "debit",
                [
                    result("debit", date(2026, 3, 31), "1001", one["total"], 9),
                    result("debit", date(2026, 3, 31), "1002", two["total"], 9),
                ],
            )
        ],
        datetime(2026, 3, 31, 6),
    )
    assert import_(db, api, renewed).summary["renewed"] == 2
    assert debits(db) == [("1001", "sent", "9"), ("1002", "sent", "9")]
    assert invoice_row(db, one["id"]) == ("unpaid", 0, one["total"])  # still open: nothing was taken yet
    assert timeline(db, one["id"]).count("autogiro_retrying") == 1
    assert export(db, api, date(2026, 4, 1)).data is None  # not ordered again
    # The same status in the next day's file: still waiting, told once.
    again = spec([("debit", [result("debit", date(2026, 4, 1), "1001", one["total"], 9)])], datetime(2026, 4, 1, 6))
    assert import_(db, api, again).summary["renewed"] == 1
    assert timeline(db, one["id"]).count("autogiro_retrying") == 1

    # The final answers, dated the day of the later attempt: one taken, one without funds.
    final = spec(
        [
            (
                "debit",
                [
                    result("debit", date(2026, 4, 2), "1001", one["total"], 0),
                    result("debit", date(2026, 4, 2), "1002", two["total"], 1),
                ],
            )
        ],
        datetime(2026, 4, 2, 6),
    )
    applied = import_(db, api, final)
    assert (applied.summary["debited"], applied.summary["failed"], applied.summary["unknown"]) == (1, 1, 0)
    assert debits(db) == [("1001", "debited", "0"), ("1002", "failed", "1")]
    assert invoice_row(db, one["id"])[0] == "paid"
    assert invoice_row(db, two["id"]) == ("unpaid", 0, two["total"])
    assert "autogiro_failed" in timeline(db, two["id"])


def test_the_examples_refund_section_reads_against_kvitts_debits(db: Database, api: Api) -> None:
    """Bankgirot's example specification (tests/data/bankgirot) for a tenant with its bankgiro:
    every record names a payer Kvitt does not know, so nothing is applied, and nothing fails."""
    with db.transaction() as session:
        tenant = tenant_of(session, api)
        tenant.bankgiro = "991-2346"
        session.flush()
    applied = import_(db, api, SPEC.read_bytes())
    summary: dict[str, Any] = applied.summary
    assert (summary["unknown"], summary["credits"]["unknown"], summary["refunds"]["unknown"]) == (8, 4, 2)
    assert summary["renewed"] == summary["debited"] == summary["failed"] == 0
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Credit)) == 0
        assert session.scalar(select(func.count()).select_from(Debit)) == 0


def test_bankgirots_example_advice_makes_a_change_of_payer_number(db: Database, api: Api) -> None:
    """Bankgirot's example advice (tests/data/bankgirot) holds a change of payer number: 104 new
    (05/32) and 105 gone (05/33), for one payer. A mandate of payer 105 changing to 104 takes it."""
    with db.transaction() as session:
        tenant = tenant_of(session, api)
        tenant.bankgiro = "991-2346"
        service.update_settings(session, tenant, bgc_customer_number="471117")
        data = CustomerCreate(customer_no="105", name="Kund", email="k105@example.se", id_number="19121212-1212")
        customer = customers.create(session, tenant, data)
        mandate = service.create_mandate(session, tenant, customer.id, clearing="8901", account="3232323232")
        files.export_orders(session, tenant, day=date(2008, 6, 2), name="m.txt")
        day = date(2008, 6, 4)
        accepted = ag.MandateAdviceRecord("9912346", "105", None, None, "04", "32", day)
        advice = ag.write_mandate_advice(ag.MandateAdvice(day, "471117", "9912346", (accepted,)))
        files.import_file(session, tenant, advice, name="a.txt", today=day, actor="test")
        service.change_payer_number(session, tenant, mandate.id, "104")
        exported = files.export_orders(session, tenant, day=date(2008, 6, 10), name="c.txt")
        assert exported.changes == 1
    applied = import_(db, api, ADVICE.read_bytes())
    assert (applied.summary["changed"], applied.summary["cancelled"]) == (1, 0)
    assert mandate_rows(db) == [("104", None, "active", "32")]


def test_a_credits_reference_must_fit_the_file(db: Database, api: Api) -> None:
    (first, _) = with_active_mandates(db, api)
    hold_money(api, first, 10000)
    for reference in ("Återbet\tmars", "Återbetalning €", "   "):
        refused = api.post("/autogiro/credits", {"customer": first, "amount": 100, "reference": reference})
        assert refused.status_code == 422 and refused.json()["error"]["param"] == "reference", reference
    made = api.post("/autogiro/credits", {"customer": first, "amount": 100, "reference": " Återbet. mars "})
    assert made.status_code == 201 and made.json()["reference"] == "Återbet. mars"
    exported = export(db, api, date(2026, 4, 8))
    assert exported.data is not None and exported.credits == 1
