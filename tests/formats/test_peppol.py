"""Peppol BIS Billing 3.0 UBL: every document the writer makes is valid against the official UBL 2.1
XSD and the EN 16931 and Peppol Schematron rules (tests/data/peppol, see its SOURCE.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from kvitt.formats import peppol
from tests.formats.peppol_rules import fatal, schematron_findings, xsd_errors

CBC = {"cbc": peppol.CBC, "cac": peppol.CAC}

SELLER = peppol.Party(
    name="Norrsken Telekom AB",
    endpoint_scheme="0007",
    endpoint_id="5560360793",
    address=peppol.Address("SE", "Hamngatan 3", None, "Luleå", "972 38"),
    legal_id="5560360793",
    legal_id_scheme="0007",
    vat_id="SE556036079301",
    f_skatt=True,
    email="kund@norrsken.example",
)
BUYER = peppol.Party(
    name="Fjällström Energi AB",
    endpoint_scheme="0007",
    endpoint_id="5560160680",
    address=peppol.Address("SE", "Kraftverksvägen 7", None, "Umeå", "903 26"),
    legal_id="5560160680",
    legal_id_scheme="0007",
)
LINES = [
    peppol.Line("Mobilabonnemang Fri", Decimal(1), 31600, 31600, 25, unit="mån", article_no="MOB-1"),
    peppol.Line("Extra surf 5 GB", Decimal(2), 4900, 9800, 25),
    peppol.Line("Tidning", Decimal(1), 8900, 8900, 6),
]
INVOICE = peppol.Document(
    kind="invoice",
    number="1001",
    issue_date=date(2026, 11, 25),
    currency="SEK",
    buyer_reference="2001",
    seller=SELLER,
    buyer=BUYER,
    lines=LINES,
    vat_groups=[peppol.VatGroup(25, 41400, 10350), peppol.VatGroup(6, 8900, 534)],
    rounding_ore=16,
    due_date=date(2026, 12, 25),
    payment=peppol.PaymentDetails(reference="10013", bankgiro="5050-1055"),
)
CREDIT_NOTE = replace(
    INVOICE,
    kind="credit_note",
    number="1002",
    due_date=None,
    payment=None,
    payment_terms="Kreditfaktura: inget att betala",
    credited_number="1001",
    credited_issue_date=date(2026, 11, 25),
)


def assert_valid(xml: bytes) -> None:
    assert xsd_errors(xml) == []
    findings = schematron_findings(xml)
    assert fatal(findings) == [], "\n".join(f"{f.id}: {f.text}" for f in findings)


def text(xml: bytes, path: str) -> list[str]:
    return [str(v) for v in etree.fromstring(xml).xpath(path, namespaces=CBC)]


def test_an_invoice_is_valid_ubl_and_passes_the_en16931_and_peppol_rules() -> None:
    xml = peppol.write(INVOICE)
    assert_valid(xml)
    assert schematron_findings(xml) == []  # not even a warning
    assert text(xml, "/*/cbc:CustomizationID/text()") == [peppol.CUSTOMIZATION_ID]
    assert text(xml, "/*/cbc:ProfileID/text()") == [peppol.PROFILE_ID]
    assert text(xml, "/*/cbc:InvoiceTypeCode/text()") == ["380"]


def test_a_credit_note_references_the_invoice_and_is_valid() -> None:
    xml = peppol.write(CREDIT_NOTE)
    assert_valid(xml)
    assert etree.QName(etree.fromstring(xml)).localname == "CreditNote"
    assert text(xml, "/*/cbc:CreditNoteTypeCode/text()") == ["381"]
    assert text(xml, "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()") == ["1001"]
    assert text(xml, "//cac:CreditNoteLine/cbc:CreditedQuantity/@unitCode") == ["MON", "C62", "C62"]


def test_swedish_seller_rules() -> None:
    """Peppol BIS 3.0 SE-R-003/004 (org number, 10 digits), SE-R-005 (F-skatt, scheme TAX), endpoint
    scheme 0007 (ICD: Swedish organisation number), SE-R-008/009/011 (bankgiro as digits, branch
    SE:BANKGIRO, payment means 30) with the OCR as PaymentID (BT-83)."""
    xml = peppol.write(INVOICE)
    party = "/*/cac:AccountingSupplierParty/cac:Party"
    assert text(xml, f"{party}/cbc:EndpointID/@schemeID") == ["0007"]
    assert text(xml, f"{party}/cac:PartyLegalEntity/cbc:CompanyID/text()") == ["5560360793"]
    assert text(xml, f"{party}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='TAX']/cbc:CompanyID/text()") == [
        "GODKÄND FÖR F-SKATT"
    ]
    means = "/*/cac:PaymentMeans"
    assert text(xml, f"{means}/cbc:PaymentMeansCode/text()") == ["30"]
    assert text(xml, f"{means}/cbc:PaymentID/text()") == ["10013"]
    assert text(xml, f"{means}/cac:PayeeFinancialAccount/cbc:ID/text()") == ["50501055"]
    assert text(xml, f"{means}/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID/text()") == [
        "SE:BANKGIRO"
    ]


def test_the_rules_catch_a_wrong_f_skatt_statement() -> None:
    """The validator is not a rubber stamp: SE-R-005 fires when the TAX scheme text is not the
    exact "Godkänd för F-skatt" (the rule checks the text whenever a TAX scheme is present)."""
    xml = peppol.write(INVOICE).replace("GODKÄND FÖR F-SKATT".encode(), b"F-SKATT")
    assert "SE-R-005" in {f.id for f in fatal(schematron_findings(xml))}


def test_the_rules_catch_inconsistent_totals() -> None:
    """BR-CO-15/16: a tampered payable amount is refused by the official rules."""
    xml = peppol.write(INVOICE).replace(
        b'<cbc:PayableAmount currencyID="SEK">612.00', b'<cbc:PayableAmount currencyID="SEK">611.00'
    )
    assert {"BR-CO-16"} <= {f.id for f in fatal(schematron_findings(xml))}


def test_oresavrundning_is_the_payable_rounding_amount() -> None:
    """EN 16931 BR-CO-16: payable (BT-115) = total with VAT (BT-112) − paid (BT-113) + rounding (BT-114)."""
    xml = peppol.write(INVOICE)
    totals = "/*/cac:LegalMonetaryTotal"
    assert text(xml, f"{totals}/cbc:TaxInclusiveAmount/text()") == ["611.84"]
    assert text(xml, f"{totals}/cbc:PayableRoundingAmount/text()") == ["0.16"]
    assert text(xml, f"{totals}/cbc:PayableAmount/text()") == ["612.00"]


def test_vat_is_given_per_rate_with_category_s() -> None:
    """BR-CO-17 and SE-R-006: VAT per (category, rate) group; S at 25, 12 and 6 %."""
    xml = peppol.write(INVOICE)
    subtotal = "/*/cac:TaxTotal/cac:TaxSubtotal"
    assert text(xml, f"{subtotal}/cbc:TaxableAmount/text()") == ["414.00", "89.00"]
    assert text(xml, f"{subtotal}/cbc:TaxAmount/text()") == ["103.50", "5.34"]
    assert text(xml, f"{subtotal}/cac:TaxCategory/cbc:ID/text()") == ["S", "S"]
    assert text(xml, "/*/cac:TaxTotal/cbc:TaxAmount/text()") == ["108.84"]


def test_an_exempt_line_a_discount_and_a_negative_line_are_valid() -> None:
    """0 % is category E with an exemption reason (BR-E-10); a discount is a line allowance with
    reason code 95 (PEPPOL-EN16931-R120: net = quantity × price − allowance); a negative price
    becomes a negative quantity (BR-27: the item price is not negative)."""
    lines = [
        peppol.Line("Medlemsavgift", Decimal(1), 50000, 50000, 0),
        peppol.Line("Router", Decimal("2.5"), 19900, 44775, 25),  # 10 % discount on 497.50
        peppol.Line("Avdrag kampanj", Decimal(1), -5000, -5000, 25),
    ]
    document = replace(
        INVOICE,
        lines=lines,
        vat_groups=[peppol.VatGroup(25, 39775, 9944), peppol.VatGroup(0, 50000, 0)],
        rounding_ore=-19,
    )
    xml = peppol.write(document)
    assert_valid(xml)
    assert text(xml, "//cac:InvoiceLine[2]/cac:AllowanceCharge/cbc:Amount/text()") == ["49.75"]
    assert text(xml, "//cac:InvoiceLine[3]/cbc:InvoicedQuantity/text()") == ["-1"]
    assert text(xml, "//cac:InvoiceLine[3]/cac:Price/cbc:PriceAmount/text()") == ["50.00"]
    assert text(xml, "//cac:TaxSubtotal[cac:TaxCategory/cbc:ID='E']/cac:TaxCategory/cbc:TaxExemptionReason/text()")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lines": []}, "at least one line"),
        ({"buyer_reference": " "}, "buyer reference"),
        ({"vat_groups": [peppol.VatGroup(25, 41400, 10350)]}, "no VAT group for the lines at 6 %"),
        ({"vat_groups": [peppol.VatGroup(25, 41300, 10325), peppol.VatGroup(6, 8900, 534)]}, "lines sum to 41400"),
        ({"kind": "credit_note"}, "must name the invoice it credits"),
        ({"lines": [peppol.Line("x", Decimal(1), 100, 100, 7)]}, "not a Swedish rate"),
        ({"lines": [peppol.Line("x", Decimal(1), 100, 200, 25)]}, "more than quantity × price"),
    ],
)
def test_what_cannot_be_a_valid_document_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(peppol.PeppolError, match=message):
        peppol.write(replace(INVOICE, **change))  # type: ignore[arg-type]


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


line_strategy = st.builds(
    lambda description, milli, price, discount_bp, rate: (description, milli, price, discount_bp, rate),
    st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "Zs")), min_size=1, max_size=40).filter(
        lambda s: s.strip()
    ),
    st.integers(min_value=1, max_value=100_000),
    st.integers(min_value=1, max_value=5_000_000),
    st.sampled_from([0, 0, 0, 1000, 2500]),
    st.sampled_from([25, 12, 6, 0]),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(line_strategy, min_size=1, max_size=6), st.booleans(), st.booleans())
def test_any_invoice_kvitt_can_price_is_valid(
    raw: list[tuple[str, int, int, int, int]], credit: bool, round_to_krona: bool
) -> None:
    """Lines priced the way Kvitt prices them (net per line, VAT per rate rounded half up, total
    rounded to kronor) always make a document that the official rules accept."""
    lines = []
    for description, milli, price, discount_bp, rate in raw:
        quantity = Decimal(milli) / 1000
        net = half_up(quantity * price * (10_000 - discount_bp) / 10_000)
        lines.append(peppol.Line(description, quantity, price, net, rate))
    nets: dict[int, int] = {}
    for line in lines:
        nets[line.vat_rate] = nets.get(line.vat_rate, 0) + line.net_ore
    groups = [peppol.VatGroup(rate, net, half_up(Decimal(net) * rate / 100)) for rate, net in nets.items()]
    exact = sum(nets.values()) + sum(g.vat_ore for g in groups)
    rounding = (half_up(Decimal(exact) / 100) * 100 - exact) if round_to_krona else 0
    document = replace(INVOICE, lines=lines, vat_groups=groups, rounding_ore=rounding)
    if credit:
        document = replace(CREDIT_NOTE, lines=lines, vat_groups=groups, rounding_ore=rounding)
    assert_valid(peppol.write(document))
