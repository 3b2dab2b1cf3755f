"""The whole autogiro cycle from the command line, on SQLite and PostgreSQL (KVITT_TEST_DB).

Mandates registered through the API (the issuer holds them) → the mandate file → Bankgirot's
advice accepts both → two invoices → the payment file → a specification with one debit made and
one refused for insufficient funds → one invoice paid, the other open with ``autogiro_failed``
on its timeline, and the default event chain sends it by email offering Swish or card.
Bankgirot's side is played by the codec's writers (the files it would send).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kvitt.cli import app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.formats import autogiro as ag
from tests.conftest import Api
from tests.loopback import Mailbox
from tests.webhooks.helpers import created, run_worker

runner = CliRunner()
BGC = "471117"
BANKGIRO = "50501055"  # tenant A's 5050-1055


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # rich wraps long lines


def customer(api: Api, number: str, id_number: str) -> dict[str, Any]:
    body = {"customer_no": number, "name": f"Kund {number}", "email": f"c{number}@example.se"}
    return created(api.post("/customers", {**body, "type": "individual", "id_number": id_number}))


def invoice(api: Api, customer_id: int, price: int) -> dict[str, Any]:
    line = {"description": "Abonnemang mars", "quantity": "1", "unit_price": price, "vat_rate": 25}
    dates = {"invoice_date": "2026-03-01", "due_date": "2026-03-31"}
    draft = created(api.post("/invoices", {"customer": customer_id, "lines": [line], **dates}))
    issued = api.post(f"/invoices/{draft['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def payment_spec(results: list[tuple[str, int, str, int]]) -> bytes:
    """Bankgirot's specification of 31 March 2026: (payer number, amount, reference, status)."""
    day = date(2026, 3, 31)
    records = tuple(
        ag.SpecRecord("debit", day, 0, None, payer, amount, BANKGIRO, reference.zfill(16), status)
        for payer, amount, reference, status in results
    )
    section = ag.SpecSection("debit", "8901003232323232", day, "00001", 0, 0, records)
    return ag.write_payment_spec(ag.PaymentSpec(datetime(2026, 3, 31, 6, 0, 0, 1), BGC, BANKGIRO, day, (section,)))


