"""Letters: print batches for a print-and-post partner, written into a folder.

A batch is a folder ``<print_dir>/<org number>/<batch>/`` holding one PDF per letter
(``0001.pdf`` ...; the recipient's address in the C5 window position) and ``manifest.csv``
(UTF-8, comma separated, one row per letter: the file, its SHA-256, the recipient's address
as printed, and our references). The folder is written under a temporary name and renamed
when complete, so the partner never picks up half a batch, and a batch folder that already
exists is never written again (a rerun after a crash recognises it by its name).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kvitt.delivery.channels import TemporaryFailure

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = [
    "letter",
    "file",
    "sha256",
    "delivery_id",
    "invoice_id",
    "invoice_number",
    "document",
    "customer_no",
    "name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
]


@dataclass
class Letter:
    delivery_id: int
    invoice_id: int
    invoice_number: int | None
    document: str
    customer_no: str
    name: str
    address_line1: str
    address_line2: str | None
    postal_code: str
    city: str
    country: str
    pdf: bytes


def batch_dir(print_dir: str | Path, org_number: str, batch: str) -> Path:
    return Path(print_dir) / org_number.replace("-", "") / batch


def read_manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / MANIFEST).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_batch(folder: Path, letters: list[Letter]) -> list[dict[str, str]]:
    """Write the batch folder atomically; returns the manifest rows."""
    temporary = folder.with_name(f".{folder.name}.tmp")
    try:
        if temporary.exists():  # left by a run that stopped half-way: nothing in it was handed over
            shutil.rmtree(temporary)
        temporary.mkdir(parents=True)
        rows = []
        for number, letter in enumerate(letters, start=1):
            filename = f"{number:04d}.pdf"
            (temporary / filename).write_bytes(letter.pdf)
            rows.append(_manifest_row(number, filename, letter))
        (temporary / MANIFEST).write_text(_csv(rows), encoding="utf-8")
        os.replace(temporary, folder)
    except OSError as exc:
        raise TemporaryFailure(f"cannot write the print batch {folder}: {exc}") from exc
    return rows


def _manifest_row(number: int, filename: str, letter: Letter) -> dict[str, str]:
    return {
        "letter": str(number),
        "file": filename,
        "sha256": hashlib.sha256(letter.pdf).hexdigest(),
        "delivery_id": str(letter.delivery_id),
        "invoice_id": str(letter.invoice_id),
        "invoice_number": "" if letter.invoice_number is None else str(letter.invoice_number),
        "document": letter.document,
        "customer_no": letter.customer_no,
        "name": letter.name,
        "address_line1": letter.address_line1,
        "address_line2": letter.address_line2 or "",
        "postal_code": letter.postal_code,
        "city": letter.city,
        "country": letter.country,
    }


def _csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
