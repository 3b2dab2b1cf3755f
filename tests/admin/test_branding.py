"""Inställningar, Logotyp och färg: an admin uploads a logo (PNG or JPEG, read from its bytes and
decoded in full) and sets a brand colour (#rrggbb that white text can be read on, WCAG AA); the
web invoice shows both under its CSP from tenant-scoped addresses that serve only the tenant's
current logo and colour; every other role and a form without the session's CSRF token are
refused; each change is audited; one tenant's address never serves another's logo."""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.db import Database
from kvitt.tenants import branding
from tests.admin.conftest import Staff, make_customer, make_issued
from tests.web.helpers import token_of

BLUE = (11, 79, 138)
LOGO_ROUTES = ("/admin/installningar/logotyp", "/admin/installningar/logotyp/ta-bort", "/admin/installningar/farg")


def picture(kind: str = "PNG", size: tuple[int, int] = (120, 40), colour: tuple[int, int, int] = BLUE) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


def upload(staff: Staff, data: bytes, *, name: str = "logo.png", csrf: str | None = None, **kw: Any) -> Any:
    token = staff.csrf() if csrf is None else csrf
    files = {"logo": (name, data, "image/png")}
    return staff.client.post("/admin/installningar/logotyp", data={"csrf": token}, files=files, **kw)


def audit_rows(db: Database, tenant_id: int, action: str) -> list[AuditEntry]:
    with db.read() as session:
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def logo_address(api: Any) -> str:
    tenant = api.get("/tenant").json()
    return f"/brand/{tenant['id']}/logo-{tenant['logo_sha256'][: branding.URL_DIGEST]}"


