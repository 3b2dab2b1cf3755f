"""Schemathesis drives every operation in the OpenAPI document with generated input.

No input may cause a server error, and every response must match the documented schema
(status codes, content types, bodies).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from kvitt.core.db import Database
from tests.conftest import TENANT_A, make_tenant

CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


def test_no_generated_input_breaks_the_api(app: Any, db: Database) -> None:
    _, key = make_tenant(db, **TENANT_A)
    headers = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        exercise()
