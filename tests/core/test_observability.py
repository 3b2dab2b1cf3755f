"""Request ids, JSON logs and the Prometheus metrics at /metrics (docs/operations.md)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from kvitt.core.db import Database, utcnow
from kvitt.core.logging import bound_job, bound_jobs, request_id_from
from kvitt.core.metrics import JOBS_RUN, REGISTRY
from kvitt.core.outbox import PENDING, OutboxJob, enqueue
from kvitt.delivery.models import Delivery
from kvitt.metrics import DatabaseCollector
from kvitt.worker import Worker
from tests.conftest import TENANT_A, Api
from tests.payments.test_bgmax_import import a_file, post_file


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def figures(db: Database) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in DatabaseCollector(db, cache_seconds=0).collect():
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_request_id_is_echoed_when_sane_and_made_up_otherwise(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.42"})
    assert given.headers["x-request-id"] == "lb-7f3a.42"
    made_up = client.get("/healthz")
    other = client.get("/healthz")
    assert len(made_up.headers["x-request-id"]) == 32
    assert made_up.headers["x-request-id"] != other.headers["x-request-id"]
    # A value that could forge log fields or lines is replaced, not logged.
    for hostile in ['a" injected="1', "x" * 129, "two words"]:
        assert request_id_from(hostile) != hostile
    assert request_id_from("x" * 128) == "x" * 128


def test_requests_counted_by_route_template_and_status(client: TestClient, api: Api) -> None:
    route = "/api/v1/customers/{customer_id}"
    before = samples(client.get("/metrics").text)
    assert api.get("/customers/999999").status_code == 404
    assert api.get("/customers/999998").status_code == 404
    assert client.get("/no/such/page/12345").status_code == 404
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("kvitt_http_requests_total", method="GET", route=route, status="404") == 2
    assert grew("kvitt_http_request_duration_seconds_count", method="GET", route=route, status="404") == 2
    assert grew("kvitt_http_request_duration_seconds_bucket", method="GET", route=route, status="404", le="+Inf") == 2
    # Raw paths never become labels: an unknown path is counted under one label.
    assert grew("kvitt_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert not any("999999" in str(labels) for _, labels in after)
    assert value(after, "kvitt_metrics_database_up") == 1


def test_jobs_deliveries_and_imports_read_from_the_database(api: Api, db: Database) -> None:
    assert value(figures(db), "kvitt_jobs_queue_age_seconds", kind="domain_event") == 0
    customer = api.post("/customers", {"customer_no": "1", "name": "Astrid Lindqvist", "email": "astrid@example.se"})
    lines = [{"description": "Abonnemang", "unit_price": 10000, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer.json()["id"], "lines": lines}).json()
    assert api.post(f"/invoices/{draft['id']}/issue").status_code == 200
    with db.transaction() as session:
        waiting = session.scalar(
            select(func.count()).where(OutboxJob.kind == "domain_event", OutboxJob.state == PENDING)
        )
        # One event has waited an hour past its time; another is not due before tomorrow.
        oldest = session.scalars(select(OutboxJob).where(OutboxJob.kind == "domain_event").limit(1)).one()
        oldest.run_at = utcnow() - timedelta(hours=1)
        enqueue(session, "domain_event", {}, tenant_id=api.tenant_id, run_at=utcnow() + timedelta(days=1))
    found = figures(db)
    assert waiting >= 1
    assert value(found, "kvitt_jobs", kind="domain_event", state="pending") == waiting + 1
    assert value(found, "kvitt_jobs_due", kind="domain_event") == waiting
    age = value(found, "kvitt_jobs_queue_age_seconds", kind="domain_event")
    assert 3600 <= age < 3600 + 600

    # The event job makes the email delivery; run everything due.
    with db.transaction() as session:
        session.execute(update(OutboxJob).where(OutboxJob.run_at > utcnow()).values(state="dead"))
    Worker(db, worker_id="metrics-test").run_until_idle()
    with db.transaction() as session:
        by_state = dict(
            session.execute(
                select(Delivery.state, func.count()).where(Delivery.channel == "email").group_by(Delivery.state)
            ).all()
        )
    assert sum(by_state.values()) >= 1
    found = figures(db)
    for state, count in by_state.items():
        assert value(found, "kvitt_deliveries", channel="email", state=state) == count
    assert value(found, "kvitt_jobs", kind="domain_event", state="dead") == 1

    bankgiro = TENANT_A["bankgiro"]
    assert (
        post_file(api, a_file(bankgiro, [(12500, "99999", "000000000001"), (300, "88888", "000000000002")])).status_code
        == 201
    )
    found = figures(db)
    assert value(found, "kvitt_bank_file_imports", format="bgmax", source="api", state="imported") == 1
    assert value(found, "kvitt_bank_file_payments", format="bgmax") == 2
    assert value(found, "kvitt_bank_file_last_import_timestamp_seconds", format="bgmax") > 0


def test_a_database_that_cannot_be_read_gives_up_0_not_a_failed_scrape(tmp_path: Any) -> None:
    broken = Database(f"sqlite:///{tmp_path}/empty.db")  # no tables
    found = figures(broken)
    broken.dispose()
    assert value(found, "kvitt_metrics_database_up") == 0
    assert not any(name == "kvitt_jobs" for name, _ in found)


def test_bound_job_counts_outcomes() -> None:
    def run(kind: str, outcome: str) -> float:
        return REGISTRY.get_sample_value("kvitt_jobs_run_total", {"kind": kind, "outcome": outcome}) or 0.0

    kind = "test.bound_job"
    with bound_job(1, kind):
        pass
    with bound_job(2, kind) as scope:
        scope.outcome = "retry"
    try:
        with bound_job(3, kind):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with bound_jobs([4, 5, 6], kind) as scope:
        scope.failed = 1
    assert (run(kind, "done"), run(kind, "retry"), run(kind, "failed")) == (3, 1, 2)
    assert JOBS_RUN.labels(kind, "done")._value.get() == 3


def test_json_logs_carry_request_and_job_ids(database_url: str) -> None:
    """A real process with KVITT_LOG_JSON: every line is one JSON object with its ids."""
    script = textwrap.dedent(
        f"""
        import logging
        import structlog
        from fastapi.testclient import TestClient
        from kvitt.app import create_app
        from kvitt.core.config import Settings
        from kvitt.core.logging import bound_job

        settings = Settings(database_url={database_url!r}, log_json=True, embedded_worker=False)
        app = create_app(settings)
        with TestClient(app) as client:
            client.get("/api/v1/customers", headers={{"X-Request-Id": "req-123"}})
        with bound_job(77, "delivery.send", 5):
            structlog.get_logger("kvitt.worker").warning("job failed, will retry", attempts=2)
            logging.getLogger("some.library").warning("from the standard library")
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    request = next(line for line in lines if line["event"] == "request")
    assert request["request_id"] == "req-123"
    assert request["route"] == "/api/v1/customers"
    assert request["status"] == 401
    job = next(line for line in lines if line["event"] == "job failed, will retry")
    assert (job["job_id"], job["job_kind"], job["tenant_id"], job["attempts"]) == (77, "delivery.send", 5, 2)
    library = next(line for line in lines if line["event"] == "from the standard library")
    assert (library["job_id"], library["logger"], library["level"]) == (77, "some.library", "warning")
    assert "request_id" not in job


def test_probes_and_good_provider_callbacks_log_at_debug_everything_else_at_info() -> None:
    """`kvitt run` must not flood: the SMS simulator's delivery reports alone were hundreds of
    request lines a minute. A failed callback still shows."""
    from kvitt.core.logging import request_log_level

    assert request_log_level("/livez", 200) == logging.DEBUG
    assert request_log_level("/callbacks/sms/abc", 204) == logging.DEBUG
    assert request_log_level("/callbacks/sms/abc", 404) == logging.INFO
    assert request_log_level("/callbacks/stripe", 400) == logging.INFO
    assert request_log_level("/api/v1/invoices", 200) == logging.INFO
    assert request_log_level("/i/token", 200) == logging.INFO