def test_the_whole_cycle(
    api: Api, db: Database, settings: Settings, cli_env: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    tenant = str(api.tenant_id)
    assert api.patch("/autogiro/settings", {"bgc_customer_number": BGC}).status_code == 200
    anna = customer(api, "1001", "19121212-1212")
    bo = customer(api, "1002", "19811218-9876")
    for who in (anna, bo):
        created(api.post("/autogiro/mandates", {"customer": who["id"], "clearing": "8327-9", "account": "9163314174"}))

    # 1. The mandate file: both new mandates, once.
    mandates_file = tmp_path / "mandates.txt"
    assert "2 new mandates" in cli("autogiro", "export", str(mandates_file), "--date", "2026-03-02", "--tenant", tenant)
    (section,) = ag.parse_orders(mandates_file.read_bytes())
    assert section.opening == ag.Opening(date(2026, 3, 2), BGC, BANKGIRO)
    assert [(o.payer_number, o.account, o.id_number) for o in section.orders if isinstance(o, ag.NewMandate)] == [
        ("1001", "8327009163314174", "191212121212"),
        ("1002", "8327009163314174", "198112189876"),
    ]
    again = tmp_path / "again.txt"
    assert "nothing due" in cli("autogiro", "export", str(again), "--date", "2026-03-02", "--tenant", tenant)
    assert not again.exists()
    assert {m["status"] for m in api.get("/autogiro/mandates").json()["data"]} == {"sent"}

    # 2. Bankgirot's advice: both accepted (information 04, comment 32).
    advice = ag.MandateAdvice(
        date(2026, 3, 4),
        BGC,
        BANKGIRO,
        tuple(
            ag.MandateAdviceRecord(BANKGIRO, payer, "8327009163314174", pn, "04", "32", date(2026, 3, 4))
            for payer, pn in (("1001", "191212121212"), ("1002", "198112189876"))
        ),
    )
    advice_file = tmp_path / "advice.txt"
    advice_file.write_bytes(ag.write_mandate_advice(advice))
    assert "activated 2" in cli("autogiro", "import", str(advice_file), "--tenant", tenant)
    mandates = api.get("/autogiro/mandates").json()["data"]
    assert {(m["status"], m["comment_text"]) for m in mandates} == {("active", "Nytt Medgivande.")}

    # 3. Two invoices due on 31 March (a Tuesday): ordered one banking day before, on the 30th.
    first = invoice(api, anna["id"], 20000)
    second = invoice(api, bo["id"], 40000)
    early = tmp_path / "early.txt"
    assert "nothing due" in cli("autogiro", "export", str(early), "--date", "2026-03-27", "--tenant", tenant)
    payments_file = tmp_path / "payments.txt"
    out = cli("autogiro", "export", str(payments_file), "--date", "2026-03-30", "--tenant", tenant)
    assert "2 debits" in out
    (section,) = ag.parse_orders(payments_file.read_bytes())
    orders = [(o.kind, o.date, o.payer_number, o.amount, o.reference) for o in section.orders]
    assert orders == [
        ("debit", date(2026, 3, 31), "1001", first["total"], first["ocr"]),
        ("debit", date(2026, 3, 31), "1002", second["total"], second["ocr"]),
    ]
    assert "nothing due" in cli("autogiro", "export", str(again), "--date", "2026-03-30", "--tenant", tenant)

    # 4. The specification: Anna's debit made, Bo's refused for insufficient funds (status 1).
    spec_file = tmp_path / "spec.txt"
    spec_file.write_bytes(
        payment_spec([("1001", first["total"], first["ocr"], 0), ("1002", second["total"], second["ocr"], 1)])
    )
    assert "debited 1, failed 1" in cli("autogiro", "import", str(spec_file), "--tenant", tenant)
    paid = api.get(f"/invoices/{first['id']}").json()
    still_open = api.get(f"/invoices/{second['id']}").json()
    assert (paid["state"], paid["remaining"]) == ("paid", 0)
    assert (still_open["state"], still_open["remaining"]) == ("unpaid", second["total"])
    events = api.get(f"/invoices/{second['id']}/events").json()["data"]
    (failed,) = [e for e in events if e["type"] == "autogiro_failed"]
    assert failed["data"]["code"] == "insufficient_funds" and failed["data"]["reason"] == "Täckning saknas."
    debits = {d["invoice"]: d for d in api.get("/autogiro/debits").json()["data"]}
    assert (debits[first["id"]]["status"], debits[first["id"]]["debit_on"]) == ("debited", "2026-03-31")
    assert (debits[second["id"]]["status"], debits[second["id"]]["result_text"]) == ("failed", "Täckning saknas.")
    payments = api.get("/payments").json()["data"]
    assert [(p["amount"], p["source"]) for p in payments] == [(first["total"], "autogiro")]

    # 5. The event chain: Bo's invoice goes out by email again, offering Swish or card.
    before = _deliveries(api, second["id"])
    run_worker(db, settings)
    resent = [d for d in _deliveries(api, second["id"]) if d["id"] not in {b["id"] for b in before}]
    assert [(d["channel"], d["reason"]) for d in resent if d["reason"] == "resend"] == [("email", "resend")]
    messages = [
        e for e in api.get(f"/invoices/{second['id']}/events").json()["data"] if e["type"].startswith("message")
    ]
    assert len(messages) == 1 and "Swish eller kort" in str(messages[0]["data"])
    assert [d for d in _deliveries(api, first["id"]) if d["reason"] == "resend"] == []

    # 6. The same file again, or its results in another file: nothing changes.
    assert "imported before" in cli("autogiro", "import", str(spec_file), "--tenant", tenant)
    lf = tmp_path / "spec-lf.txt"
    lf.write_bytes(spec_file.read_bytes().replace(b"\r\n", b"\n"))
    assert "applied_before 2" in cli("autogiro", "import", str(lf), "--tenant", tenant)
    assert len(api.get("/payments").json()["data"]) == 1
    assert (
        len([e for e in api.get(f"/invoices/{second['id']}/events").json()["data"] if e["type"] == "autogiro_failed"])
        == 1
    )


def _deliveries(api: Api, invoice_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/invoices/{invoice_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])