@pytest.mark.parametrize(("kind", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_an_admin_uploads_a_logo_served_from_the_tenants_address(
    admin: Staff, api: Any, db: Database, tenant_a: tuple[int, str], kind: str, media_type: str
) -> None:
    data = picture(kind)
    answer = upload(admin, data, name=f"logo.{kind.lower()}")
    assert answer.status_code == 303, answer.text
    tenant = api.get("/tenant").json()
    assert tenant["logo_sha256"] == hashlib.sha256(data).hexdigest()
    served = admin.client.get(logo_address(api))
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == media_type
    assert served.headers["x-content-type-options"] == "nosniff"
    assert (
        "immutable" in served.headers["cache-control"]
        and "default-src 'none'" in served.headers["content-security-policy"]
    )
    again = admin.client.get(logo_address(api), headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    (row,) = audit_rows(db, tenant_a[0], "settings.logo")
    assert row.before == {"logo_sha256": None} and row.after == {"logo_sha256": tenant["logo_sha256"]}
    page = admin.get("/admin/installningar").text
    assert f'src="{logo_address(api)}"' in page and "120 × 40 px" in page


def test_a_new_logo_replaces_the_old_and_the_old_address_is_gone(admin: Staff, api: Any) -> None:
    assert upload(admin, picture()).status_code == 303
    old = logo_address(api)
    newer = picture(colour=(20, 20, 20))
    assert upload(admin, newer).status_code == 303
    assert admin.client.get(old).status_code == 404
    assert admin.client.get(logo_address(api)).content == newer
    assert admin.post("/admin/installningar/logotyp/ta-bort").status_code == 303
    assert api.get("/tenant").json()["logo_sha256"] is None
    assert "Ingen logotyp ännu." in admin.get("/admin/installningar").text


def truncated_png() -> bytes:
    whole = picture(size=(300, 300))
    return whole[: len(whole) // 2]  # the header and half the picture


def svg() -> bytes:
    return b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "GIF")
    return buffer.getvalue()


def png_with_bad_header_checksum() -> bytes:
    data = bytearray(picture())
    data[29:33] = (zlib.crc32(bytes(data[12:29])) ^ 1).to_bytes(4, "big")
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (svg, "SVG is not accepted"),
        (gif, "not a PNG or JPEG"),
        (lambda: b"hello, I am a text file", "not a PNG or JPEG"),
        (truncated_png, "damaged"),
        (png_with_bad_header_checksum, "checksum"),
        (lambda: b"", "choose a PNG or JPEG"),
        (lambda: picture(size=(branding.MAX_LOGO_SIDE + 1, 10)), f"at most {branding.MAX_LOGO_SIDE} a side"),
        (lambda: picture() + bytes(branding.MAX_LOGO_BYTES), f"at most {branding.MAX_LOGO_BYTES // 1024} KB"),
    ],
    ids=["svg", "gif", "text", "truncated", "bad-crc", "empty", "too-wide", "too-big"],
)
def test_a_bad_logo_is_refused_naming_the_field_and_nothing_is_kept(
    admin: Staff, api: Any, db: Database, tenant_a: tuple[int, str], make: Any, says: str
) -> None:
    answer = upload(admin, make())
    assert answer.status_code == 422, answer.text
    assert "logo:" in answer.text and says in answer.text
    assert api.get("/tenant").json()["logo_sha256"] is None
    assert audit_rows(db, tenant_a[0], "settings.logo") == []


def test_a_body_far_beyond_the_cap_is_cut_off_while_it_is_read(admin: Staff, api: Any) -> None:
    answer = upload(admin, bytes(3 * branding.MAX_LOGO_BYTES))
    assert answer.status_code == 413
    assert api.get("/tenant").json()["logo_sha256"] is None


def test_the_brand_colour_is_checked_for_contrast_and_clears(
    admin: Staff, api: Any, db: Database, tenant_a: tuple[int, str]
) -> None:
    assert admin.post("/admin/installningar/farg", {"brand_color": " #0B4F8A "}).status_code == 303
    assert api.get("/tenant").json()["brand_color"] == "#0b4f8a"
    (row,) = audit_rows(db, tenant_a[0], "settings.brand_color")
    assert row.before == {"brand_color": None} and row.after == {"brand_color": "#0b4f8a"}
    for bad in ("blue", "#abc", "#0b4f8a;}", "#gggggg"):
        refused = admin.post("/admin/installningar/farg", {"brand_color": bad})
        assert refused.status_code == 422 and "#rrggbb" in refused.text, bad
    pale = admin.post("/admin/installningar/farg", {"brand_color": "#ffcc00"})
    assert pale.status_code == 422 and "1.5" in pale.text and "4.5:1" in pale.text
    assert api.get("/tenant").json()["brand_color"] == "#0b4f8a"
    # The API goes through the same service and gets the same refusal.
    error = api.patch("/tenant", {"brand_color": "#777777"}).json()["error"]
    assert error["param"] == "brand_color" and error["code"] == "contrast_too_low" and "4.47:1" in error["message"]
    assert api.patch("/tenant", {"brand_color": "#767676"}).status_code == 200  # 4.54:1, just enough
    assert admin.post("/admin/installningar/farg", {"brand_color": ""}).status_code == 303
    assert api.get("/tenant").json()["brand_color"] is None
    assert len(audit_rows(db, tenant_a[0], "settings.brand_color")) == 2


def test_the_web_invoice_shows_the_logo_and_colour_under_its_csp(client: Any, admin: Staff, api: Any) -> None:
    invoice = make_issued(api, make_customer(api)["id"])
    plain = client.get(f"/i/{token_of(invoice)}")
    assert '<img class="issuer-logo"' not in plain.text and "/brand/" not in plain.text
    assert upload(admin, picture()).status_code == 303
    assert admin.post("/admin/installningar/farg", {"brand_color": "#5b2a86"}).status_code == 303
    branded = client.get(f"/i/{token_of(invoice)}", headers={"If-None-Match": plain.headers["etag"]})
    assert branded.status_code == 200  # not a 304: the logo and colour are part of the page's ETag
    tenant_id = api.get("/tenant").json()["id"]
    css = f"/brand/{tenant_id}/brand-5b2a86.css"
    assert f'<img class="issuer-logo" src="{logo_address(api)}" alt="">' in branded.text
    assert f'<link rel="stylesheet" href="{css}">' in branded.text
    assert "style-src 'self';" in branded.headers["content-security-policy"]  # files only, no inline style
    assert "'self'" in branded.headers["content-security-policy"].split("style-src")[1].split(";")[0]
    sheet = client.get(css)
    assert sheet.status_code == 200 and "--accent: #5b2a86" in sheet.text
    assert sheet.headers["content-type"].startswith("text/css")
    assert client.get(f"/brand/{tenant_id}/brand-0b4f8a.css").status_code == 404  # not its colour


def test_one_tenants_address_never_serves_anothers_logo(
    admin: Staff, staff_factory: Any, api: Any, api_b: Any, tenant_a: tuple[int, str], tenant_b: tuple[int, str]
) -> None:
    theirs = staff_factory("admin", email="chef@fjallstrom.test", tenant_id=tenant_b[0])
    mine_data, their_data = picture(colour=(10, 10, 10)), picture(colour=(90, 0, 0))
    assert upload(admin, mine_data).status_code == 303
    assert upload(theirs, their_data).status_code == 303
    assert admin.post("/admin/installningar/farg", {"brand_color": "#0b4f8a"}).status_code == 303
    mine, their = logo_address(api), logo_address(api_b)
    assert admin.client.get(mine).content == mine_data and admin.client.get(their).content == their_data
    my_digest, their_digest = mine.rsplit("-", 1)[1], their.rsplit("-", 1)[1]
    assert admin.client.get(f"/brand/{tenant_a[0]}/logo-{their_digest}").status_code == 404
    assert admin.client.get(f"/brand/{tenant_b[0]}/logo-{my_digest}").status_code == 404
    assert admin.client.get(f"/brand/{tenant_b[0]}/brand-0b4f8a.css").status_code == 404
    assert admin.client.get(f"/brand/999999/logo-{my_digest}").status_code == 404
    assert mine not in theirs.get("/admin/installningar").text
    assert their not in admin.get("/admin/installningar").text
    # B's admin removing B's logo leaves A's alone.
    assert theirs.post("/admin/installningar/logotyp/ta-bort").status_code == 303
    assert admin.client.get(mine).content == mine_data and api_b.get("/tenant").json()["logo_sha256"] is None


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_every_other_role_is_refused_on_the_server(staff_factory: Any, admin: Staff, api: Any, role: str) -> None:
    assert upload(admin, picture()).status_code == 303
    before = api.get("/tenant").json()
    staff = staff_factory(role)
    assert upload(staff, picture(colour=(0, 0, 0))).status_code == 403
    assert staff.post("/admin/installningar/logotyp/ta-bort").status_code == 403
    assert staff.post("/admin/installningar/farg", {"brand_color": "#000000"}).status_code == 403
    assert api.get("/tenant").json() == before


def test_a_form_without_the_sessions_csrf_token_is_refused(admin: Staff, staff_factory: Any, api: Any) -> None:
    other = staff_factory("read_only")
    for token in ("", other.csrf()):
        assert upload(admin, picture(), csrf=token).status_code == 403
        assert admin.post("/admin/installningar/farg", {"brand_color": "#000000"}, csrf=token).status_code == 403
        assert admin.post("/admin/installningar/logotyp/ta-bort", csrf=token).status_code == 403
    assert upload(admin, picture(), headers={"Origin": "https://evil.example"}).status_code == 403
    tenant = api.get("/tenant").json()
    assert tenant["logo_sha256"] is None and tenant["brand_color"] is None


def test_contact_fields_clear_but_the_address_stays(admin: Staff, api: Any) -> None:
    contact = {"email": "info@norrsken.test", "phone": "090-123456", "address_line1": "Storgatan 1"}
    assert api.patch("/tenant", contact).status_code == 200
    cleared = admin.post("/admin/installningar/foretag", {"email": "", "phone": ""})
    assert cleared.status_code == 303, cleared.text
    tenant = api.get("/tenant").json()
    assert tenant["email"] is None and tenant["phone"] is None
    kept = admin.post("/admin/installningar/foretag", {"address_line1": ""})
    assert kept.status_code == 422 and "17 kap. 24 §" in kept.text
    assert api.get("/tenant").json()["address_line1"] == "Storgatan 1"
    assert api.patch("/tenant", {"postal_code": None}).json()["error"]["param"] == "postal_code"
