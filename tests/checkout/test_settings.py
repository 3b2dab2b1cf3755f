"""Every bad KVITT_SWISH_* / KVITT_STRIPE_* value is one line that names it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kvitt.core.config import Settings, problems_of


def problems(**values: str) -> list[str]:
    try:
        Settings(database_url="sqlite://", **values)  # type: ignore[arg-type]
    except ValidationError as exc:
        return problems_of(exc)
    return []


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("swish_url", "cpc.getswish.net", "KVITT_SWISH_URL"),
        ("swish_cert", "/no/such/file.pem", "KVITT_SWISH_CERT"),
        ("swish_payee_alias", "123-118 11 89", "KVITT_SWISH_PAYEE_ALIAS"),
        ("stripe_api_base", "ftp://api.stripe.com", "KVITT_STRIPE_API_BASE"),
        ("stripe_card_page", "nowhere", "KVITT_STRIPE_CARD_PAGE"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(field: str, value: str, name: str) -> None:
    (line,) = problems(**{field: value})
    assert line.startswith(f"{name}=") and "\n" not in line


def test_a_key_file_without_a_key_is_refused(tmp_path: Path) -> None:
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("hello")
    (line,) = problems(swish_key=str(not_a_key))
    assert line.startswith("KVITT_SWISH_KEY=") and "private key" in line


def test_the_stripe_secrets_are_shown_masked() -> None:
    from kvitt.core.config import SECRET_FIELDS

    assert {"stripe_secret_key", "stripe_webhook_secret"} <= SECRET_FIELDS
