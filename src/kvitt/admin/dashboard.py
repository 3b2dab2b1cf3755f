"""*Översikt* at ``/admin``: the month's figures and 12-month trends, drawn from the same code as
``GET /api/v1/reports/kpis`` (``kvitt.reports.kpis.current_trend``), with a CSV of every figure.

Charts are SVG drawn on the server (``kvitt.reports.charts``), each with its numbers in a table
beside it. ``?to=YYYY-MM-DD`` moves the last day (default today); the month of ``to`` up to
``to`` is "this month", and the trends are the 12 calendar months ending with it. Every staff
role may read it. The page's own texts are translated here (``t``); see docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from kvitt.admin import render
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import database, tenant_of
from kvitt.admin.nav import roles_of
from kvitt.core import clock
from kvitt.engagement import report as engagement_report
from kvitt.engagement.schemas import ReportRow
from kvitt.payments.models import Deviation
from kvitt.reports import charts, kpis
from kvitt.reports.aging import BUCKETS

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("overview"))
MONTHS = 12

EN = {
    "Översikt": "Overview",
    "Nyckeltal för": "Figures for",
    "till och med": "up to and including",
    "Visa till och med": "Show up to",
    "Visa": "Show",
    "Fakturerat": "Invoiced",
    "Inbetalt": "Paid",
    "Utestående": "Outstanding",
    "Förfallet": "Overdue",
    "fakturor": "invoices",
    "DSO (dagar)": "DSO (days)",
    "Digitalt skickade": "Sent digitally",
    "Digitalt betalda": "Paid digitally",
    "Meddelanden per 1 000 fakturor": "Messages per 1,000 invoices",
    "Påminnelser": "Reminders",
    "Inkassoärenden": "Collection cases",
    "Leveransfel": "Delivery failures",
    "Erbjudanden och enkäter denna månad": "Offers and surveys this month",
    "Placering": "Placement",
    "Visningar": "Impressions",
    "Klick": "Clicks",
    "Klickfrekvens": "Click-through rate",
    "Enkätsvar": "Survey answers",
    "Totalt": "Total",
    "Inga erbjudanden eller enkäter har visats denna månad.": "No offers or surveys were shown this month.",
    "Avvikelser att hantera": "Deviations to handle",
    "Fakturerat och inbetalt per månad": "Invoiced and paid per month",
    "Utestående och förfallet vid månadens slut": "Outstanding and overdue at each month's end",
    "Åldersanalys": "Aging",
    "Ej förfallet": "Not yet due",
    "1–30 dagar": "1–30 days",
    "31–60 dagar": "31–60 days",
    "61–90 dagar": "61–90 days",
    "Över 90 dagar": "Over 90 days",
    "DSO per månad": "DSO per month",
    "Digitala andelar per månad": "Digital shares per month",
    "Skickat per kanal": "Sent per channel",
    "Betalt per betalsätt": "Paid per method",
    "Betalt före förfallodagen per kanal": "Paid before the due date per channel",
    "Webbfaktura (e-post, SMS)": "Web invoice (email, SMS)",
    "E-faktura": "E-invoice",
    "Brev": "Letter",
    "Ingen leverans": "Not delivered",
    "Alla": "All",
    "Andel betalda före förfallodagen": "Share paid before the due date",
    "Dagar efter förfallodagen (medel)": "Days after the due date (mean)",
    "Betalda fakturor": "Invoices paid",
    "Kanal": "Channel",
    "Betalsätt": "Method",
    "Antal": "Count",
    "Andel": "Share",
    "Månad": "Month",
    "Belopp": "Amount",
    "Intervall": "Range",
    "Siffrorna i tabellform": "The numbers as a table",
    "CSV": "CSV",
    "Påminnelser, inkasso och support per månad": "Reminders, collection and support per month",
    "Meddelanden per 1 000": "Messages per 1,000",
    "Nyckeltalen definieras i docs/reports.md.": "The figures are defined in docs/reports.md.",
    "E-post": "Email",
    "SMS": "SMS",
    "Internetbank (bankgiro)": "Internet bank (bankgiro)",
    "Inbetalningskort (bankgiro)": "Paper giro slip (bankgiro)",
    "Bankgiro, okänt sätt": "Bankgiro, method unknown",
    "Autogiro": "Autogiro",
    "Swish": "Swish",
    "Kort": "Card",
    "Manuell": "Manual",
    "Via API": "Through the API",
    "Dagar efter förfallodagen": "Days after the due date",
    "Andel (%)": "Share (%)",
    "Ogiltigt datum": "Invalid date",
}
GROUP_LABELS = {
    "web": "Webbfaktura (e-post, SMS)",
    "einvoice": "E-faktura",
    "letter": "Brev",
    "none": "Ingen leverans",
    "all": "Alla",
}
CHANNEL_LABELS = {"email": "E-post", "sms": "SMS", "einvoice": "E-faktura", "letter": "Brev"}
METHOD_LABELS = {
    "bankgiro_online": "Internetbank (bankgiro)",
    "bankgiro_paper": "Inbetalningskort (bankgiro)",
    "bankgiro_unknown": "Bankgiro, okänt sätt",
    "autogiro": "Autogiro",
    "swish": "Swish",
    "card": "Kort",
    "manual": "Manuell",
    "api": "Via API",
}
BUCKET_LABELS = dict(
    zip(BUCKETS, ("Ej förfallet", "1–30 dagar", "31–60 dagar", "61–90 dagar", "Över 90 dagar"), strict=True)
)


def translate(lang: str) -> Callable[[str], str]:
    return (lambda text: EN.get(text, text)) if lang == "en" else (lambda text: text)


# --- numbers as people read them ----------------------------------------------------------------


class Numbers:
    """Formatting in the page's language: Swedish decimal comma in Swedish, point in English."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def _decimal(self, text: str) -> str:
        return text.replace(".", ",") if self.lang == "sv" else text

    def count(self, value: int) -> str:
        grouped = f"{value:,}"
        return grouped.replace(",", "\u00a0") if self.lang == "sv" else grouped

    def percent(self, ratio: kpis.Ratio) -> str:
        value = kpis.Ratio(ratio.numerator * 100, ratio.denominator, 1).value
        return "–" if value is None else f"{self._decimal(str(value))}\u00a0%"

    def days(self, ratio: kpis.Ratio) -> str:
        value = ratio.value
        return "–" if value is None else self._decimal(str(value))

    def kronor(self, ore: int) -> str:
        """Whole kronor for chart axes (tkr/mkr above a hundred thousand)."""
        kronor = ore // 100
        if abs(kronor) >= 10_000_000:
            return f"{self.count(kronor // 1_000_000)}\u00a0mkr"
        if abs(kronor) >= 100_000:
            return f"{self.count(kronor // 1_000)}\u00a0tkr"
        return f"{self.count(kronor)}\u00a0kr"


