"""Mina sidor lists the customer's own payments (date, amount, method, the invoices each paid)
and autogiro mandates (state, the account masked): never another customer's of the same
tenant, never another tenant's."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from kvitt.core.db import Database
from tests.conftest import Api
from tests.engagement.test_my_pages import ask_for_link, mailed_links
from tests.segments.isolation_cases import _created
from tests.web.helpers import issued, text_of, token_of


def customer(api: Api, no: str) -> dict[str, Any]:
    body = {"customer_no": no, "name": f"Kund {no}", "email": f"{no.lower()}@example.se"}
    return _created(api.post("/customers", body))


def invoice(api: Api, owner: dict[str, Any], ore: int) -> dict[str, Any]:
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": ore, "vat_rate": 25}
    return issued(api, owner, lines=[line])


def mandate(api: Api, owner: dict[str, Any], account: str) -> None:
    body = {"customer": owner["id"], "clearing": "5000", "account": account, "personal_number": "811218-9876"}
    answer = api.post("/autogiro/mandates", body)
    assert answer.status_code in (200, 201), answer.text


def pay(api: Api, **body: Any) -> dict[str, Any]:
    return _created(api.post("/payments", body))


def my_pages(client: TestClient, db: Database, invoice: dict[str, Any]) -> str:
    assert ask_for_link(client, invoice).status_code == 303
    token = mailed_links(db)[-1][1]
    page = client.get(f"/m/{token}")
    assert page.status_code == 200
    return page.text


def payments_table(html: str) -> list[list[str]]:
    section = html.split('id="betalningar"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</tr>", section, re.S)
    return [[" ".join(text_of(cell).split()) for cell in re.split(r"</td><td[^>]*>", row)] for row in rows]


def test_the_customers_payments_and_mandates_and_nobody_elses(
    client: TestClient, api: Api, api_b: Api, db: Database
) -> None:
    astrid, bertil = customer(api, "A1"), customer(api, "B1")
    first, second = invoice(api, astrid, 10000), invoice(api, astrid, 20000)  # 125 and 250 kr with VAT
    pay(api, amount=first["total"], reference=first["ocr"], date="2026-11-02")
    pay(api, amount=5000, customer=astrid["id"], date="2026-11-03")  # no reference: her open invoice
    mandate(api, astrid, "1234567")
    # the same tenant's other customer, and another tenant's: amounts and accounts of their own
    theirs = invoice(api, bertil, 70000)
    pay(api, amount=theirs["total"], reference=theirs["ocr"], date="2026-11-04")
    mandate(api, bertil, "7654321")
    other = customer(api_b, "A1")
    elsewhere = invoice(api_b, other, 90000)
    pay(api_b, amount=elsewhere["total"], reference=elsewhere["ocr"], date="2026-11-05")
    mandate(api_b, other, "9999888")

    html = my_pages(client, db, second)
    assert payments_table(html) == [
        [
            "2026-11-03",
            "50,00 kr",
            "Registrerad av " + api.get("/tenant").json()["name"],
            f"Faktura {second['number']}",
        ],
        [
            "2026-11-02",
            "125,00 kr",
            "Registrerad av " + api.get("/tenant").json()["name"],
            f"Faktura {first['number']}",
        ],
    ]
    assert f'href="/i/{token_of(first)}"' in html and f'href="/i/{token_of(second)}"' in html
    text = " ".join(text_of(html).split())
    assert "5000-***4567" in text and "Väntar på banken" in text and "1234567" not in html
    for foreign in ("875,00", "1 125,00", "4321", "9888", token_of(theirs), token_of(elsewhere)):
        assert foreign not in text.replace("\u00a0", " ") and foreign not in html, foreign

    # Bertil sees his own, not Astrid's
    html = my_pages(client, db, theirs)
    assert [row[1] for row in payments_table(html)] == ["875,00 kr"]
    assert "5000-***4321" in html and "4567" not in html and token_of(first) not in html


def test_no_payments_and_no_mandate_say_so(client: TestClient, api: Api, db: Database) -> None:
    html = my_pages(client, db, invoice(api, customer(api, "N1"), 10000))
    text = " ".join(text_of(html).split())
    assert "Inga betalningar ännu." in text and "Du har inget autogiromedgivande." in text
