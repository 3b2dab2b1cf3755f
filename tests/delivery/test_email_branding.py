"""The tenant's branding in what the recipient gets: the e-mail shows the logo from its absolute
tenant-scoped address and the brand colour on its button, and the PDF (here the e-mail's
attachment) carries the logo as an image. Without branding neither has one."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from kvitt.core.db import Database
from kvitt.tenants import branding
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.delivery.conftest import customer, drain, issue
from tests.loopback import Mailbox


def brand(db: Database, tenant_id: int, colour: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 50), (91, 42, 134)).save(buffer, "PNG")
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        branding.set_logo(session, tenant, buffer.getvalue())
        tenant.brand_color = branding.checked_colour(colour)
        return str(branding.logo_url(tenant))


def images_in(pdf: bytes) -> int:
    return pdf.count(b"/Subtype /Image")


def mail_to(api: Api, db: Database, mailbox: Mailbox, no: str) -> Any:
    assert api.patch("/delivery/settings", {"attach_pdf": True}).status_code == 200
    address = f"c{no}@example.se"
    issue(api, customer(api, no, email=address, delivery_method="email")["id"])
    drain(db)
    (message,) = mailbox.to(address)
    html = message.get_body(preferencelist=("html",)).get_content()
    (attachment,) = message.iter_attachments()
    return html, attachment.get_content()


def test_the_email_and_its_pdf_carry_the_tenants_logo_and_colour(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any], tenant_a: tuple[int, str]
) -> None:
    plain_html, plain_pdf = mail_to(api, db, mailbox, "1001")
    assert "/brand/" not in plain_html and "background:#1d4ed8" in plain_html

    path = brand(db, tenant_a[0], "#5b2a86")
    html, pdf = mail_to(api, db, mailbox, "1002")
    assert f'<img src="https://kvitt.test{path}" alt="Norrsken Telekom AB"' in html
    assert "background:#5b2a86" in html and "#1d4ed8" not in html
    assert images_in(pdf) == images_in(plain_pdf) + 1
