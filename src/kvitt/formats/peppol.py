"""Peppol BIS Billing 3.0 Invoice and CreditNote in UBL 2.1: a pure writer (lxml, no I/O).

Sources: OpenPeppol "Peppol BIS Billing 3.0" (the syntax binding and its rules, including the
Swedish rules SE-R-001..012), EN 16931-1 (business rules BR-*, BR-CO-*, BR-S-*, BR-E-*), the
OASIS UBL 2.1 schemas (element order). The tests validate the output against the UBL 2.1 XSD and
the compiled EN 16931 and Peppol Schematron rules.

Amounts come in as öre (integers) and are written as decimals with two places, built from the
integers. A credit note is written with positive amounts (the document type carries the sign,
EN 16931 BT-3 = 381); the caller gives credit-note figures positive.

What the writer decides:

- VAT is given per rate (the figures the invoice was issued with: VAT is summed per rate, not
  per line, BR-CO-17); every line's rate must have its group and each group's taxable amount must
  equal the sum of its lines' nets (BR-CO-10 ... BR-S-08), or the writer refuses.
- Category ``S`` (standard rated) for 25, 12 and 6 % (SE-R-006), ``E`` (exempt, with a reason,
  BR-E-10) for 0 %.
- The seller states ``GODKÄND FÖR F-SKATT`` as a company id in a tax scheme ``TAX`` when it is
  approved for F-skatt (SE-R-005); its organisation number is the legal registration id, ten
  digits (SE-R-003/004), and its Peppol endpoint with scheme ``0007`` (the ICD of Swedish
  organisation numbers, Peppol code list "Participant identifier schemes").
- Bankgiro or plusgiro: payment means 30 (credit transfer, SE-R-011/012) with the account as
  digits (SE-R-007..010) and the branch ``SE:BANKGIRO``/``SE:PLUSGIRO``; the OCR is the
  ``PaymentID`` (BT-83).
- Öresavrundning is ``PayableRoundingAmount`` (BT-114): payable = total incl. VAT + rounding
  (BR-CO-16).
- A line with a discount states its price before the discount and an allowance with reason code
  95 (UNCL 5189 "Discount") for the difference, so that net = quantity × price − allowance
  (PEPPOL-EN16931-R120). A negative unit price (a discount line) is written as a negative
  quantity at a positive price (BR-27: the item price is never negative).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from lxml import etree

from kvitt.formats.qr_invoice import amount_text

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
INVOICE_TYPE = "380"  # UNCL 1001: commercial invoice
CREDIT_NOTE_TYPE = "381"  # UNCL 1001: credit note
SWEDISH_ORG_SCHEME = "0007"  # ISO 6523 ICD: Swedish organisation number (Bolagsverket)
F_SKATT_TEXT = "GODKÄND FÖR F-SKATT"
CREDIT_TRANSFER = "30"  # UNCL 4461
DISCOUNT_REASON_CODE = "95"  # UNCL 5189
EXEMPT_REASON = "Momsfri omsättning enligt mervärdesskattelagen"
SWEDISH_STANDARD_RATES = (25, 12, 6)

NS = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# UN/ECE Recommendation 20 unit codes for the units Swedish invoices use; anything else is "C62" (one).
UNIT_CODES = {
    "st": "H87",
    "styck": "H87",
    "mån": "MON",
    "månad": "MON",
    "år": "ANN",
    "dag": "DAY",
    "dygn": "DAY",
    "tim": "HUR",
    "timme": "HUR",
    "h": "HUR",
    "kwh": "KWH",
    "mwh": "MWH",
    "gb": "E34",
    "mb": "4L",
    "kg": "KGM",
    "m": "MTR",
    "m3": "MTQ",
    "l": "LTR",
}


class PeppolError(ValueError):
    """Data that cannot make a valid Peppol BIS Billing 3.0 document."""


@dataclass(frozen=True)
class Address:
    country: str
    street: str | None = None
    additional_street: str | None = None
    city: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class Party:
    name: str
    endpoint_scheme: str
    endpoint_id: str
    address: Address
    legal_id: str | None = None  # the organisation number, digits only
    legal_id_scheme: str | None = None
    vat_id: str | None = None  # "SE" + 12 digits
    f_skatt: bool = False  # the seller only
    email: str | None = None


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price_ore: int  # excluding VAT, before any discount
    net_ore: int  # quantity × unit price − discount, rounded to öre
    vat_rate: int
    unit: str | None = None
    article_no: str | None = None


@dataclass(frozen=True)
class VatGroup:
    rate: int
    taxable_ore: int
    vat_ore: int


@dataclass(frozen=True)
class PaymentDetails:
    reference: str | None = None  # the OCR number
    bankgiro: str | None = None
    plusgiro: str | None = None


@dataclass(frozen=True)
class Document:
    kind: Literal["invoice", "credit_note"]
    number: str
    issue_date: date
    currency: str
    buyer_reference: str
    seller: Party
    buyer: Party
    lines: list[Line]
    vat_groups: list[VatGroup]
    rounding_ore: int = 0
    due_date: date | None = None
    payment: PaymentDetails | None = None
    notes: list[str] = field(default_factory=list)
    payment_terms: str | None = None
    credited_number: str | None = None  # a credit note: the invoice it credits
    credited_issue_date: date | None = None


def category_of(rate: int) -> str:
    """The EN 16931 VAT category code (UNCL 5305) Kvitt uses for a Swedish rate."""
    if rate in SWEDISH_STANDARD_RATES:
        return "S"
    if rate == 0:
        return "E"
    raise PeppolError(f"VAT rate {rate} % is not a Swedish rate (25, 12, 6 or 0)")


def unit_code(unit: str | None) -> str:
    return UNIT_CODES.get((unit or "").strip().lower(), "C62")


def write(document: Document) -> bytes:
    """The document as UBL 2.1 XML (UTF-8, with declaration)."""
    _check(document)
    root_name = "Invoice" if document.kind == "invoice" else "CreditNote"
    # The document namespace is the default one (lxml-stubs types nsmap keys as str only).
    nsmap = {None: NS[root_name], "cac": CAC, "cbc": CBC}
    root = etree.Element(f"{{{NS[root_name]}}}{root_name}", nsmap=nsmap)  # type: ignore[arg-type]
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", document.number)
    _cbc(root, "IssueDate", document.issue_date.isoformat())
    if document.kind == "invoice":
        if document.due_date is not None:
            _cbc(root, "DueDate", document.due_date.isoformat())
        _cbc(root, "InvoiceTypeCode", INVOICE_TYPE)
    else:
        _cbc(root, "CreditNoteTypeCode", CREDIT_NOTE_TYPE)
    for note in document.notes:
        _cbc(root, "Note", note)
    _cbc(root, "DocumentCurrencyCode", document.currency)
    _cbc(root, "BuyerReference", document.buyer_reference)
    if document.credited_number is not None:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", document.credited_number)
        if document.credited_issue_date is not None:
            _cbc(reference, "IssueDate", document.credited_issue_date.isoformat())
    _party(_cac(root, "AccountingSupplierParty"), document.seller, seller=True)
    _party(_cac(root, "AccountingCustomerParty"), document.buyer, seller=False)
    _payment_means(root, document)
    if document.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", document.payment_terms)
    _tax_total(root, document)
    _monetary_total(root, document)
    for position, line in enumerate(document.lines, start=1):
        _line(root, document, position, line)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


# --- the parts, in the order UBL 2.1 declares them ------------------------------------------------


def _party(parent: etree._Element, party: Party, *, seller: bool) -> None:
    node = _cac(parent, "Party")
    _cbc(node, "EndpointID", party.endpoint_id, schemeID=party.endpoint_scheme)
    _cbc(_cac(node, "PartyName"), "Name", party.name)
    address = _cac(node, "PostalAddress")
    _cbc_opt(address, "StreetName", party.address.street)
    _cbc_opt(address, "AdditionalStreetName", party.address.additional_street)
    _cbc_opt(address, "CityName", party.address.city)
    _cbc_opt(address, "PostalZone", party.address.postal_code)
    _cbc(_cac(address, "Country"), "IdentificationCode", party.address.country)
    if party.vat_id:
        _tax_scheme(node, party.vat_id, "VAT")
    if seller and party.f_skatt:
        _tax_scheme(node, F_SKATT_TEXT, "TAX")
    legal = _cac(node, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    if party.legal_id:
        if party.legal_id_scheme:
            _cbc(legal, "CompanyID", party.legal_id, schemeID=party.legal_id_scheme)
        else:
            _cbc(legal, "CompanyID", party.legal_id)
    if party.email:
        _cbc(_cac(node, "Contact"), "ElectronicMail", party.email)


def _tax_scheme(party: etree._Element, company_id: str, scheme: str) -> None:
    node = _cac(party, "PartyTaxScheme")
    _cbc(node, "CompanyID", company_id)
    _cbc(_cac(node, "TaxScheme"), "ID", scheme)


def _payment_means(root: etree._Element, document: Document) -> None:
    payment = document.payment
    if payment is None or not (payment.bankgiro or payment.plusgiro):
        return
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", CREDIT_TRANSFER)
    if payment.reference:
        _cbc(means, "PaymentID", payment.reference)
    account = _cac(means, "PayeeFinancialAccount")
    if payment.bankgiro:
        _cbc(account, "ID", _digits(payment.bankgiro))
        branch = "SE:BANKGIRO"
    else:
        _cbc(account, "ID", _digits(payment.plusgiro or ""))
        branch = "SE:PLUSGIRO"
    _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", branch)


def _tax_total(root: etree._Element, document: Document) -> None:
    total = _cac(root, "TaxTotal")
    _amount(total, "TaxAmount", sum(g.vat_ore for g in document.vat_groups), document.currency)
    for group in sorted(document.vat_groups, key=lambda g: -g.rate):
        subtotal = _cac(total, "TaxSubtotal")
        _amount(subtotal, "TaxableAmount", group.taxable_ore, document.currency)
        _amount(subtotal, "TaxAmount", group.vat_ore, document.currency)
        _tax_category(subtotal, "TaxCategory", group.rate, with_reason=True)


def _tax_category(parent: etree._Element, name: str, rate: int, *, with_reason: bool) -> None:
    category = category_of(rate)
    node = _cac(parent, name)
    _cbc(node, "ID", category)
    _cbc(node, "Percent", str(rate))
    if with_reason and category == "E":
        _cbc(node, "TaxExemptionReason", EXEMPT_REASON)
    _cbc(_cac(node, "TaxScheme"), "ID", "VAT")


def _monetary_total(root: etree._Element, document: Document) -> None:
    net = sum(line.net_ore for line in document.lines)
    vat = sum(g.vat_ore for g in document.vat_groups)
    node = _cac(root, "LegalMonetaryTotal")
    _amount(node, "LineExtensionAmount", net, document.currency)
    _amount(node, "TaxExclusiveAmount", net, document.currency)
    _amount(node, "TaxInclusiveAmount", net + vat, document.currency)
    if document.rounding_ore:
        _amount(node, "PayableRoundingAmount", document.rounding_ore, document.currency)
    _amount(node, "PayableAmount", net + vat + document.rounding_ore, document.currency)


def _line(root: etree._Element, document: Document, position: int, line: Line) -> None:
    invoice = document.kind == "invoice"
    node = _cac(root, "InvoiceLine" if invoice else "CreditNoteLine")
    _cbc(node, "ID", str(position))
    quantity, price = _positive_price(line)
    _cbc(
        node, "InvoicedQuantity" if invoice else "CreditedQuantity", _quantity(quantity), unitCode=unit_code(line.unit)
    )
    _amount(node, "LineExtensionAmount", line.net_ore, document.currency)
    allowance = _gross_ore(quantity, price) - line.net_ore
    if allowance:
        charge = _cac(node, "AllowanceCharge")
        _cbc(charge, "ChargeIndicator", "false")
        _cbc(charge, "AllowanceChargeReasonCode", DISCOUNT_REASON_CODE)
        _cbc(charge, "AllowanceChargeReason", "Rabatt")
        _amount(charge, "Amount", allowance, document.currency)
    item = _cac(node, "Item")
    _cbc(item, "Name", _item_name(line.description))
    if line.article_no:
        _cbc(_cac(item, "SellersItemIdentification"), "ID", line.article_no)
    _tax_category(item, "ClassifiedTaxCategory", line.vat_rate, with_reason=False)
    _amount(_cac(node, "Price"), "PriceAmount", price, document.currency)


# --- checks ----------------------------------------------------------------------------------------


def _check(document: Document) -> None:
    if not document.lines:
        raise PeppolError("a document needs at least one line (BR-16)")
    if not document.buyer_reference.strip():
        raise PeppolError("the buyer reference is empty (PEPPOL-EN16931-R003)")
    if document.kind == "credit_note" and document.credited_number is None:
        raise PeppolError("a credit note must name the invoice it credits")
    groups = {g.rate: g for g in document.vat_groups}
    if len(groups) != len(document.vat_groups):
        raise PeppolError("two VAT groups with the same rate")
    line_nets: dict[int, int] = {}
    for index, line in enumerate(document.lines, start=1):
        category_of(line.vat_rate)
        if not line.quantity.is_finite() or abs(line.quantity) >= MAX_QUANTITY:
            raise PeppolError(f"line {index}: quantity {line.quantity} is not a finite number below {MAX_QUANTITY}")
        line_nets[line.vat_rate] = line_nets.get(line.vat_rate, 0) + line.net_ore
        if _gross_ore(*_positive_price(line)) < line.net_ore:
            raise PeppolError(f"line {index}: the net is more than quantity × price")
    for rate, net in line_nets.items():
        if rate not in groups:
            raise PeppolError(f"no VAT group for the lines at {rate} %")
        if groups[rate].taxable_ore != net:
            raise PeppolError(f"VAT group {rate} %: taxable {groups[rate].taxable_ore} öre, lines sum to {net} öre")
    for rate in groups:
        if rate not in line_nets:
            raise PeppolError(f"VAT group {rate} % has no lines")
        if category_of(rate) == "E" and groups[rate].vat_ore != 0:
            raise PeppolError("an exempt (0 %) group carries no VAT (BR-E-09)")
    if document.seller.f_skatt and document.seller.address.country == "SE" and not document.seller.vat_id:
        raise PeppolError("the seller's VAT number is missing (SE-R-005 needs it beside F-skatt)")


# --- small helpers ---------------------------------------------------------------------------------


MAX_QUANTITY = Decimal(10) ** 12  # far above any invoice line; keeps quantity × price exact


def _positive_price(line: Line) -> tuple[Decimal, int]:
    """Quantity and price with the price made positive (BR-27) and the sign moved to the quantity."""
    if line.unit_price_ore < 0:
        return -line.quantity, -line.unit_price_ore
    return line.quantity, line.unit_price_ore


def _gross_ore(quantity: Decimal, price_ore: int) -> int:
    try:
        return int((quantity * price_ore).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:  # more digits than a Decimal context holds
        raise PeppolError(f"quantity {quantity} × price {price_ore} öre is too large") from None


def _quantity(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f")


def _item_name(description: str) -> str:
    # BT-153 is a single line; long descriptions stay readable in the first line.
    return " ".join(description.split()) or "-"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _amount(parent: etree._Element, name: str, ore: int, currency: str) -> etree._Element:
    return _cbc(parent, name, amount_text(ore), currencyID=currency)


def _cbc(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    try:
        node = etree.SubElement(parent, f"{{{CBC}}}{name}", attrib=attributes or None)
        node.text = text
    except ValueError:  # lxml: NUL and control characters cannot be XML text
        raise PeppolError(f"{name}: {text!r} {attributes or ''} holds characters XML cannot carry") from None
    return node


def _cbc_opt(parent: etree._Element, name: str, text: str | None) -> None:
    if text:
        _cbc(parent, name, text)


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC}}}{name}")
