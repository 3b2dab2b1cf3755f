"""Shared steps of the web-invoice tests: issue an invoice, open its page, post its forms."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import Api
from tests.invoices.test_api_flow import make_customer, make_draft


def issued(api: Api, customer: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    customer = customer or make_customer(api)
    draft = make_draft(api, customer["id"], **fields)
    response = api.post(f"/invoices/{draft['id']}/issue")
    assert response.status_code == 200, response.text
    return dict(response.json())


def token_of(invoice: dict[str, Any]) -> str:
    return str(invoice["url"].rsplit("/", 1)[1])


def open_page(client: TestClient, invoice: dict[str, Any], query: str = "") -> str:
    response = client.get(f"/i/{token_of(invoice)}{query}")
    assert response.status_code == 200, response.text
    return response.text


def form_token(html: str, action: str) -> str:
    """The csrf field of the form posting to ``action``."""
    form = html.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', form)
    assert match, form
    return match.group(1)


def post_form(
    client: TestClient, invoice: dict[str, Any], what: str, fields: dict[str, str], *, csrf: str | None = None
) -> Response:
    """Open the right tab as a browser would, then post its form with the token it carries."""
    token = token_of(invoice)
    action = f"/i/{token}/{what}"
    if csrf is None:
        tab = "meddelanden" if what == "messages" else "installningar"
        csrf = form_token(open_page(client, invoice, f"?tab={tab}"), action)
    return client.post(action, data={"csrf": csrf, **fields}, follow_redirects=False)


def wire_size(response: Response) -> int:
    """Bytes of the body as sent: httpx decodes gzip, Content-Length is what came over the wire."""
    return int(response.headers["content-length"])


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


__all__ = ["make_customer", "make_draft"]
