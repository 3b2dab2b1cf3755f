"""Every page the recipient sees carries the tenant's brand as the web invoice does (one helper,
``web.branding.page_brand``, and one macro, ``_brand.html``): the logo from
``/brand/{tenant}/logo-{digest}`` and the colour from ``/brand/{tenant}/brand-{rrggbb}.css``,
both files under the pages' CSP (``style-src 'self'``, no inline style). An unbranded tenant's
pages link neither; one tenant's pages never name another tenant's brand."""

from __future__ import annotations

import io
import re
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from kvitt.core.db import Database
from kvitt.tenants import branding
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.engagement.test_my_pages import ask_for_link, mailed_links
from tests.web.helpers import issued, token_of


def brand(db: Database, tenant_id: int, colour: str, rgb: tuple[int, int, int]) -> dict[str, str]:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), rgb).save(buffer, "PNG")
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        branding.set_logo(session, tenant, buffer.getvalue())
        tenant.brand_color = colour
        logo, css = branding.logo_url(tenant), branding.stylesheet_url(tenant)
    assert logo and css
    return {"logo": logo, "css": css}


def recipient_pages(client: TestClient, db: Database, invoice: dict[str, Any]) -> dict[str, str]:
    """The web invoice, the pay page, the autogiro page and Mina sidor of the invoice's customer."""
    token = token_of(invoice)
    pages = {
        name: client.get(url)
        for name, url in (
            ("invoice", f"/i/{token}"),
            ("pay", f"/i/{token}/betala"),
            ("autogiro", f"/i/{token}/autogiro"),
        )
    }
    assert ask_for_link(client, invoice).status_code == 303
    pages["mypages"] = client.get(f"/m/{mailed_links(db)[-1][1]}")
    for name, page in pages.items():
        assert page.status_code == 200, (name, page.text)
        policy = page.headers["content-security-policy"]
        assert "style-src 'self';" in policy and "unsafe-inline" not in policy, name
        assert " style=" not in page.text and "<style" not in page.text, name
    return {name: page.text for name, page in pages.items()}


def customer(api: Api, no: str) -> dict[str, Any]:
    body = {"customer_no": no, "name": f"Kund {no}", "email": f"{no.lower()}@example.se"}
    answer = api.post("/customers", body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_every_recipient_page_shows_its_own_tenants_logo_and_colour(
    client: TestClient, api: Api, api_b: Api, db: Database
) -> None:
    mine = brand(db, api.tenant_id, "#5b2a86", (91, 42, 134))
    theirs = brand(db, api_b.tenant_id, "#0b6e4f", (11, 110, 79))
    pages = recipient_pages(client, db, issued(api, customer(api, "A1")))
    for name, html in pages.items():
        assert f'<link rel="stylesheet" href="{mine["css"]}">' in html, name
        assert re.search(rf'<img class="issuer-logo" src="{re.escape(mine["logo"])}" alt="">', html), name
        assert f"/brand/{api_b.tenant_id}/" not in html and theirs["css"] not in html, name
    assert client.get(mine["css"]).text == ":root { --accent: #5b2a86; }\n"
    assert client.get(mine["logo"]).headers["content-type"] == "image/png"

    # the other tenant's pages: their brand, never ours
    for name, html in recipient_pages(client, db, issued(api_b, customer(api_b, "B1"))).items():
        assert theirs["css"] in html and theirs["logo"] in html, name
        assert f"/brand/{api.tenant_id}/" not in html, name


def test_an_unbranded_tenants_pages_link_no_brand(client: TestClient, api: Api, api_b: Api, db: Database) -> None:
    brand(db, api_b.tenant_id, "#0b6e4f", (11, 110, 79))  # someone else's brand exists
    for name, html in recipient_pages(client, db, issued(api, customer(api, "A1"))).items():
        assert "/brand/" not in html and "issuer-logo" not in html, name
        assert '<p class="issuer-name">' in html, name
