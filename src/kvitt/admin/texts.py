"""The back office's words: written in Swedish in the templates and code (``_("Kunder")``), with
their English here. A text without an English entry shows in Swedish; a test finds every
``_("...")`` of the templates and the code and demands its English."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("sv", "en")
LOCALES = {"sv": "sv_SE", "en": "en_SE"}

CHANNEL_LABELS = {"email": "E-post", "sms": "SMS", "letter": "Brev", "einvoice": "E-faktura", "": ""}
STATE_LABELS = {
    "draft": "Utkast",
    "unpaid": "Obetald",
    "partly_paid": "Delbetald",
    "overdue": "Förfallen",
    "in_collection": "Hos inkasso",
    "paid": "Betald",
    "credited": "Krediterad",
    "written_off": "Avskriven",
}
STATE_TONES = {
    "draft": "info",
    "unpaid": "open",
    "partly_paid": "open",
    "overdue": "late",
    "in_collection": "late",
    "paid": "done",
    "credited": "done",
    "written_off": "done",
}

EN: dict[str, str] = {
    # the shell
    "Hoppa till innehållet": "Skip to content",
    "Back office": "Back office",
    "Huvudmeny": "Main menu",
    "Meny": "Menu",
    "Logga ut": "Log out",
    "Byt lösenord": "Change password",
    "Språk": "Language",
    "In English": "På svenska",
    "Inloggad som": "Logged in as",
    "Roll": "Role",
    "admin": "admin",
    "finance": "finance",
    "support": "support",
    "marketing": "marketing",
    "read_only": "read only",
    "Översikt": "Overview",
    "Kunder": "Customers",
    "Fakturor": "Invoices",
    "Avvikelser": "Deviations",
    "Meddelanden": "Messages",
    "Påminnelser och inkasso": "Reminders and collection",
    "Händelsekedjor": "Event chains",
    "Fakturering": "Billing",
    "Inställningar": "Settings",
    "API-nycklar": "API keys",
    "Webhooks": "Webhooks",
    "Användare": "Users",
    "Granskningslogg": "Audit log",
    # login and password
    "Logga in": "Log in",
    "E-postadress": "E-mail address",
    "Lösenord": "Password",
    "Fel e-postadress eller lösenord, eller för många försök. Vänta en stund och försök igen.": (
        "Wrong e-mail address or password, or too many attempts. Wait a while and try again."
    ),
    "Du är utloggad.": "You are logged out.",
    "Din session har gått ut. Logga in igen.": "Your session has expired. Log in again.",
    "Formuläret gick inte att skicka. Ladda om sidan och försök igen.": (
        "The form could not be sent. Reload the page and try again."
    ),
    "Nuvarande lösenord": "Current password",
    "Nytt lösenord": "New password",
    "Nytt lösenord igen": "New password again",
    "Minst 10 tecken.": "At least 10 characters.",
    "Välj ett eget lösenord innan du fortsätter.": "Choose a password of your own before you go on.",
    "Spara": "Save",
    "Lösenordet är bytt.": "The password has been changed.",
    "Fel lösenord.": "Wrong password.",
    "Lösenordet är för kort (minst 10 tecken).": "The password is too short (at least 10 characters).",
    "Lösenordet är för långt.": "The password is too long.",
    "Lösenorden är inte lika.": "The passwords differ.",
    "Välj ett annat lösenord än det nuvarande.": "Choose a password other than the current one.",
    # errors
    "Åtkomst nekad": "Access denied",
    "Din roll får inte öppna den här sidan eller göra det här.": "Your role may not open this page or do this.",
    "Hittades inte": "Not found",
    "Det finns inget sådant här.": "There is nothing like that here.",
    "Tillbaka till översikten": "Back to the overview",
    "Något behöver rättas": "Something needs correcting",
    "Sidan är inte byggd ännu": "This page is not built yet",
    "Den här delen av back office finns inte ännu. Det som går att göra här går att göra med API:t, se": (
        "This part of the back office does not exist yet. What it would do can be done with the API, see"
    ),
    "Dagens siffror visas här när nyckeltalen är på plats.": "Today's figures show here once the KPIs are in place.",
    "Genvägar": "Shortcuts",
    "Sök kund": "Find a customer",
    "Obesvarade meddelanden": "Unanswered messages",
    "Öppna avvikelser": "Open deviations",
    "Tillbaka": "Back",
    # states and channels
    "E-post": "E-mail",
    "SMS": "SMS",
    "Brev": "Letter",
    "E-faktura": "E-invoice",
    "Utkast": "Draft",
    "Obetald": "Unpaid",
    "Delbetald": "Partly paid",
    "Förfallen": "Overdue",
    "Hos inkasso": "In collection",
    "Betald": "Paid",
    "Krediterad": "Credited",
    "Avskriven": "Written off",
    # customers
    "Namn, kundnummer, person- eller organisationsnummer, e-post, telefon, fakturanummer eller OCR.": (
        "Name, customer number, personal or organisation number, e-mail, phone, invoice number or OCR."
    ),
    "Sök": "Search",
    "Träffar": "Results",
    "Kundnummer": "Customer number",
    "Namn": "Name",
    "Telefon": "Phone",
    "Kanal": "Channel",
    "Ingen kund matchar sökningen.": "No customer matches the search.",
    "Sparat.": "Saved.",
    "Uppgifter": "Details",
    "Person-/organisationsnummer": "Personal/organisation number",
    "Adress": "Address",
    "Saldo": "Balance",
    "Att betala": "To pay",
    "Tillgodo": "Credit",
    "Påminnelser": "Reminders",
    "Pausad": "Paused",
    "Avslutad paus": "Ended pause",
    "till": "until",
    "Inga pauser.": "No pauses.",
    "Åtgärder": "Actions",
    "Spara kontaktuppgifter": "Save contact details",
    "Pausa påminnelser: orsak": "Pause reminders: reason",
    "Till och med (valfritt)": "Until (optional)",
    "Pausa påminnelser": "Pause reminders",
    "Reskontra": "Ledger",
    "Datum": "Date",
    "Händelse": "Event",
    "Faktura": "Invoice",
    "Belopp": "Amount",
    "Inga bokningar.": "No entries.",
    "Betalningar": "Payments",
    "Källa": "Source",
    "Referens": "Reference",
    "Inga betalningar.": "No payments.",
    "Tidslinje": "Timeline",
    "Nummer": "Number",
    "Kund": "Customer",
    "Typ": "Type",
    "Fakturadatum": "Invoice date",
    "Förfallodatum": "Due date",
    "Status": "Status",
    "Kvar": "Remaining",
    "Kreditfaktura": "Credit note",
    "Inga fakturor.": "No invoices.",
    "Kunden": "The customer",
    "Vi": "We",
    "Inga meddelanden.": "No messages.",
    "Inga händelser.": "No events.",
}


def translator(lang: str) -> Callable[[str], str]:
    if lang == "en":
        return lambda text: EN.get(text, text)
    return lambda text: text