def basis_points(ratio: kpis.Ratio) -> int | None:
    """A share as an integer of hundredths of a percent, for drawing."""
    return None if ratio.denominator == 0 else ratio.numerator * 10_000 // ratio.denominator


MONTH_NAMES = {
    "sv": ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def month_label(k: kpis.Kpis) -> str:
    return k.start.strftime("%Y-%m")


def chart_month(k: kpis.Kpis, lang: str) -> str:
    """A month under a chart: its short name, and the year below it."""
    return f"{MONTH_NAMES.get(lang, MONTH_NAMES['sv'])[k.start.month - 1]}\n{k.start.year}"


# --- the page -----------------------------------------------------------------------------------


def last_day(request: Request) -> date:
    asked = request.query_params.get("to")
    if asked:
        try:
            return date.fromisoformat(asked)
        except ValueError:
            pass
    return clock.today()


def figures(request: Request, staff: StaffMember, end: date) -> tuple[list[kpis.Kpis], int]:
    """The 12 months up to ``end`` (refreshed first, as the API does) and the open deviations."""
    with database(request).transaction() as session:
        tenant = tenant_of(session, staff)
        trend = kpis.current_trend(session, tenant, end, MONTHS)
        open_deviations = session.scalar(
            select(func.count(Deviation.id)).where(Deviation.tenant_id == tenant.id, Deviation.state == "open")
        )
    return trend, int(open_deviations or 0)


def engagement(request: Request, staff: StaffMember, end: date) -> tuple[list[ReportRow], dict[str, Any]]:
    """The month of ``end`` up to ``end`` in the engagement report (``/api/v1/reports/engagement``
    computes the same rows): per placement and segment, and the month's totals."""
    with database(request).read() as session:
        rows = engagement_report.rows(session, tenant_of(session, staff), end.replace(day=1), end)
    impressions, clicks = sum(r.impressions for r in rows), sum(r.clicks for r in rows)
    totals = {
        "impressions": impressions,
        "clicks": clicks,
        "ctr": kpis.Ratio(clicks, impressions),
        "answers": sum(r.answers for r in rows),
    }
    return rows, totals


def drawings(trend: list[kpis.Kpis], t: Callable[[str], str], n: Numbers) -> dict[str, Any]:
    months = [chart_month(k, n.lang) for k in trend]
    now = trend[-1]
    share_axis = lambda bp: f"{bp // 100}\u00a0%"  # noqa: E731
    return {
        "money": charts.bars(
            months,
            [(t("Fakturerat"), [k.invoiced for k in trend]), (t("Inbetalt"), [k.paid for k in trend])],
            title=t("Fakturerat och inbetalt per månad"),
            desc=", ".join(f"{month_label(k)}: {n.kronor(k.invoiced)} / {n.kronor(k.paid)}" for k in trend),
            label=n.kronor,
        ),
        "stocks": charts.lines(
            months,
            [(t("Utestående"), [k.outstanding for k in trend]), (t("Förfallet"), [k.overdue for k in trend])],
            title=t("Utestående och förfallet vid månadens slut"),
            desc=", ".join(f"{month_label(k)}: {n.kronor(k.outstanding)} / {n.kronor(k.overdue)}" for k in trend),
            label=n.kronor,
        ),
        "aging": charts.hbars(
            [(t(BUCKET_LABELS[b]), now.aging[b]) for b in BUCKETS],
            title=t("Åldersanalys"),
            desc=", ".join(f"{t(BUCKET_LABELS[b])}: {n.kronor(now.aging[b])}" for b in BUCKETS),
            label=n.kronor,
        ),
        "dso": charts.lines(
            months,
            [(t("DSO (dagar)"), [_tenths(k.dso_days) for k in trend])],
            title=t("DSO per månad"),
            desc=", ".join(f"{month_label(k)}: {n.days(k.dso_days)}" for k in trend),
            label=lambda tenths: n.days(kpis.Ratio(tenths, 10, 0)),
        ),
        "shares": charts.lines(
            months,
            [
                (t("Digitalt skickade"), [basis_points(k.digital_send_share) for k in trend]),
                (t("Digitalt betalda"), [basis_points(k.digital_payment_share) for k in trend]),
            ],
            title=t("Digitala andelar per månad"),
            desc=", ".join(
                f"{month_label(k)}: {n.percent(k.digital_send_share)} / {n.percent(k.digital_payment_share)}"
                for k in trend
            ),
            label=share_axis,
            top=10_000,
        ),
        "before_due": charts.hbars(
            [(t(GROUP_LABELS[g]), basis_points(now.paid_before_due_share[g]) or 0) for g in GROUP_LABELS],
            title=t("Betalt före förfallodagen per kanal"),
            desc=", ".join(f"{t(GROUP_LABELS[g])}: {n.percent(now.paid_before_due_share[g])}" for g in GROUP_LABELS),
            label=share_axis,
        ),
    }


def _tenths(ratio: kpis.Ratio) -> int | None:
    value = kpis.Ratio(ratio.numerator * 10, ratio.denominator, 0).value
    return None if value is None else int(value)


@router.get("/admin")
def overview(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    end = last_day(request)
    trend, open_deviations = figures(request, staff, end)
    placements, placement_totals = engagement(request, staff, end)
    lang = render.language_of(request, staff)
    t, n = translate(lang), Numbers(lang)
    context = {
        "t": t,
        "n": n,
        "end": end,
        "now": trend[-1],
        "trend": trend,
        "month_label": month_label,
        "charts": drawings(trend, t, n),
        "open_deviations": open_deviations,
        "placements": placements,
        "placement_totals": placement_totals,
        "ratio": kpis.Ratio,
        "GROUPS": GROUP_LABELS,
        "CHANNELS": CHANNEL_LABELS,
        "METHODS": METHOD_LABELS,
        "BUCKETS": BUCKET_LABELS,
        "csv": lambda figure: f"/admin/oversikt/{figure}.csv?to={end.isoformat()}",
    }
    return render.page(request, staff, "admin/dashboard.html", context, nav="overview")


@router.get("/admin/oversikt/{figure}.csv")
def figure_csv(figure: str, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """One figure for each of the 12 months, in the API's CSV rows."""
    if figure not in kpis.FIGURES:
        return render.html("<!doctype html><title>Not found</title><h1>Not found</h1>", 404)
    end = last_day(request)
    trend, _ = figures(request, staff, end)
    body = kpis.csv_text(trend, figure)
    headers = {
        "Content-Disposition": f'attachment; filename="kvitt-{figure}-{end.isoformat()}.csv"',
        "Cache-Control": "no-store",
    }
    return render.with_session(request, staff, Response(body, media_type="text/csv; charset=utf-8", headers=headers))
