"""The demo tenant's engagement: two segments, two offers, an information block and a survey
that a newcomer sees on the demo's web invoices (``kvitt.demo`` calls :func:`seed`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.engagement import service
from kvitt.engagement.schemas import PlacementCreate
from kvitt.segments import service as segments
from kvitt.segments.schemas import SegmentCreate
from kvitt.tenants.models import Tenant


def seed(session: Session, tenant: Tenant) -> dict[str, Any]:
    private = segments.create(
        session,
        tenant,
        SegmentCreate.model_validate(
            {"name": "Privatkunder", "conditions": [{"field": "type", "op": "eq", "value": "individual"}]}
        ),
    )
    upgradeable = segments.create(
        session,
        tenant,
        SegmentCreate.model_validate(
            {
                "name": "Mobil Bas och Plus",
                "match": "all",
                "conditions": [
                    {"field": "attributes.plan", "op": "in", "value": ["MOB-BAS", "MOB-PLUS"]},
                    {"field": "type", "op": "eq", "value": "individual"},
                ],
            }
        ),
    )
    placements = [
        {
            "kind": "offer",
            "title": "Uppgradera till Mobil Fri",
            "title_en": "Upgrade to Mobil Fri",
            "text": "Fri surf i hela Norden för 99 kr mer i månaden. Första månaden utan extra kostnad.",
            "text_en": "Unlimited data across the Nordics for 99 kr more a month. The first month at no extra cost.",
            "url": "https://www.example.com/norrsken/uppgradera",
            "cta": "Uppgradera nu",
            "cta_en": "Upgrade now",
            "segments": [upgradeable.id],
            "priority": 10,
        },
        {
            "kind": "offer",
            "title": "Förnya ditt avtal – få rabatt",
            "title_en": "Renew your contract – get a discount",
            "text": "Förläng med 12 månader och få 20 % rabatt på månadsavgiften.",
            "text_en": "Extend by 12 months and get 20 % off the monthly fee.",
            "url": "https://www.example.com/norrsken/fornya",
            "cta": "Förnya avtalet",
            "cta_en": "Renew",
            "segments": [private.id],
            "priority": 20,
        },
        {
            "kind": "info",
            "title": "Ditt abonnemang",
            "title_en": "Your subscription",
            "text": "Du har {plan} och har varit kund hos oss sedan {customer_since}. Tack för att du är kund!",
            "text_en": "You have {plan} and have been with us since {customer_since}. Thank you for being a customer!",
            "segments": [private.id],
            "priority": 30,
        },
        {
            "kind": "survey",
            "title": "Hur nöjd är du med Norrsken Telekom?",
            "title_en": "How happy are you with Norrsken Telekom?",
            "survey": {"type": "rating"},
            "priority": 40,
            "cap_per_customer": 20,
        },
    ]
    for body in placements:
        service.create(session, tenant, PlacementCreate.model_validate(body))
    return {"segments": 2, "placements": len(placements)}
