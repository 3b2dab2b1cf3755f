"""Paying on the spot from the web invoice: which methods are set up, their buttons and words.

Swish is offered when the tenant has a Swish number (or ``KVITT_SWISH_PAYEE_ALIAS`` is set) and
a Swish certificate (its own, or the installation's); card when ``KVITT_STRIPE_SECRET_KEY`` and the card page are set.
"""

from __future__ import annotations

from kvitt.checkout.swish import credentials_for
from kvitt.core.config import get_settings
from kvitt.tenants.models import Tenant

TEXTS_PAY: dict[str, dict[str, str]] = {
    "sv": {
        "pay_swish": "Betala med Swish",
        "pay_card": "Betala med kort",
        "title": "Betala faktura {number}",
        "to_pay": "Att betala",
        "swish_here": "Öppna Swish-appen eller visa QR-kod",
        "swish_phone": "Eller ange ditt mobilnummer, så skickas betalningen till din Swish-app",
        "phone": "Mobilnummer",
        "phone_hint": "Till exempel 070-123 45 67",
        "swish_send": "Skicka till Swish",
        "card_go": "Betala med kort",
        "preparing": "Betalningen förbereds …",
        "swish_approve": "Öppna Swish-appen på telefonen med nummer {phone} och godkänn betalningen.",
        "swish_open": "Öppna Swish",
        "swish_other": "Swish på en annan enhet? Skanna QR-koden med Swish-appen.",
        "swish_qr": "QR-kod för betalning med Swish",
        "card_open": "Till kortbetalningen",
        "card_waiting": "Betala på kortsidan. Den här sidan visar när betalningen är klar.",
        "paid": "Tack för din betalning.",
        "amount": "Belopp",
        "not_through": "Betalningen gick inte igenom.",
        "try_other": "Försök igen, eller välj ett annat sätt att betala.",
        "all_ways": "Alla sätt att betala",
        "ended": "Betalningen avbröts.",
        "back": "Tillbaka till fakturan",
        "not_available": "Det går inte att betala med Swish eller kort här just nu. "
        "Betala med bankgiro och OCR-nummer.",
        "bad_phone": "Ange ett svenskt mobilnummer, till exempel 070-123 45 67.",
        "nothing_to_pay": "Fakturan är redan betald.",
        "refused": "Något gick fel. Ladda om sidan och försök igen.",
        "card_declined": "Kortet nekades av banken.",
        "card_failed": "Kortbetalningen gick inte igenom.",
        "insufficient_funds": "Det finns inte tillräckligt med pengar på kortet.",
        "expired_card": "Kortet har gått ut.",
    },
    "en": {
        "pay_swish": "Pay with Swish",
        "pay_card": "Pay by card",
        "title": "Pay invoice {number}",
        "to_pay": "To pay",
        "swish_here": "Open the Swish app or show a QR code",
        "swish_phone": "Or enter your mobile number and the payment is sent to your Swish app",
        "phone": "Mobile number",
        "phone_hint": "For example 070-123 45 67",
        "swish_send": "Send to Swish",
        "card_go": "Pay by card",
        "preparing": "Preparing the payment …",
        "swish_approve": "Open the Swish app on the phone with number {phone} and approve the payment.",
        "swish_open": "Open Swish",
        "swish_other": "Swish on another device? Scan the QR code with the Swish app.",
        "swish_qr": "QR code for paying with Swish",
        "card_open": "Go to the card payment",
        "card_waiting": "Pay on the card page. This page shows when the payment is done.",
        "paid": "Thank you for your payment.",
        "amount": "Amount",
        "not_through": "The payment did not go through.",
        "try_other": "Try again, or choose another way to pay.",
        "all_ways": "All ways to pay",
        "ended": "The payment was cancelled.",
        "back": "Back to the invoice",
        "not_available": "Swish and card payments are not available here just now. "
        "Pay by bankgiro with the OCR number.",
        "bad_phone": "Enter a Swedish mobile number, for example 070-123 45 67.",
        "nothing_to_pay": "The invoice is already paid.",
        "refused": "Something went wrong. Reload the page and try again.",
        "card_declined": "The card was declined by the bank.",
        "card_failed": "The card payment did not go through.",
        "insufficient_funds": "There is not enough money on the card.",
        "expired_card": "The card has expired.",
    },
}


def methods_for(tenant: Tenant) -> list[str]:
    """The on-the-spot methods this installation and tenant have set up."""
    settings = get_settings()
    found = []
    if (tenant.swish_number or settings.swish_payee_alias) and credentials_for(tenant, settings).cert:
        found.append("swish")
    if settings.stripe_secret_key and settings.stripe_card_page:
        found.append("card")
    return found


def pay_url(token: str, link_lang: str | None = None, anchor: str = "") -> str:
    return f"/i/{token}/betala" + (f"?lang={link_lang}" if link_lang else "") + (f"#{anchor}" if anchor else "")


def pay_now_links(tenant: Tenant, token: str, lang: str, link_lang: str | None) -> list[dict[str, str]]:
    """The invoice page's buttons: "Betala med Swish", "Betala med kort"."""
    texts = TEXTS_PAY[lang]
    labels = {"swish": ("pay_swish", "swish"), "card": ("pay_card", "kort")}
    return [{"url": pay_url(token, link_lang, labels[m][1]), "label": texts[labels[m][0]]} for m in methods_for(tenant)]
