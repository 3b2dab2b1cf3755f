"""Letters: print batches (one PDF per letter + manifest.csv) in the print partner's folder."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import OutboxJob
from kvitt.delivery import sending
from kvitt.worker import Worker
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, event_types, issue


def batches(tmp_path: Path) -> list[Path]:
    root = tmp_path / "print" / "5560360793"
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def test_waiting_letters_go_out_in_one_batch_with_a_manifest(
    api: Api, db: Database, delivery_env: dict[str, Any], tmp_path: Path
) -> None:
    people = [
        customer(api, "4001", name="Astrid Lindqvist", delivery_method="letter"),
        customer(api, "4002", name="Nils Holgersson", delivery_method="letter", address_line2="c/o Mårten"),
        customer(api, "4003", name="Karin Berg", delivery_method="letter", postal_code="41301", city="Göteborg"),
    ]
    invoices = [issue(api, p["id"]) for p in people]
    drain(db)

    (batch,) = batches(tmp_path)
    with (batch / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["file"] for r in rows] == ["0001.pdf", "0002.pdf", "0003.pdf"]
    assert [r["name"] for r in rows] == ["Astrid Lindqvist", "Nils Holgersson", "Karin Berg"]
    assert [int(r["invoice_number"]) for r in rows] == [i["number"] for i in invoices]
    assert rows[1]["address_line2"] == "c/o Mårten" and rows[2]["city"] == "Göteborg"
    for row in rows:
        pdf = (batch / row["file"]).read_bytes()
        assert hashlib.sha256(pdf).hexdigest() == row["sha256"]
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(batch / "0002.pdf"), "-"], capture_output=True, check=True, text=True
        ).stdout
        assert "Nils Holgersson" in text and "c/o Mårten" in text
    for invoice in invoices:
        (delivery,) = deliveries(api, invoice["id"])
        assert delivery["state"] == "sent" and delivery["batch"] == batch.name
        assert event_types(api, invoice["id"])[-1] == "letter_sent"


def test_a_customer_without_a_postal_address_is_not_sent_a_letter(
    api: Api, db: Database, delivery_env: dict[str, Any], tmp_path: Path
) -> None:
    nobody = customer(api, "4004", delivery_method="letter", address_line1=None, postal_code=None, city=None)
    invoice = issue(api, nobody["id"])
    drain(db)
    (delivery,) = deliveries(api, invoice["id"])
    assert delivery["state"] == "failed" and "no channel reaches" in delivery["error"]
    assert event_types(api, invoice["id"])[-1] == "delivery_failed"
    assert batches(tmp_path) == []


class Crash(BaseException):
    pass


def test_a_batch_written_by_a_worker_that_died_is_not_printed_twice(
    api: Api, db: Database, delivery_env: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [customer(api, f"41{i}", delivery_method="letter") for i in range(3)]
    invoices = [issue(api, p["id"]) for p in people]
    real_record = sending._record_batch

    def die(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(sending, "_record_batch", die)
    with pytest.raises(Crash):
        drain(db)
    monkeypatch.setattr(sending, "_record_batch", real_record)
    (written,) = batches(tmp_path)
    assert all(d["state"] == "pending" for i in invoices for d in deliveries(api, i["id"]))
    with db.transaction() as session:  # the dead worker's lease runs out
        session.execute(update(OutboxJob).where(OutboxJob.state == "running").values(locked_until=utcnow()))
    Worker(db, worker_id="other").run_until_idle()
    drain(db)

    assert batches(tmp_path) == [written]
    assert len(list(written.glob("*.pdf"))) == 3
    assert all(d["state"] == "sent" and d["batch"] == written.name for i in invoices for d in deliveries(api, i["id"]))
