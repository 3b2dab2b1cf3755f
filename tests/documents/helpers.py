"""Issued invoices to make documents of, and tools to read the PDFs back (poppler, zbar)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import Api
from tests.invoices.test_api_flow import make_customer, make_draft

BASE_URL = "https://kvitt.test"  # the conftest's KVITT_PUBLIC_URL


def company_customer(api: Api, customer_no: str = "2001", **fields: Any) -> dict[str, Any]:
    body = {
        "customer_no": customer_no,
        "name": "Fjällström Energi AB",
        "type": "company",
        "id_number": "556016-0680",
        "email": "faktura@fjallstrom.example",
        "address_line1": "Kraftverksvägen 7",
        "postal_code": "903 26",
        "city": "Umeå",
        "delivery_method": "einvoice",
    }
    return make_customer(api, **{**body, **fields})


def person_customer(api: Api, customer_no: str = "1001", **fields: Any) -> dict[str, Any]:
    body = {
        "customer_no": customer_no,
        "name": "Åsa Öberg-Lindqvist",
        "address_line1": "Storgatan 12 B",
        "address_line2": "lgh 1102",
        "postal_code": "981 31",
        "city": "Kiruna",
    }
    return make_customer(api, **{**body, **fields})


def issue(api: Api, customer_id: int, **fields: Any) -> dict[str, Any]:
    draft = make_draft(api, customer_id, **fields)
    response = api.post(f"/invoices/{draft['id']}/issue")
    assert response.status_code == 200, response.text
    return dict(response.json())


def set_tenant_address(api: Api) -> None:
    response = api.patch(
        "/tenant",
        {"address_line1": "Hamngatan 3", "postal_code": "972 38", "city": "Luleå", "email": "kund@norrsken.example"},
    )
    assert response.status_code == 200, response.text


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def qr_codes(pdf: bytes, tmp_path: Path, *, dpi: int = 200) -> list[str]:
    """Every QR code on the PDF's pages as decoded by zbar, from a raster rendered by poppler."""
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(path), str(tmp_path / "page")], check=True)
    found = []
    for image in sorted(tmp_path.glob("page*.png")):
        result = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sqrcode.enable", str(image)], capture_output=True)
        assert result.returncode in (0, 4), result.stderr  # 4: no code on that page
        found += [code for code in result.stdout.decode("utf-8").split("\n") if code]
    return found
