"""Writes examples/demo-payments.bgmax: Bankgirot's BGMax report of six payments to the demo
tenant's bankgiro (5050-1055), one for each of the demo's invoices 1 to 6 with its OCR number
and exact amount.

Those six invoices stay unpaid in every demo of 1,000 customers with the default seed, whatever
the date (``kvitt.demo.EXAMPLE_INVOICES``), so after `make run` (or `kvitt demo`)::

    .venv/bin/kvitt import bgmax examples/demo-payments.bgmax

pays them: 6 matched, 0 deviations. Run again (``.venv/bin/python examples/make_demo_payments.py``)
after a change to the demo's data; it seeds a demo into an in-memory database to read the
amounts. The file is written with ``kvitt.formats.bgmax.write``.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import select

from kvitt.core import clock
from kvitt.core.db import Database
from kvitt.demo import DEMO_TENANT, EXAMPLE_INVOICES, seed_demo
from kvitt.formats import bgmax
from kvitt.invoices.models import Invoice
from kvitt.migrations import upgrade

TARGET = Path(__file__).with_name("demo-payments.bgmax")
PAYERS = ("Lindqvist", "Nyström", "Öberg", "Hassan", "Åberg", "Labba")


def demo_invoices(today: date) -> list[tuple[int, str, int]]:
    """(number, OCR, total) of the demo's invoices 1..EXAMPLE_INVOICES, seeded as `make run` does."""
    with tempfile.TemporaryDirectory(prefix="kvitt-example-") as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        upgrade(url)
        db = Database(url)
        try:
            with db.transaction() as session:
                seed_demo(session, customers=1000, seed=2026, today=today)
                rows = session.execute(
                    select(Invoice.number, Invoice.ocr, Invoice.total)
                    .where(Invoice.number.between(1, EXAMPLE_INVOICES))
                    .order_by(Invoice.number)
                ).all()
        finally:
            db.dispose()
    return [(int(number), str(ocr), int(total)) for number, ocr, total in rows]


def payments_file(invoices: list[tuple[int, str, int]], on: date) -> bytes:
    payments = tuple(
        bgmax.BgmaxPayment(
            kind="payment",
            payer_bankgiro="0000000000",
            reference=ocr,
            amount=total,
            reference_code=2,
            channel=1,
            bgc_serial=f"{700000000000 + number:012d}",
            has_image=False,
            payer_name=PAYERS[(number - 1) % len(PAYERS)],
        )
        for number, ocr, total in invoices
    )
    deposit = bgmax.BgmaxDeposit(
        payee_bankgiro=DEMO_TENANT["bankgiro"].replace("-", "").zfill(10),
        payee_plusgiro=None,
        currency="SEK",
        payments=payments,
        account="12345678901",
        date=on,
        deposit_serial="00042",
        amount=sum(p.amount for p in payments),
        count=len(payments),
    )
    return bgmax.write(bgmax.file_of(datetime.combine(on, time(6, 30)), [deposit], test=True))


def main() -> None:
    on = date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else clock.today()
    invoices = demo_invoices(on)
    assert len(invoices) == EXAMPLE_INVOICES, invoices
    TARGET.write_bytes(payments_file(invoices, on))
    print(f"{TARGET}: {len(invoices)} payments, {sum(t for _, _, t in invoices) / 100:.2f} kr")


if __name__ == "__main__":
    main()
