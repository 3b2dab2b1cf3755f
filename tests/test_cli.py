"""The command line an operator uses: init, migrate, keys, jobs, overdue."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kvitt.cli import app

runner = CliRunner()


def test_init_prints_tenant_and_key_as_json_and_the_key_works(cli_env: str, client: object) -> None:
    result = runner.invoke(
        app, ["init", "--name", "Norrsken Telekom AB", "--org-number", "5560360793", "--bankgiro", "50501055", "--json"]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert set(created) == {"tenant_id", "api_key", "billogram_user"}  # billogram_user: /api/billogram/v2
    response = client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {created['api_key']}"})  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.json()["org_number"] == "556036-0793"
    assert response.json()["bankgiro"] == "5050-1055"
    assert response.json()["vat_number"] == "SE556036079301"


def test_init_refuses_an_invalid_org_number_with_a_clear_message(cli_env: str) -> None:
    result = runner.invoke(app, ["init", "--name", "X AB", "--org-number", "5560360794", "--bankgiro", "5050-1055"])
    assert result.exit_code == 2
    assert "org_number" in result.output and "organisation number" in result.output
    assert "Traceback" not in result.output


def test_tenant_option_is_needed_only_with_several_tenants(cli_env: str) -> None:
    runner.invoke(app, ["init", "--name", "A AB", "--org-number", "556036-0793", "--bankgiro", "5050-1055"])
    assert runner.invoke(app, ["keys", "list"]).exit_code == 0
    runner.invoke(app, ["init", "--name", "B AB", "--org-number", "556016-0680", "--bankgiro", "991-2346"])
    ambiguous = runner.invoke(app, ["keys", "list"])
    assert ambiguous.exit_code == 1 and "--tenant" in ambiguous.output
    assert runner.invoke(app, ["keys", "list", "--tenant", "556016-0680"]).exit_code == 0
    assert runner.invoke(app, ["keys", "list", "--tenant", "2"]).exit_code == 0


def test_revoked_key_is_refused(cli_env: str, client: object) -> None:
    created = json.loads(
        runner.invoke(
            app, ["init", "--name", "A AB", "--org-number", "556036-0793", "--bankgiro", "5050-1055", "--json"]
        ).output
    )
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert client.get("/api/v1/tenant", headers=headers).status_code == 200  # type: ignore[attr-defined]
    assert runner.invoke(app, ["keys", "revoke", "1"]).exit_code == 0
    assert client.get("/api/v1/tenant", headers=headers).status_code == 401  # type: ignore[attr-defined]


def test_jobs_list_and_overdue_run(cli_env: str) -> None:
    runner.invoke(app, ["init", "--name", "A AB", "--org-number", "556036-0793", "--bankgiro", "5050-1055"])
    result = runner.invoke(app, ["overdue", "--date", "2026-11-25"])
    assert result.exit_code == 0 and "0 invoices are now overdue" in result.output
    listing = runner.invoke(app, ["jobs"])
    assert listing.exit_code == 0 and "no jobs" in listing.output


def test_migrate_is_a_no_op_on_an_up_to_date_database(cli_env: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["migrate"]).exit_code == 0


def test_export_sie_writes_a_file_that_reads_back(cli_env: str, tmp_path: object) -> None:
    from pathlib import Path

    from kvitt.formats import sie4

    runner.invoke(app, ["init", "--name", "A AB", "--org-number", "556036-0793", "--bankgiro", "5050-1055"])
    target = Path(str(tmp_path)) / "out.se"
    result = runner.invoke(app, ["export", "sie", str(target), "--from", "2026-01-01", "--to", "2026-12-31"])
    assert result.exit_code == 0, result.output
    assert sie4.read(target.read_bytes()).company.org_number == "556036-0793"
    backwards = runner.invoke(app, ["export", "sie", str(target), "--from", "2026-12-31", "--to", "2026-01-01"])
    assert backwards.exit_code == 1 and "Traceback" not in backwards.output
