"""What the payer is told at each step of a BankID order: BankID's recommended user messages
(RFA1-RFA23 of the integration guide) for each hint code and error code, in Swedish and English."""

from __future__ import annotations

RFA = {
    "sv": {
        "RFA1": "Starta BankID-appen.",
        "RFA3": "Åtgärden avbruten. Försök igen.",
        "RFA4": "En identifiering eller underskrift för det här personnumret är redan påbörjad. Försök igen.",
        "RFA5": "Internt tekniskt fel. Försök igen.",
        "RFA6": "Åtgärden avbruten.",
        "RFA8": (
            "BankID-appen svarar inte. Kontrollera att den är startad och att du har internetanslutning. "
            "Om du inte har något giltigt BankID kan du skaffa ett hos din bank. Försök sedan igen."
        ),
        "RFA9": "Skriv in din säkerhetskod i BankID-appen och välj Skriv under.",
        "RFA13": "Försöker starta BankID-appen.",
        "RFA15": "Söker efter BankID, det kan ta en liten stund …",
        "RFA16": (
            "Det BankID du försöker använda är för gammalt eller spärrat. Använd ett annat BankID eller "
            "skaffa ett nytt hos din bank."
        ),
        "RFA17": (
            "Misslyckades att läsa av QR-koden. Starta BankID-appen och läs av QR-koden. Kontrollera att "
            "BankID-appen är uppdaterad. Om du inte har BankID-appen måste du installera den och skaffa ett "
            "BankID hos din bank."
        ),
        "RFA22": "Okänt fel. Försök igen.",
    },
    "en": {
        "RFA1": "Start your BankID app.",
        "RFA3": "Action cancelled. Please try again.",
        "RFA4": "An identification or signing for this personal number is already started. Please try again.",
        "RFA5": "Internal error. Please try again.",
        "RFA6": "Action cancelled.",
        "RFA8": (
            "The BankID app is not responding. Please check that it is started and that you have internet "
            "access. If you don't have a valid BankID you can get one from your bank. Try again."
        ),
        "RFA9": "Enter your security code in the BankID app and select Sign.",
        "RFA13": "Trying to start your BankID app.",
        "RFA15": "Searching for BankID, it may take a little while …",
        "RFA16": (
            "The BankID you are trying to use is blocked or too old. Please use another BankID or get a new "
            "one from your bank."
        ),
        "RFA17": (
            "Failed to scan the QR code. Start the BankID app and scan the QR code. Check that the BankID app "
            "is up to date. If you don't have the BankID app, you need to install it and get a BankID from "
            "your bank."
        ),
        "RFA22": "Unknown error. Please try again.",
    },
}

# Hint codes of a pending order and of a failed one, and error codes, to their message.
PENDING = {"outstandingTransaction": "RFA1", "noClient": "RFA1", "started": "RFA15", "userSign": "RFA9"}
FAILED = {
    "userCancel": "RFA6",
    "cancelled": "RFA3",
    "expiredTransaction": "RFA8",
    "certificateErr": "RFA16",
    "startFailed": "RFA17",
}
ERRORS = {"alreadyInProgress": "RFA4", "internalError": "RFA5", "maintenance": "RFA5", "unreachable": "RFA5"}


def pending_message(hint_code: str | None, lang: str) -> str:
    return RFA[_lang(lang)][PENDING.get(hint_code or "", "RFA1")]


def failed_message(hint_code: str | None, lang: str) -> str:
    return RFA[_lang(lang)][FAILED.get(hint_code or "", "RFA22")]


def error_message(error_code: str, lang: str) -> str:
    return RFA[_lang(lang)][ERRORS.get(error_code, "RFA22")]


def _lang(lang: str) -> str:
    return lang if lang in RFA else "sv"
