"""Opening the web invoice: first and last opened, ``opened`` events, and the form key.

Each view counts, but the timeline gets at most one ``opened`` event per invoice and Swedish
day (a recipient who reloads twenty times is one event), and ``last_opened_at`` is written at
most once a minute, so that most views of a busy page only read. The first view creates the
row; two first views at the same moment are settled by the primary key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.core.clock import STOCKHOLM
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.web.models import WebInvoiceVisit

LAST_OPENED_PRECISION = timedelta(minutes=1)
OPENED = "opened"


def swedish_day(moment: datetime) -> date:
    return moment.astimezone(STOCKHOLM).date()


def record_view(session: Session, invoice: Invoice, now: datetime) -> WebInvoiceVisit:
    """Note that the recipient opened the invoice at ``now``; returns the visit row."""
    visit = session.get(WebInvoiceVisit, invoice.id)
    today = swedish_day(now)
    if visit is None:
        visit = WebInvoiceVisit(
            invoice_id=invoice.id,
            tenant_id=invoice.tenant_id,
            form_key=secrets.token_urlsafe(32),
            first_opened_at=now,
            last_opened_at=now,
            last_event_on=today,
        )
        try:
            with session.begin_nested():
                session.add(visit)
        except IntegrityError:  # another first view won; count this one as a later view
            visit = session.get_one(WebInvoiceVisit, invoice.id, populate_existing=True)
        else:
            _opened_event(session, invoice, first=True)
            return visit
    if visit.last_event_on < today:
        # The day moved on: one more ``opened``. The conditional UPDATE lets one of two
        # simultaneous views of the day write the event.
        claimed = (
            session.query(WebInvoiceVisit)
            .filter(WebInvoiceVisit.invoice_id == invoice.id, WebInvoiceVisit.last_event_on < today)
            .update({"last_event_on": today, "last_opened_at": now}, synchronize_session=False)
        )
        if claimed:
            _opened_event(session, invoice, first=False)
        session.refresh(visit)
    elif now - visit.last_opened_at >= LAST_OPENED_PRECISION:
        visit.last_opened_at = now
        session.flush()
    return visit


def needs_write(visit: WebInvoiceVisit, now: datetime) -> bool:
    """Whether a view at ``now`` changes anything: a new Swedish day (an ``opened`` event) or
    ``last_opened_at`` older than its precision. Most views of a busy page change nothing."""
    return visit.last_event_on < swedish_day(now) or now - visit.last_opened_at >= LAST_OPENED_PRECISION


def _opened_event(session: Session, invoice: Invoice, *, first: bool) -> None:
    record(session, invoice.tenant_id, [Happening(invoice.id, OPENED, "recipient", {"via": "web", "first": first})])


def visit_of(session: Session, tenant_id: int, invoice_id: int) -> WebInvoiceVisit | None:
    return session.scalar(
        select(WebInvoiceVisit).where(WebInvoiceVisit.tenant_id == tenant_id, WebInvoiceVisit.invoice_id == invoice_id)
    )


# --- forms: CSRF protection for pages addressed by a token ---------------------------------------
# A form carries HMAC(form key of the invoice, purpose). The key never leaves the server, so a
# page on another site cannot make a valid form for an invoice without first reading its page,
# which the browser's same-origin rule prevents.


def form_token(visit: WebInvoiceVisit, purpose: str) -> str:
    return hmac.new(visit.form_key.encode(), f"{visit.invoice_id}:{purpose}".encode(), hashlib.sha256).hexdigest()


def is_valid_form_token(visit: WebInvoiceVisit | None, purpose: str, given: str) -> bool:
    if visit is None or not given:
        return False
    return hmac.compare_digest(form_token(visit, purpose), given)
