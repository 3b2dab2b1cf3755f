"""The page's parts: weight over the wire, scripts, tabs, language, Swish, pay action, PDF, offers."""

from __future__ import annotations

import gzip
import json
import re
from html import unescape
from pathlib import Path

import segno
from fastapi.testclient import TestClient

from kvitt.formats.swish_qr import app_link, c_format
from tests.conftest import Api
from tests.web.helpers import issued, make_customer, open_page, text_of, token_of, wire_size

STATIC = Path(__file__).parents[2] / "src" / "kvitt" / "web" / "static"
TEN_LINES = [
    {"description": f"Tjänst {n}", "quantity": "1", "unit_price": 1000 * n, "vat_rate": 25} for n in range(1, 11)
]


def test_page_and_its_assets_weigh_under_60_kb_over_the_wire(api: Api, client: TestClient) -> None:
    """Issue 5: under 60 KB over the wire without the logo: the page and every file it loads."""
    assert api.patch("/tenant", {"swish_number": "1231181189"}).status_code == 200
    invoice = issued(api, lines=TEN_LINES, info=[{"title": "Förbrukning", "text": "412 kWh i mars"}])
    headers = {"Accept-Encoding": "gzip"}
    page = client.get(f"/i/{token_of(invoice)}", headers=headers)
    assert page.headers["content-encoding"] == "gzip"
    sources = re.findall(r'<(?:script src|link rel="icon" href)="([^"]+)"', page.text)
    assert len(sources) == 3 and any("htmx" in src for src in sources)
    total = wire_size(page)
    for src in sources:
        asset = client.get(src, headers=headers)
        assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        total += wire_size(asset)
    assert total < 60_000, total
    # Without compression the page is bigger but still works (the same HTML).
    plain = client.get(f"/i/{token_of(invoice)}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == page.text


def test_htmx_is_served_as_vendored(client: TestClient) -> None:
    vendored = (STATIC / "htmx-2.0.11.min.js").read_bytes()
    response = client.get("/i/assets/htmx-2.0.11.min.js", headers={"Accept-Encoding": "gzip"})
    assert response.content == vendored and gzip.decompress(gzip.compress(vendored)) == vendored
    assert client.get("/i/assets/other.js").status_code == 404


def test_tabs_work_as_links_and_mark_the_current_one(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    token = token_of(invoice)
    for query, current, shown in (
        ("", "Faktura", "Specifikation"),
        ("?tab=meddelanden", "Meddelanden", "Ditt meddelande"),
        ("?tab=installningar", "Inställningar", "Så vill jag få mina fakturor"),
        ("?tab=nonsense", "Faktura", "Specifikation"),
    ):
        html = open_page(client, invoice, query)
        assert re.search(rf'aria-current="page">{current}', html), query
        assert shown in html
    html = open_page(client, invoice)
    assert f'href="/i/{token}?tab=meddelanden"' in html and f'href="/i/{token}?tab=installningar"' in html
    assert 'hx-boost="true"' in html and 'hx-select="#tabs"' in html
    # An htmx request gets the same page (htmx picks the #tabs part out of it).
    assert client.get(f"/i/{token}?tab=meddelanden", headers={"HX-Request": "true"}).status_code == 200


def test_language_switch_link(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    token = token_of(invoice)
    html = open_page(client, invoice)
    assert f'<a id="lang" href="/i/{token}?lang=en" lang="en" hreflang="en">In English</a>' in html
    english = open_page(client, invoice, "?lang=en&tab=meddelanden")
    assert '<html lang="en"' in english and "Your message" in english
    # Tabs keep the chosen language.
    assert f'href="/i/{token}?tab=installningar&amp;lang=en"' in english
    assert '<html lang="sv"' in open_page(client, invoice, "?lang=xx")


def test_swish_qr_and_app_link_carry_amount_and_ocr(api: Api, client: TestClient) -> None:
    assert api.patch("/tenant", {"swish_number": "123 118 11 89"}).status_code == 200
    invoice = issued(api)
    html = open_page(client, invoice)
    content = c_format("1231181189", invoice["remaining"], invoice["ocr"])
    assert content == f"C1231181189;612,00;{invoice['ocr']};0"
    expected_svg = segno.make(content, error="m").svg_inline(
        scale=4, border=2, svgclass="qr", lineclass=None, omitsize=True
    )
    path = re.search(r'<path[^>]*d="([^"]+)"', expected_svg)
    assert path and path.group(1) in html  # the very QR code of that content (decoded in tests/e2e)
    assert 'role="img" aria-label="QR-kod för betalning med Swish"' in html
    link = app_link("1231181189", invoice["remaining"], invoice["ocr"])
    assert f'href="{link}"' in html and "Öppna Swish" in html


def test_no_swish_without_a_swish_number(api: Api, client: TestClient) -> None:
    html = open_page(client, issued(api))
    assert "swish://" not in html and "<svg" not in html
    assert "Så betalar du" in html


def test_pay_action_copy_targets_and_nothing_misleading(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    html = open_page(client, invoice)
    assert re.search(r'<a id="pay-link" class="button pay" href="#betala">Betala 612,00\xa0kr</a>', html)
    assert 'id="betala"' in html
    assert f'data-copy="{invoice["ocr"]}"' in html and 'data-copy="5050-1055"' in html
    # The copy buttons are made by the script: without it, no dead button.
    assert "<button" not in html.split('id="betala"', 1)[1].split("</section>", 1)[0]
    # From another tab, "Betala" goes to the pay section on the Faktura tab.
    other = open_page(client, invoice, "?tab=meddelanden")
    assert f'href="/i/{token_of(invoice)}#betala"' in other
    text = text_of(html).lower()
    assert "kort" not in text and "autogiro" not in text


def test_paid_invoice_has_no_pay_action(api: Api, client: TestClient) -> None:
    assert api.patch("/tenant", {"swish_number": "1231181189"}).status_code == 200
    invoice = issued(api)
    api.post(f"/invoices/{invoice['id']}/payments", {"amount": invoice["remaining"]})
    html = open_page(client, invoice)
    assert "Fakturan är betald" in html
    assert "Betala" not in html and "swish://" not in html and "<svg" not in html and "data-copy=" not in html
    assert "Så betalar du" not in html


def test_offers_and_information_area_renders_only_what_exists(api: Api, client: TestClient) -> None:
    customer = make_customer(api)
    plain = open_page(client, issued(api, customer))
    assert "Erbjudanden och information" not in plain and 'id="info-h"' not in plain
    blocks = [
        {"title": "Förbrukning", "text": "412 kWh i mars"},
        {"title": "Avtalet löper ut", "text": "2026-12-31"},
    ]
    html = open_page(client, issued(api, customer, info=blocks))
    area = html.split('id="info-h"', 1)[1].split("</section>", 1)[0]
    assert "Erbjudanden och information" in area
    assert all(b["title"] in area and b["text"] in area for b in blocks)


def test_pdf_download(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    token = token_of(invoice)
    html = open_page(client, invoice)
    assert f'<a class="pdf" href="/i/{token}/pdf" hx-boost="false" download>Spara fakturan som PDF</a>' in html
    response = client.get(f"/i/{token}/pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="faktura-{invoice["number"]}.pdf"'
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"%PDF-")
    note = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "full"}).json()
    credit = client.get(f"/i/{token_of(note)}/pdf")
    assert credit.status_code == 200 and credit.content.startswith(b"%PDF-")
    assert credit.headers["content-disposition"] == f'attachment; filename="kreditfaktura-{note["number"]}.pdf"'
    missing = client.get("/i/unknown-token-unknown-token-123/pdf")
    assert missing.status_code == 404 and "Sidan finns inte" in missing.text


def test_form_addresses_opened_as_pages_lead_to_their_tabs(api: Api, client: TestClient) -> None:
    token = token_of(issued(api))
    for path, tab in (("messages", "meddelanden"), ("settings", "installningar")):
        response = client.get(f"/i/{token}/{path}", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/i/{token}?tab={tab}"
    assert client.get("/i/not a token/settings").status_code == 404


def test_htmx_is_held_to_the_csp_and_keeps_no_copies(api: Api, client: TestClient) -> None:
    html = open_page(client, issued(api))
    meta = re.search(r'<meta name="htmx-config" content="([^"]+)"', html)
    assert meta
    config = json.loads(unescape(meta.group(1)))
    assert config["includeIndicatorStyles"] is False  # an inline <style> the CSP would refuse
    assert config["allowEval"] is False and config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True
    assert config["historyCacheSize"] == 0  # no copy of the page (personal data) in localStorage
