"""A realistic demo tenant: a northern Swedish telecom with customers, items and invoice history.

``seed_demo`` writes only through the features' service layers (tenants, customers, catalog,
invoices), exactly as the API would, so the demo data obeys every rule real data does: valid
identity numbers, gap-free numbers, a balanced ledger, a timeline per invoice.

The history is simulated in date order: each billing cycle is issued on its billing day, and
each invoice then lives its own story (paid on time, paid late, partly paid, credited, written
off, ...) on the days the story says, so that numbers, ledger dates and timelines read like a
real quarter. ``in_collection`` is left out on purpose: no service action leads there yet
(dunning comes later), and forcing the state would skip the steps that must precede it.

Contact data is fictional by construction: e-mail addresses are under example.com/.net/.org
(reserved, RFC 2606/6761) and mobile numbers are in 070-174 06 05..99, the range the Swedish
Post and Telecom Authority (PTS) reserves for fiction, so a demo that delivers reaches no one.
Personal and organisation numbers are random but valid (date, Luhn), so they may coincide with
real ones; they are never shown outside the demo tenant, which is marked ``is_test``.
"""

from __future__ import annotations

import heapq
import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session
from stdnum import luhn

from kvitt.admin.users import DEMO_EMAIL, ensure_demo_user
from kvitt.catalog import service as catalog
from kvitt.catalog.schemas import ItemCreate
from kvitt.customers import service as customers_service
from kvitt.customers.schemas import CustomerCreate
from kvitt.engagement import demo as engagement_demo
from kvitt.formats import bgmax
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import CreditIn, InfoBlock, InvoiceCreate, LineIn
from kvitt.payments.imports import import_bgmax
from kvitt.payments.models import PaymentFile
from kvitt.subscriptions import service as subscriptions_service
from kvitt.subscriptions.schemas import SubscriptionCreate, SubscriptionLineIn
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantCreate

DEMO_KEY_NAME = "demo"
ACTOR = "demo"
CYCLES = 3  # billing months of history, the current one included
# Invoices 1..6 (the first cycle's first six) stay unpaid in every demo of 1,000 customers with the
# default seed, whatever the date: examples/demo-payments.bgmax pays them (tests/test_readme.py).
EXAMPLE_INVOICES = 6
TERMS_DAYS = 30

DEMO_TENANT: dict[str, Any] = {
    "name": "Norrsken Telekom AB",
    "org_number": "559274-3180",
    "address_line1": "Storgatan 21",
    "postal_code": "972 31",
    "city": "Luleå",
    "email": "kundservice@norrsken-telekom.example.com",
    "phone": "+46701740605",
    "bankgiro": "5050-1055",
    "swish_number": "1231181189",
    "payment_terms_days": TERMS_DAYS,
    "invoice_fee": 2900,  # 29 kr on paper invoices only (see _invoice_input)
    "reminder_fee": 6000,  # 60 kr, the cap in förordning 1981:1057
    "reminder_fee_agreed": True,
    "late_interest": True,
    "round_to_krona": True,
    "default_delivery": "email",
    "locale": "sv",
    "is_test": True,
}


@dataclass(frozen=True)
class _ItemSpec:
    article_no: str
    title: str
    unit: str
    unit_price: int  # öre excluding VAT
    vat_rate: int


ITEMS = (
    _ItemSpec("MOB-BAS", "Mobilabonnemang Bas 5 GB", "mån", 15920, 25),
    _ItemSpec("MOB-PLUS", "Mobilabonnemang Plus 25 GB", "mån", 23920, 25),
    _ItemSpec("MOB-FRI", "Mobilabonnemang Fri surf", "mån", 31920, 25),
    _ItemSpec("MOB-FTG", "Företagsabonnemang Mobil 50 GB", "mån", 27900, 25),
    _ItemSpec("BB-250", "Bredband 250/250 Mbit/s", "mån", 31920, 25),
    _ItemSpec("BB-1000", "Bredband 1000/1000 Mbit/s", "mån", 47920, 25),
    _ItemSpec("ROUTER", "Routerhyra", "mån", 3920, 25),
    _ItemSpec("SURF-5", "Extra surf 5 GB", "st", 7920, 25),
    _ItemSpec("SAMTAL", "Samtal utöver abonnemang", "min", 39, 25),
    _ItemSpec("SAMTAL-UTL", "Utlandssamtal", "min", 239, 25),
    _ItemSpec("SMS", "SMS utöver abonnemang", "st", 59, 25),
    # Digital periodicals take 6 % VAT like printed ones (since 1 July 2019).
    _ItemSpec("TIDNING", "Norrskensbladet digital", "mån", 5566, 6),
)

