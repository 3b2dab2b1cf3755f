"""The Dockerfile and compose.yaml, checked without a Docker engine (docs/operations.md).

CI has no Docker and no hadolint, so these tests read both files and hold them to what Kvitt
needs: compose.yaml is parsed with a YAML parser (anchors and merge keys resolved) and checked
for its services, images, ``KVITT_*`` names and values (through ``Settings`` itself), ordering
and health checks; the Dockerfile's instructions for a pinned base, a non-root user, the lock
file and the entrypoint. The simulators' commands are run for real. Where ``hadolint`` or
``docker`` is installed, they lint the files too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from kvitt.app import create_app
from kvitt.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def interpolate(value: str) -> str:
    """``${NAME:-default}`` as compose resolves it with NAME unset."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def is_kvitt(service: dict[str, Any]) -> bool:
    """A service of Kvitt's own image (built from this repository's Dockerfile)."""
    return "build" in service or str(service.get("image", "")).startswith("kvitt:")


def argv(service: dict[str, Any]) -> list[str]:
    """The command line a service runs: its entrypoint and command (Kvitt's image: ``kvitt serve``)."""
    default_entrypoint, default_command = (["kvitt"], ["serve"]) if is_kvitt(service) else ([], [])
    entrypoint = service.get("entrypoint", default_entrypoint)
    command = service.get("command", default_command)
    as_list = [entrypoint] if isinstance(entrypoint, str) else list(entrypoint)
    return [*as_list, *(shlex.split(command) if isinstance(command, str) else command)]


def kvitt_command(service: dict[str, Any]) -> str | None:
    """``serve``, ``worker``, ``migrate`` ... for a service running the kvitt CLI, else None."""
    line = argv(service)
    return line[1] if line[:1] == ["kvitt"] and len(line) > 1 else None


def option(line: list[str], name: str) -> str | None:
    return line[line.index(name) + 1] if name in line else None


def listening_port(name: str, service: dict[str, Any]) -> int:
    line = argv(service)
    if kvitt_command(service) == "serve":
        return int(service.get("environment", {}).get("KVITT_PORT", dockerfile_env()["KVITT_PORT"]))
    if option(line, "--port"):
        return int(option(line, "--port") or 0)
    known = {"postgres": 5432, "mailpit": 1025}
    return known[name]


def app_paths() -> set[str]:
    app = create_app(Settings(database_url="sqlite://", embedded_worker=False), embedded_worker=False)
    return {getattr(route, "path", "") for route in app.routes}


# --- compose.yaml -------------------------------------------------------------------------------


def test_compose_has_the_services_of_a_production_shape() -> None:
    found = services()
    commands = [kvitt_command(service) for service in found.values()]
    assert commands.count("serve") == 2, "two API processes"
    assert commands.count("worker") == 2, "two workers"
    assert commands.count("migrate") == 1
    assert any(str(s.get("image", "")).startswith("postgres:") for s in found.values())
    simulators = {
        module
        for service in found.values()
        for word in argv(service)
        if (module := word.split(":")[0]).startswith("kvitt.simulators.")
    }
    assert simulators == {
        "kvitt.simulators.sms_46elks",
        "kvitt.simulators.peppol_ap",
        "kvitt.simulators.collection_agency",
    }
    # Every provider simulator Kvitt ships (a module with an ASGI app) is run: a new one must be
    # added there. The mail catcher stands in for smtp_sink, the demo's own.
    shipped = {
        f"kvitt.simulators.{path.stem}"
        for path in (ROOT / "src" / "kvitt" / "simulators").glob("*.py")
        if re.search(r"^(app = |def create_app\()", path.read_text(), re.MULTILINE)
    }
    assert simulators == shipped


def test_every_service_has_a_pinned_image_or_builds_this_repository() -> None:
    for name, service in services().items():
        assert "image" in service or "build" in service, name
        image = str(service.get("image", ""))
        if image:
            repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
            assert tag, f"{name}: image {image!r} has no tag"
            assert tag != "latest", f"{name}: image {image!r} is not pinned"
            assert repository
        if "build" in service:
            build = service["build"]
            context = ROOT / (build["context"] if isinstance(build, dict) else build)
            assert (
                context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
            ).is_file()


