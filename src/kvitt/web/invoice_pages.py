"""What the web invoice's own pages (pay on the spot, autogiro with BankID) start from: the issued
invoice its token finds, with the recipient's visit (recorded on the first look, so that the
page's forms carry a form token) and the language asked for; and the answer that makes htmx
reload the whole page when what a page follows has ended."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from kvitt.core.db import Database, utcnow
from kvitt.web import service, visits
from kvitt.web.models import WebInvoiceVisit
from kvitt.web.texts import LANGUAGES
from kvitt.web.view import language_of


@dataclass
class InvoicePage:
    """The invoice the token found, its visit, the language shown and the one asked for (``?lang=``)."""

    found: service.WebInvoice
    visit: WebInvoiceVisit
    lang: str
    chosen: str | None


def chosen_language(value: str | None) -> str | None:
    """A ``lang`` parameter the pages know, else None (the invoice's own language)."""
    return value if value in LANGUAGES else None


def load_page(request: Request, token: str, chosen: str | None) -> InvoicePage | None:
    """The issued invoice of ``token`` (None: no such invoice); a first look records the visit."""
    database: Database = request.app.state.db
    with database.read() as session:
        found = service.find_issued(session, token)
    if found is None:
        return None
    visit = found.visit
    if visit is None:
        with database.transaction() as session:
            visit = visits.record_view(session, found.invoice, utcnow())
    return InvoicePage(found, visit, language_of(found, chosen), chosen)


def reload_whole_page() -> Response:
    """The status fragment's answer once the followed request or order has ended: htmx reloads
    the page, which shows the outcome."""
    return Response(status_code=200, headers={"HX-Refresh": "true", "Cache-Control": "no-store"})
