"""Request bodies of the Billogram client's own examples, as several tests send them."""

from __future__ import annotations

from typing import Any


def example3_customer() -> dict[str, Any]:
    """The customer of the client's example3 ("find or create"), a fresh dict each time."""
    return {
        "customer_no": 12345,
        "name": "Terkel Testsson",
        "contact": {"name": "Terkel Testsson", "email": "terkel@example.com"},
        "address": {
            "street_address": "Exempelgatan 123",
            "city": "Stockholm",
            "zipcode": "123 45",
            "country": "SE",
        },
        "company_type": "individual",
    }