def test_kvitt_settings_in_compose_exist_and_are_valid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    known = {f"KVITT_{name.upper()}" for name in Settings.model_fields}
    # Folders in the image: the Dockerfile makes them (owned by the user Kvitt runs as); here a
    # stand-in folder of the same name, since Settings checks that a folder exists.
    image_dirs = set(re.findall(r"/var/lib/kvitt/\w+", " ".join(rest for k, rest in instructions() if k == "RUN")))
    seen = 0
    for name, service in services().items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: environment as a mapping"
        kvitt_env = {key: interpolate(str(value)) for key, value in environment.items() if key.startswith("KVITT_")}
        for key, value in kvitt_env.items():
            if value.startswith("/var/lib/kvitt/"):
                assert value in image_dirs, f"{name}: {key}={value} is not made by the Dockerfile"
                kvitt_env[key] = str(tmp_path / value.strip("/"))
                Path(kvitt_env[key]).mkdir(parents=True, exist_ok=True)
        unknown = set(kvitt_env) - known
        assert not unknown, f"{name}: no such setting {sorted(unknown)} (src/kvitt/core/config.py)"
        if not kvitt_env:
            continue
        seen += 1
        # The values as Kvitt will read them: Settings validates each (ports, booleans, ...).
        for key in [key for key in os.environ if key.startswith("KVITT_")]:
            monkeypatch.delenv(key)
        for key, value in kvitt_env.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.embedded_worker is False, f"{name}: the workers are their own processes"
        assert settings.log_json is True, f"{name}: JSON logs"
    assert seen >= 5


def test_addresses_in_settings_name_services_and_their_ports() -> None:
    found = services()
    for name, service in found.items():
        environment = {key: interpolate(str(value)) for key, value in service.get("environment", {}).items()}
        targets = []
        for key in ("KVITT_DATABASE_URL", "KVITT_SMS_URL", "KVITT_PEPPOL_AP_URL"):
            if key in environment:
                url = urlsplit(environment[key])
                targets.append((key, url.hostname, url.port))
        if "KVITT_SMTP_HOST" in environment:
            targets.append(("KVITT_SMTP_HOST", environment["KVITT_SMTP_HOST"], int(environment["KVITT_SMTP_PORT"])))
        for key, host, port in targets:
            assert host in found, f"{name}: {key} names {host!r}, not a service"
            assert port == listening_port(str(host), found[str(host)]), f"{name}: {key} port {port}"
            if kvitt_command(service) in ("serve", "worker"):  # those that send mail, SMS, e-invoices
                depends = service.get("depends_on", {})
                assert host in depends, f"{name}: {key} names {host}, which it does not depend on"


def test_start_order_waits_for_a_healthy_database_and_the_migration() -> None:
    found = services()
    for name, service in found.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on with conditions"
        for other, rule in depends.items():
            assert other in found, f"{name} depends on {other}, no such service"
            condition = rule["condition"]
            if condition == "service_healthy":
                health = found[other].get("healthcheck", {})
                assert health.get("test") and not health.get("disable"), f"{name} waits for {other}'s health check"
            elif condition == "service_completed_successfully":
                assert found[other].get("restart") == "no", f"{other} runs once"
            else:
                raise AssertionError(f"{name}: {other} with condition {condition!r}")
        if kvitt_command(service) in ("serve", "worker"):
            assert depends["postgres"]["condition"] == "service_healthy", name
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
        if kvitt_command(service) == "migrate":
            assert depends["postgres"]["condition"] == "service_healthy"

    # No cycle: a start order exists.
    order: list[str] = []
    pending = dict(found)
    while pending:
        ready = [n for n, s in pending.items() if all(d in order for d in s.get("depends_on", {}))]
        assert ready, f"depends_on has a cycle among {sorted(pending)}"
        order.extend(sorted(ready))
        for n in ready:
            del pending[n]


def test_every_long_running_service_has_a_health_check_that_can_pass() -> None:
    paths = app_paths()
    for name, service in services().items():
        if service.get("restart") == "no":
            continue  # the one-shot migration
        health = service.get("healthcheck")
        assert health and health.get("test") and not health.get("disable"), f"{name}: no health check"
        test = health["test"]
        assert isinstance(test, list), f"{name}: health check in exec form"
        assert test[0] in ("CMD", "CMD-SHELL"), name
        text = " ".join(test[1:])
        for url in re.findall(r"https?://[^'\" ]+", text):
            parsed = urlsplit(url)
            assert parsed.port == listening_port(name, service), f"{name}: checks port {parsed.port}"
            assert parsed.path in paths, f"{name}: checks {parsed.path}, which Kvitt does not serve"
        for port in re.findall(r"create_connection\(\('127\.0\.0\.1', (\d+)\)", text):
            assert int(port) == listening_port(name, service), f"{name}: checks port {port}"
        if test[1] == "python":
            compile(test[3], f"{name} health check", "exec")  # the one-liner is valid Python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("name", ["sms-46elks", "peppol-ap", "collection-agency"])