FEMALE = (
    "Anna", "Eva", "Maria", "Karin", "Kristina", "Lena", "Sara", "Emma", "Ingrid", "Kerstin",
    "Marie", "Malin", "Jenny", "Hanna", "Linnéa", "Elsa", "Astrid", "Maja", "Ebba", "Wilma",
    "Agnes", "Saga", "Sofia", "Johanna", "Elin", "Ida", "Frida", "Birgitta", "Margareta", "Fatima",
    "Amina", "Leila", "Aino", "Sanna", "Märta",
)  # fmt: skip
MALE = (
    "Lars", "Mikael", "Anders", "Johan", "Erik", "Per", "Karl", "Peter", "Thomas", "Jan",
    "Daniel", "Fredrik", "Hans", "Magnus", "Mattias", "Oskar", "William", "Lucas", "Hugo", "Elias",
    "Viktor", "Gustav", "Axel", "Nils", "Olof", "Björn", "Stefan", "Göran", "Mohammed", "Ali",
    "Ahmed", "Jonas", "Niklas", "Åke", "Sten",
)  # fmt: skip
SURNAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Magnusson", "Lindström",
    "Olofsson", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg", "Lundqvist",
    "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Forsberg", "Sjöberg", "Wallin", "Engström",
    "Eklund", "Danielsson", "Håkansson", "Björk", "Holm", "Wikström", "Isaksson", "Nyström",
    "Holmberg", "Löfgren", "Söderberg", "Nordström", "Viklund", "Björklund", "Öberg", "Åberg",
    "Nordin", "Strömberg", "Hedlund", "Marklund", "Lundmark", "Öhman", "Burman", "Nyman",
    "Hassan", "Yilmaz", "Nguyen", "Kovač", "Niemi", "Rantala", "Sarri", "Labba",
)  # fmt: skip
TRADES = (
    "Bygg", "El", "Rör", "Konsult", "Transport", "Måleri", "Redovisning", "Fastigheter",
    "Bilverkstad", "Städ", "Skog", "Fiske", "Turism", "Design", "Data", "Café",
)  # fmt: skip
STREETS = (
    "Storgatan", "Kungsgatan", "Drottninggatan", "Skolgatan", "Kyrkogatan", "Järnvägsgatan",
    "Nygatan", "Parkvägen", "Björkvägen", "Granvägen", "Tallvägen", "Ringvägen", "Sjövägen",
    "Norra Strandgatan", "Hamngatan", "Trädgårdsgatan", "Backvägen", "Rönnvägen", "Lärkvägen",
    "Aspvägen", "Polstjärnegatan", "Norrskensvägen", "Smedjegatan", "Västra Esplanaden",
)  # fmt: skip
# City, the first three digits of its postcodes, and a weight (a northern operator: the north
# is over-represented).
CITIES: tuple[tuple[str, tuple[int, ...], int], ...] = (
    ("Stockholm", (111, 113, 114, 116, 118, 120, 124), 10),
    ("Göteborg", (411, 413, 414, 416, 417, 421), 5),
    ("Malmö", (211, 212, 214, 216, 217), 3),
    ("Uppsala", (752, 753, 754, 756), 3),
    ("Luleå", (972, 973, 974, 975, 976), 9),
    ("Umeå", (903, 904, 905, 906, 907), 8),
    ("Kiruna", (981,), 4),
    ("Skellefteå", (931, 934), 4),
    ("Piteå", (941, 943), 3),
    ("Boden", (961,), 3),
    ("Gällivare", (982,), 2),
    ("Östersund", (831,), 3),
    ("Sundsvall", (852, 853, 854, 856), 4),
    ("Örnsköldsvik", (891, 892), 2),
    ("Gävle", (802, 803, 804, 806), 3),
    ("Västerås", (722, 723, 724), 2),
    ("Örebro", (702, 703), 2),
    ("Linköping", (582, 583, 586), 2),
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
FICTION_MOBILES = range(6, 100)  # 070-174 06 05..99 (05 is the tenant's own)
MONTHS = {
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
           "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip
NEWS = InfoBlock(
    title="5G i hela Norrbotten",
    text="Nu når vårt 5G-nät från Haparanda till Riksgränsen. Ditt abonnemang har redan stöd, inget behöver göras.",
)
FULL_CREDIT_REASONS = ("Felaktig debitering", "Dubbelfakturering", "Ångerrätt utnyttjad", "Uppsagt abonnemang")


@dataclass
class _Customer:
    id: int
    type: str
    language: str
    delivery: str
    plan: list[tuple[str, int]]  # monthly articles and quantities
    business: bool
    first_cycle: int


@dataclass
class _Step:
    """One thing that happens to an issued invoice on a day."""

    on: date
    action: str  # pay | credit_full | credit_amount | credit_remaining | write_off
    percent: int | None = None  # of the total, for a part payment or a partial credit


@dataclass
class _Planned:
    customer: _Customer
    data: InvoiceCreate
    steps: list[_Step] = field(default_factory=list)


def seed_demo(session: Session, *, customers: int = 1000, seed: int = 2026, today: date) -> dict[str, Any]:
    """Create the demo tenant with ``customers`` customers and about three invoices each.

    Deterministic for a given ``seed`` and ``today`` (apart from secrets: keys, web tokens).
    Runs in the caller's transaction and does not commit.
    """
    rng = random.Random(seed)  # noqa: S311 -- demo data must be reproducible, not secret
    tenant, api_key = tenants.create(session, TenantCreate(**DEMO_TENANT))
    items = {spec.article_no: catalog.create(session, tenant, ItemCreate(**vars(spec))).id for spec in ITEMS}
    cycles = _billing_days(today)
    people = [_create_customer(session, tenant, rng, index, cycles) for index in range(customers)]
    billed = _simulate(session, tenant, rng, people, items, today)
    drafts = _drafts(session, tenant, rng, people, items, today)
    billed += drafts
    bank_file = _todays_bank_file(session, tenant, rng, billed, today)
    subscriptions = _subscriptions(session, tenant, people, items, {d.customer_id for d in drafts}, today)
    engagement_demo.seed(session, tenant)  # segments, offers, information and a survey (docs/engagement.md)
    kinds = Counter(inv.kind for inv in billed)
    return {
        "tenant_id": tenant.id,
        "api_key": api_key,
        "customers": len(people),
        "invoices": kinds["invoice"],
        "credit_notes": kinds["credit_note"],
        "states": dict(sorted(Counter(inv.state for inv in billed if inv.kind == "invoice").items())),
        "subscriptions": subscriptions,
        "bank_file": bank_file,
        # The back office's demo admin (kvitt.admin), so that a newcomer logs in at once.
        "staff_email": DEMO_EMAIL,
        "staff_password": ensure_demo_user(session, tenant.id),
    }


def _subscriptions(
    session: Session,
    tenant: Tenant,
    people: list[_Customer],
    items: dict[str, int],
    drafted: set[int],
    today: date,
) -> int:
    """Each customer's plan as a monthly subscription from the next billing day on, so that the
    worker's daily billing run (or ``kvitt clock advance``) invoices the months to come; the
    months of history above were invoiced one by one. A customer whose next invoice is already
    drafted (``_drafts``) starts a month later, so that no month is invoiced twice."""
    next_month = _next_month(today)
    for customer in people:
        start = _next_month(next_month) if customer.id in drafted else next_month
        lines = [SubscriptionLineIn(item=items[article], quantity=quantity) for article, quantity in customer.plan]
        data = SubscriptionCreate(
            customer=customer.id,
            lines=lines,
            start_date=start,
            anchor_day=1,
            binding_months=12 if customer.business else 0,
            metadata={"plan": customer.plan[0][0]},
        )
        subscriptions_service.create(session, tenant, data, today=today)
    return len(people)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _todays_bank_file(
    session: Session, tenant: Tenant, rng: random.Random, billed: list[Invoice], today: date
) -> dict[str, int]:
    """This morning's BGMax file from Bankgirot: mostly exact OCR payments, a few partial or
    too large, and some that name no invoice of ours, so the deviations queue has work."""
    open_invoices = [
        inv
        for inv in billed
        if inv.kind == "invoice" and inv.state in states.OPEN_STATES and inv.ocr and inv.number > EXAMPLE_INVOICES
    ]
    chosen = rng.sample(open_invoices, k=min(len(open_invoices), max(4, len(open_invoices) // 25)))
    payments_in: list[bgmax.BgmaxPayment] = []
    for number, invoice in enumerate(chosen):
        roll = rng.random()
        amount = (
            invoice.remaining if roll < 0.8 else invoice.remaining // 2 if roll < 0.9 else invoice.remaining + 10000
        )
        payments_in.append(_bg_payment(number, invoice.ocr or "", amount, code=2))
    payments_in.append(_bg_payment(len(payments_in), "4711", 29900, code=5))  # a mistyped OCR
    payments_in.append(
        _bg_payment(len(payments_in), "", 39900, code=1, name="Per Nilsson")
    )  # a paper slip, no reference
    file = _import_deposit(session, tenant, today, payments_in, "demo-bgmax.txt")
    return {"payments": file.payments, "matched": file.matched, "deviations": file.deviations}


def _import_deposit(
    session: Session, tenant: Tenant, on: date, payments_in: list[bgmax.BgmaxPayment], filename: str
) -> PaymentFile:
    """One deposit to the tenant's bankgiro on ``on``, as a BGMax file read by the real import."""
    deposit = bgmax.BgmaxDeposit(
        payee_bankgiro=(tenant.bankgiro or "").replace("-", "").zfill(10),
        payee_plusgiro=None,
        currency="SEK",
        payments=tuple(payments_in),
        account="12345678901",
        date=on,
        deposit_serial="00001",
        amount=sum(p.amount for p in payments_in),
        count=len(payments_in),
    )
    data = bgmax.write(bgmax.file_of(datetime.combine(on, time(7, 0)), [deposit], test=True))
    return import_bgmax(session, tenant, data, filename=filename, source="demo", today=on, actor=ACTOR).file


def _bg_payment(number: int, reference: str, amount: int, *, code: int, name: str | None = None) -> bgmax.BgmaxPayment:
    return bgmax.BgmaxPayment(
        kind="payment",
        payer_bankgiro="0000000000",
        reference=reference,
        amount=amount,
        reference_code=code,
        channel=1 if reference else 3,
        bgc_serial=f"{900000000000 + number:012d}",
        has_image=not reference,
        payer_name=name,
    )


def demo_invoice_token(session: Session, tenant: Tenant) -> str | None:
    """The web token of one good-looking open invoice: a Swedish consumer's, with several lines."""
    for state in (states.UNPAID, states.PARTLY_PAID, states.OVERDUE):
        page = invoices.list_page(session, tenant, limit=100, starting_after=None, state=state, kind="invoice")
        candidates = [inv for inv in page.items if inv.buyer.get("language") == "sv"]
        if candidates:
            best = max(candidates, key=lambda inv: (inv.buyer.get("type") == "individual", len(inv.lines), inv.id))
            return best.token
    return None


# --- customers ---------------------------------------------------------------------------------


def _create_customer(session: Session, tenant: Tenant, rng: random.Random, index: int, cycles: list[date]) -> _Customer:
    business = rng.random() < 0.15
    fields = _company_fields(rng) if business else _person_fields(rng)
    segment = "business" if business else ("vip" if rng.random() < 0.06 else "consumer")
    plan = _plan(rng, business, segment)
    # Most customers have been with us for years; a few joined during the history simulated here.
    first_cycle = rng.choices((0, 1, 2), weights=(90, 6, 4))[0]
    # The same draws whatever today's year is (a range that grew with the year would shift every
    # later draw), so the first cycle's invoices are the same in every demo: see EXAMPLE_INVOICES.
    joined = min(rng.randint(2012, 2025), cycles[0].year - 1)
    since = cycles[first_cycle] if first_cycle else date(joined, rng.randint(1, 12), 1)
    data = CustomerCreate(
        customer_no=str(100001 + index),
        **fields,
        **_address(rng),
        attributes={"segment": segment, "plan": plan[0][0], "customer_since": since.strftime("%Y-%m")},
    )
    customer = customers_service.create(session, tenant, data)
    return _Customer(
        customer.id, customer.type, customer.language, customer.delivery_method, plan, business, first_cycle
    )


def _person_fields(rng: random.Random) -> dict[str, Any]:
    female = rng.random() < 0.5
    first = rng.choice(FEMALE if female else MALE)
    last = rng.choice(SURNAMES)
    birth = date(rng.randint(1941, 2006), rng.randint(1, 12), rng.randint(1, 28))
    has_email = rng.random() < 0.9
    phone = _mobile(rng) if rng.random() < 0.85 else None
    # Older customers keep paper more often; e-faktura in the internet bank is common for everyone.
    letter_weight = 40 if birth.year < 1955 else 8
    methods = {"email": 55 if has_email else 0, "sms": 20 if phone else 0, "letter": letter_weight, "einvoice": 12}
    return {
        "type": "individual",
        "id_number": personnummer(rng, birth, female=female),
        "name": f"{first} {last}",
        "email": _email(rng, first, last) if has_email else None,
        "phone": phone,
        "delivery_method": _weighted(rng, methods),
        "language": "en" if rng.random() < 0.08 else "sv",
    }


def _company_fields(rng: random.Random) -> dict[str, Any]:
    owner = rng.choice(SURNAMES)
    name = f"{owner} {rng.choice(TRADES)} AB"
    return {
        "type": "company",
        "id_number": organisation_number(rng),
        "name": name,
        "email": f"faktura@{_slug(name.removesuffix(' AB'))}.{rng.choice(EMAIL_DOMAINS)}",
        "phone": _mobile(rng),
        "delivery_method": _weighted(rng, {"einvoice": 45, "email": 45, "letter": 10}),
        "language": "en" if rng.random() < 0.03 else "sv",
    }


def personnummer(rng: random.Random, birth: date, *, female: bool) -> str:
    """A valid personnummer ``YYYYMMDD-NNNC``: birth date, serial (odd for men), Luhn digit."""
    serial = rng.randint(0, 99) * 10 + rng.choice((0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9))
    nine = f"{birth:%y%m%d}{serial:03d}"
    return f"{birth:%Y%m%d}-{serial:03d}{luhn.calc_check_digit(nine)}"


def organisation_number(rng: random.Random) -> str:
    """A valid aktiebolag number ``5592NN-NNNC`` (group 5; third digit >= 2 as all org numbers)."""
    nine = f"559{rng.randint(0, 999999):06d}"
    ten = nine + luhn.calc_check_digit(nine)
    return f"{ten[:6]}-{ten[6:]}"


def _address(rng: random.Random) -> dict[str, Any]:
    city, prefixes, _ = rng.choices(CITIES, weights=[weight for _, _, weight in CITIES])[0]
    number = f"{rng.randint(1, 120)}{rng.choice(('', '', '', ' A', ' B'))}"
    apartment = f"Lgh {rng.randint(10, 16)}{rng.randint(1, 9):02d}" if rng.random() < 0.4 else None
    return {
        "address_line1": f"{rng.choice(STREETS)} {number}",
        "address_line2": apartment,
        "postal_code": f"{rng.choice(prefixes)} {rng.randint(10, 99)}",
        "city": city,
    }


def _email(rng: random.Random, first: str, last: str) -> str:
    local = rng.choice(
        (f"{first}.{last}", f"{first}{last}", f"{first}.{last}{rng.randint(50, 99)}", f"{first[0]}{last}")
    )
    return f"{_slug(local)}@{rng.choice(EMAIL_DOMAINS)}"


def _mobile(rng: random.Random) -> str:
    return f"+467017406{rng.choice(FICTION_MOBILES):02d}"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() or c == "." else "-" for c in ascii_text.lower().replace(" ", "-"))


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _plan(rng: random.Random, business: bool, segment: str) -> list[tuple[str, int]]:
    if business:
        return [("MOB-FTG", rng.randint(2, 25)), ("BB-1000", 1), ("ROUTER", 1)]
    if segment == "vip":
        return [("MOB-FRI", rng.randint(1, 3)), ("BB-1000", 1), ("ROUTER", 1), ("TIDNING", 1)]
    plan = [(rng.choices(("MOB-BAS", "MOB-PLUS", "MOB-FRI"), weights=(40, 40, 20))[0], 1)]
    if rng.random() < 0.35:
        plan += [(rng.choice(("BB-250", "BB-1000")), 1), ("ROUTER", 1)]
    if rng.random() < 0.1:
        plan.append(("TIDNING", 1))
    return plan


# --- invoices ------------------------------------------------------------------------------------


def _invoice_input(
    rng: random.Random,
    customer: _Customer,
    items: dict[str, int],
    invoice_date: date | None,
    period: date,
    *,
    news: bool,
) -> InvoiceCreate:
    month = f"{MONTHS[customer.language][period.month - 1]} {period.year}"
    lines = [
        LineIn(item=items[article], quantity=quantity, description=_title(article) + f", {month}")
        for article, quantity in customer.plan
    ]
    lines += [LineIn(item=items[article], quantity=quantity) for article, quantity in _usage(rng, customer)]
    return InvoiceCreate(
        customer=customer.id,
        lines=lines,
        invoice_date=invoice_date,
        # Paper costs money to print and post: only letter customers pay the invoice fee.
        invoice_fee=customer.delivery == "letter",
        info=[NEWS] if news else [],
        metadata={"billing_period": period.strftime("%Y-%m")},
    )


def _usage(rng: random.Random, customer: _Customer) -> list[tuple[str, int]]:
    """Traffic outside the plan last month: extra surf, minutes, messages."""
    scale = dict(customer.plan).get("MOB-FTG", 1)
    usage = []
    if rng.random() < 0.25:
        usage.append(("SURF-5", rng.randint(1, 2) * scale))
    if rng.random() < 0.6:
        usage.append(("SAMTAL", rng.randint(5, 240) * scale))
    if rng.random() < 0.35:
        usage.append(("SMS", rng.randint(3, 80)))
    if rng.random() < (0.3 if customer.business else 0.05):
        usage.append(("SAMTAL-UTL", rng.randint(3, 60)))
    return usage


def _title(article: str) -> str:
    return next(spec.title for spec in ITEMS if spec.article_no == article)


def _billing_days(today: date) -> list[date]:
    """The first of the month for the last CYCLES months, oldest first (the current one last)."""
    days = []
    year, month = today.year, today.month
    for _ in range(CYCLES):
        days.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return days[::-1]


# Stories for invoices not yet due, and for invoices past due: (name, share of the cycle).
# Every story gets at least one invoice per cycle, so that every state shows up even with few
# customers; what is left over is "unpaid" (not yet due) or "paid" (past due).
OPEN_STORIES = (("paid", 0.35), ("partly_paid", 0.05), ("credited", 0.02))
PAST_STORIES = (
    ("paid_late", 0.08),
    ("overdue", 0.05),
    ("overdue_partly", 0.02),
    ("credited", 0.02),
    ("compensated_then_paid", 0.02),
    ("part_paid_then_credited", 0.01),
)
WRITE_OFF_SHARE = 0.02  # of the oldest cycle, never paid and given up


def _deck(rng: random.Random, n: int, stories: tuple[tuple[str, float], ...], rest: str) -> list[str]:
    deck: list[str] = []
    for name, share in stories:
        deck += [name] * max(1, round(share * n))
    deck = deck[:n] + [rest] * max(0, n - len(deck))
    rng.shuffle(deck)
    return deck


def _steps(rng: random.Random, story: str, issued: date, today: date) -> list[_Step]:
    """The days and actions of one invoice's story, all on or before ``today``."""
    due = issued + timedelta(days=TERMS_DAYS)

    def between(first: date, last: date) -> date:
        last = min(last, today)
        first = min(first, last)
        return first + timedelta(days=rng.randint(0, (last - first).days))

    part = rng.randint(30, 70)
    if story == "paid":
        return [_Step(between(issued + timedelta(days=3 if due < today else 0), due), "pay")]
    if story == "paid_late":
        return [_Step(between(due + timedelta(days=1), due + timedelta(days=25)), "pay")]
    if story in ("partly_paid", "overdue_partly"):
        return [_Step(between(issued, due), "pay", part)]
    if story == "credited":
        return [_Step(between(issued, due), "credit_full")]
    if story == "compensated_then_paid":
        credit_on = between(issued + timedelta(days=2), issued + timedelta(days=10))
        return [_Step(credit_on, "credit_amount", rng.randint(10, 30)), _Step(between(credit_on, due), "pay")]
    if story == "part_paid_then_credited":
        paid_on = between(issued + timedelta(days=3), issued + timedelta(days=12))
        return [_Step(paid_on, "pay", part), _Step(between(paid_on, due), "credit_remaining")]
    if story == "written_off":
        return [_Step(between(due + timedelta(days=20), today), "write_off")]
    return []  # unpaid, overdue: nothing happens (yet)


def _plan_cycle(
    rng: random.Random, people: list[_Customer], items: dict[str, int], cycle: int, issued: date, today: date
) -> list[_Planned]:
    billed = [c for c in people if c.first_cycle <= cycle]
    news = cycle == CYCLES - 1
    planned = [_Planned(c, _invoice_input(rng, c, items, issued, issued, news=news)) for c in billed]
    past_due = issued + timedelta(days=TERMS_DAYS) < today
    stories = PAST_STORIES if past_due else OPEN_STORIES
    if past_due and cycle == 0:
        stories = (*stories, ("written_off", WRITE_OFF_SHARE))
    for plan, story in zip(planned, _deck(rng, len(planned), stories, "paid" if past_due else "unpaid"), strict=True):
        plan.steps = _steps(rng, story, issued, today)
    if cycle == 0:
        for plan in planned[:EXAMPLE_INVOICES]:
            plan.steps = []  # left unpaid for examples/demo-payments.bgmax (their draws are kept)
    return planned


class _Timeline:
    """Actions in date order; on one day: issuing first, then money, then the overdue sweep."""

    ISSUE, MONEY, SWEEP = 0, 1, 2

    def __init__(self) -> None:
        self._heap: list[tuple[date, int, int, Callable[[], None]]] = []
        self._seq = 0

    def at(self, on: date, rank: int, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (on, rank, self._seq, action))

    def run(self) -> None:
        """Run every action; actions may schedule more (an issue schedules its invoices' stories)."""
        while self._heap:
            _, _, _, action = heapq.heappop(self._heap)
            action()


def _simulate(
    session: Session, tenant: Tenant, rng: random.Random, people: list[_Customer], items: dict[str, int], today: date
) -> list[Invoice]:
    billed: list[Invoice] = []
    timeline = _Timeline()
    bank = _Bank(session, tenant)
    for cycle, issued in enumerate(_billing_days(today)):
        planned = _plan_cycle(rng, people, items, cycle, issued, today)

        def issue(planned: list[_Planned] = planned, issued: date = issued) -> None:
            bank.settle()
            drafts = invoices.create_drafts(session, tenant, [p.data for p in planned], actor=ACTOR)
            invoices.issue(session, tenant, drafts, today=issued, actor=ACTOR)
            billed.extend(drafts)
            for plan, invoice in zip(planned, drafts, strict=True):
                for step in plan.steps:
                    action = _step_action(session, tenant, bank, plan.customer, invoice, step, billed)
                    timeline.at(step.on, _Timeline.MONEY, action)

        timeline.at(issued, _Timeline.ISSUE, issue)
        due = issued + timedelta(days=TERMS_DAYS)
        if due < today:
            sweep_on = due + timedelta(days=1)
            timeline.at(sweep_on, _Timeline.SWEEP, partial(_sweep, session, tenant, bank, sweep_on))
    timeline.run()
    _sweep(session, tenant, bank, today)
    return billed


def _sweep(session: Session, tenant: Tenant, bank: _Bank, on: date) -> None:
    bank.settle()
    invoices.mark_overdue(session, tenant, today=on, actor=ACTOR)


class _Bank:
    """The demo's past payments arrive as they do for a real issuer: in Bankgirot's BGMax files,
    read by the same import as ``kvitt import bgmax``. The payments of a day are gathered into one
    file, read before anything else happens (a credit, an issue, the overdue sweep), so the
    invoices' stories keep their order. Each payment's channel is the payer's way of paying
    (BGMax TK20 position 57, Bankgirot's BGMax manual): a company by supplier payment (2), a
    letter recipient mostly by a paper giro slip (3), everyone else in their internet bank (1);
    the Översikt's digital payment share follows from them (docs/reports.md)."""

    SERIALS = 800_000_000_000  # Bankgirot's serial numbers of these payments (today's file: 9…)

    def __init__(self, session: Session, tenant: Tenant) -> None:
        self.session, self.tenant = session, tenant
        self.day: date | None = None
        self.payments: list[bgmax.BgmaxPayment] = []
        self.count = 0

    def pay(self, on: date, customer: _Customer, invoice: Invoice, amount: int) -> None:
        if self.day != on:
            self.settle()
        self.day = on
        self.count += 1
        channel = 2 if customer.business else 3 if customer.delivery == "letter" and invoice.id % 5 < 3 else 1
        self.payments.append(
            bgmax.BgmaxPayment(
                kind="payment",
                payer_bankgiro="0000000000",
                reference=invoice.ocr or "",
                amount=amount,
                reference_code=2,
                channel=channel,
                bgc_serial=f"{self.SERIALS + self.count:012d}",
                has_image=channel == 3,
            )
        )

    def settle(self) -> None:
        """Read the gathered payments' file, as the worker reads the bank's files each morning."""
        if self.day is None or not self.payments:
            return
        _import_deposit(self.session, self.tenant, self.day, self.payments, f"demo-bgmax-{self.day.isoformat()}.txt")
        self.payments = []


def _step_action(
    session: Session,
    tenant: Tenant,
    bank: _Bank,
    customer: _Customer,
    invoice: Invoice,
    step: _Step,
    billed: list[Invoice],
) -> Callable[[], None]:
    def run() -> None:
        on = step.on
        if step.action == "pay":
            amount = _share(invoice.total, step.percent) if step.percent else invoice.remaining
            bank.pay(on, customer, invoice, amount)
            return
        bank.settle()
        if step.action == "credit_full":
            reason = FULL_CREDIT_REASONS[invoice.id % len(FULL_CREDIT_REASONS)]
            billed.append(invoices.credit(session, tenant, invoice, CreditIn(reason=reason), today=on, actor=ACTOR))
        elif step.action == "credit_amount":
            data = CreditIn(
                mode="amount", amount=_share(invoice.total, step.percent), reason="Kompensation för driftstörning"
            )
            billed.append(invoices.credit(session, tenant, invoice, data, today=on, actor=ACTOR))
        elif step.action == "credit_remaining":
            data = CreditIn(mode="remaining", reason="Kundens invändning godtagen")
            billed.append(invoices.credit(session, tenant, invoice, data, today=on, actor=ACTOR))
        elif step.action == "write_off":
            invoices.write_off(
                session, tenant, invoice, today=on, reason="Kunden saknar betalningsförmåga", actor=ACTOR
            )

    return run


def _share(total: int, percent: int | None) -> int:
    """``percent`` of ``total`` in whole kronor, at least 1 kr and less than the total."""
    amount = total * (percent or 0) // 100 // 100 * 100
    return min(max(amount, 100), total - 100)


def _drafts(
    session: Session, tenant: Tenant, rng: random.Random, people: list[_Customer], items: dict[str, int], today: date
) -> list[Invoice]:
    """Next month's invoices prepared for a few customers, not yet issued (dated when issued)."""
    chosen = rng.sample(people, k=min(len(people), max(1, round(0.04 * len(people)))))
    chosen.sort(key=lambda c: c.id)
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    inputs = [_invoice_input(rng, c, items, None, next_month, news=True) for c in chosen]
    return invoices.create_drafts(session, tenant, inputs, actor=ACTOR)
