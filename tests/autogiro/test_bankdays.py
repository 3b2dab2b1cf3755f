"""Swedish banking days (Lag 1989:253 om allmänna helgdagar, plus the eves banks keep closed)."""

from __future__ import annotations

from datetime import date

from kvitt.autogiro import bankdays


def test_easter_of_known_years() -> None:
    # Easter Sunday as the almanac gives it.
    assert [bankdays.easter_sunday(y) for y in (2024, 2025, 2026, 2027)] == [
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2027, 3, 28),
    ]


def test_the_bank_holidays_of_2026() -> None:
    assert sorted(bankdays.bank_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 3),  # långfredagen
        date(2026, 4, 6),  # annandag påsk
        date(2026, 5, 1),
        date(2026, 5, 14),  # Kristi himmelsfärdsdag
        date(2026, 6, 6),  # nationaldagen (a Saturday in 2026)
        date(2026, 6, 19),  # midsommarafton
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2026, 12, 31),
    ]


def test_counting_banking_days() -> None:
    assert bankdays.next_banking_day(date(2026, 4, 3)) == date(2026, 4, 7)  # Good Friday -> Tuesday
    assert bankdays.banking_days_before(date(2026, 4, 7), 1) == date(2026, 4, 2)
    assert bankdays.banking_days_before(date(2026, 12, 28), 2) == date(2026, 12, 22)
    assert bankdays.banking_days_after(date(2026, 6, 18), 1) == date(2026, 6, 22)  # over midsummer
    assert not bankdays.is_banking_day(date(2026, 3, 28)) and bankdays.is_banking_day(date(2026, 3, 30))