def test_simulator_services_start_as_written(name: str) -> None:
    """The simulators' compose commands, run here on loopback: they import, bind and answer."""
    service = services()[name]
    line = argv(service)
    assert line[:2] == ["python", "-m"]
    port = free_port()
    line[line.index("--host") + 1] = "127.0.0.1"
    line[line.index("--port") + 1] = str(port)
    process = subprocess.Popen([sys.executable, *line[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                assert time.monotonic() < deadline, f"{name} did not listen"
                time.sleep(0.2)
        # The health check as compose runs it, against the real server.
        check = service["healthcheck"]["test"]
        code = check[3].replace(str(listening_port(name, service)), str(port))
        assert subprocess.run([sys.executable, "-c", code], timeout=30, check=False).returncode == 0
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- Dockerfile ---------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    result: list[tuple[str, str]] = []
    logical = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, rest = logical.partition(" ")
        result.append((keyword.upper(), rest.strip()))
        logical = ""
    assert not logical, "a continued line never ends"
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stages()[-1]:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def base_images() -> list[str]:
    args = {}
    for keyword, rest in instructions():
        if keyword == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key] = value
    images = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            image = rest.split()[0]
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return images


def test_base_images_are_slim_python_311_and_pinned() -> None:
    images = base_images()
    assert images
    for image in images:
        repository, _, tag = image.partition(":")
        assert repository == "python", image
        assert tag and tag != "latest", f"{image} is not pinned"
        assert re.match(r"^3\.11\.\d+-slim", tag), f"{image}: a patch-pinned slim Python 3.11"


def test_final_stage_runs_as_a_non_root_user() -> None:
    final = stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    # Nothing runs as root after the switch, and the user is created in this stage.
    after = [keyword for keyword, _ in final[[k for k, _ in final].index("USER") :]]
    assert "RUN" not in after
    assert any(keyword == "RUN" and "useradd" in rest and user in rest for keyword, rest in final)


def test_dependencies_come_from_the_lock_file_and_no_dev_extras() -> None:
    runs = [rest for keyword, rest in instructions() if keyword == "RUN"]
    installs = [part for rest in runs for part in rest.split("&&") if "pip install" in part]
    assert installs
    for install in installs:
        words = shlex.split(install)
        assert "--constraint" in words or "-c" in words or "--requirement" in words, install
        lock = option(words, "--constraint") or option(words, "-c") or option(words, "--requirement")
        assert lock == "requirements.lock", install
        assert "[dev]" not in install and "[bench]" not in install, install
        assert "--upgrade" not in words and "-U" not in words, install
    copies = [rest for keyword, rest in instructions() if keyword == "COPY" and "--from" not in rest]
    copied = {source for rest in copies for source in shlex.split(rest)[:-1]}
    assert "requirements.lock" in copied
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert not copied & ignored, "a copied path is excluded by .dockerignore"
    assert {".venv", ".git", ".env"} <= ignored


def test_entrypoint_is_kvitt_serve_with_a_health_check() -> None:
    final = dict(stages()[-1])  # the last of each instruction
    entrypoint = yaml.safe_load(final["ENTRYPOINT"])
    command = yaml.safe_load(final["CMD"])
    assert [*entrypoint, *command] == ["kvitt", "serve"]
    env = dockerfile_env()
    assert env["KVITT_HOST"] == "0.0.0.0"
    assert final["EXPOSE"] == env["KVITT_PORT"]
    assert env["KVITT_EMBEDDED_WORKER"] == "false"
    assert (
        not set(env)
        - {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
        - {f"KVITT_{name.upper()}" for name in Settings.model_fields}
    )
    health = final["HEALTHCHECK"]
    url = urlsplit(re.findall(r"https?://[^'\" ]+", health)[0])
    assert str(url.port) == env["KVITT_PORT"]
    assert url.path in app_paths()


def test_no_latest_tags_anywhere() -> None:
    assert ":latest" not in DOCKERFILE.read_text()
    assert ":latest" not in COMPOSE.read_text()


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed")
def test_hadolint() -> None:
    done = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not has_compose(), reason="docker compose is not installed")
def test_docker_compose_config() -> None:
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
