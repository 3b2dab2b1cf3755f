"""Many subscriptions at once, for benches and tests of billing runs at scale.

Written with ``bulk_insert`` (COPY on PostgreSQL) straight into the tables, because creating a
million subscriptions one API call at a time would measure the API, not the billing run. The rows
are what ``subscriptions.service.create`` would write for the same input.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from kvitt.core.db import bulk_insert, reserve_ids, utcnow
from kvitt.customers.models import Customer
from kvitt.subscriptions.models import Subscription, SubscriptionLine

LINES = (
    ("Mobil Fri", 29_900, 25),
    ("Surf 10 GB", 9_900, 25),
    ("Försäkring mobil", 4_900, 0),
)


def seed_subscriptions(
    session: Session, tenant_id: int, count: int, *, start: date, first_number: int = 1, lines: int = 3
) -> list[int]:
    """``count`` customers with one monthly subscription each (``lines`` lines), starting ``start``."""
    now = utcnow()
    customer_ids = reserve_ids(session, Customer, count)
    bulk_insert(
        session,
        Customer,
        [
            {
                "id": cid,
                "tenant_id": tenant_id,
                "customer_no": f"S{first_number + n}",
                "type": "individual",
                "name": f"Kund {first_number + n}",
                "email": f"kund{first_number + n}@example.se",
                "country": "SE",
                "delivery_method": "email",
                "language": "sv",
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for n, cid in enumerate(customer_ids)
        ],
    )
    sub_ids = reserve_ids(session, Subscription, count)
    bulk_insert(
        session,
        Subscription,
        [
            {
                "id": sid,
                "tenant_id": tenant_id,
                "customer_id": cid,
                "interval": "month",
                "anchor_date": start,
                "start_date": start,
                "end_date": None,
                "binding_until": None,
                "next_period_start": start,
                "payment_terms_days": None,
                "notes": None,
                "metadata": {},
                "canceled_at": None,
                "created_at": now,
                "updated_at": now,
            }
            for sid, cid in zip(sub_ids, customer_ids, strict=True)
        ],
    )
    line_rows: list[dict[str, Any]] = []
    for sid in sub_ids:
        for position, (text, price, vat) in enumerate(LINES[:lines], start=1):
            line_rows.append(
                {
                    "tenant_id": tenant_id,
                    "subscription_id": sid,
                    "position": position,
                    "item_id": None,
                    "description": text,
                    "quantity_milli": 1000,
                    "unit": "st",
                    "unit_price": price,
                    "vat_rate": vat,
                    "account": None,
                    "valid_from": start,
                    "valid_to": None,
                }
            )
    bulk_insert(session, SubscriptionLine, line_rows)
    return sub_ids
