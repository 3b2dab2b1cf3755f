"""The README's walkthrough ("Use it"), run as written against a fresh `kvitt run`.

`kvitt run` starts on a free port with a new SQLite database, as `make run` does on a fresh
clone: it migrates, seeds the demo (1,000 customers), prints the key and serves with the worker
and the local delivery sinks inside. Then every command of the README's shell block runs in
bash, as written, from the repository's root. The only substitutions are the ones the README
asks the reader to make: the key ``make run`` printed, the address it serves on, and each
``NAME=<id>  # the id it answered`` line takes the id the call before it answered.

After each command the ``# → ...`` line under it is checked against the answer: for JSON, every
``"key": value`` it shows must be in the answer with that value (ids, numbers, OCR references,
dates and links are the reader's own, so only their presence is checked); for other output,
the text between the ``...`` must appear in that order.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
KVITT = Path(sys.executable).with_name("kvitt")
README_BASE = "http://127.0.0.1:8000"
# Fields whose values are the reader's own: only their presence is checked.
OWN = {"id", "number", "ocr", "due_date", "url", "invoice_date"}
ANSWERED = re.compile(r"^(?P<name>[A-Z_]+)=(?P<value>\d+)\s+# the id it answered$")
PAIR = re.compile(r'"(?P<key>\w+)": (?P<value>-?\d+|"[^"]*"|true|false|null)')

pytestmark = pytest.mark.skipif(
    os.environ.get("KVITT_TEST_DB", "sqlite") != "sqlite",
    reason="the walkthrough is the embedded default: a fresh SQLite database (make run)",
)


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def walkthrough(text: str) -> list[Step]:
    """The shell block of the README's "Use it" section as commands, each with its "# →" lines."""
    section = text.split("## Use it", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    steps: list[Step] = []
    pending = ""
    for line in block.splitlines():
        if pending:
            line = pending + "\n" + line
            pending = ""
        if line.endswith("\\"):
            pending = line
            continue
        stripped = line.strip()
        if stripped.startswith("# →"):
            steps[-1].expected.append(stripped.removeprefix("# →").strip())
        elif stripped and not stripped.startswith("#"):
            steps.append(Step(line))
    assert not pending
    return steps


def test_the_walkthrough_parses() -> None:
    steps = walkthrough(README.read_text())
    assert steps[0].command.startswith("KEY=kv_live_...")
    assert steps[1].command.startswith(f"API={README_BASE}/api/v1")
    assert sum(s.command.startswith("curl ") for s in steps) >= 4
    assert all(s.expected for s in steps if s.command.startswith(("curl ", ".venv/bin/kvitt")))


@dataclass
class Demo:
    base: str
    key: str
    env: dict[str, str]
    output: list[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("readme")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KVITT_")},
        "KVITT_DATABASE_URL": f"sqlite:///{folder / 'kvitt.db'}",
        "KVITT_PRINT_DIR": str(folder / "print"),
    }
    process = subprocess.Popen(
        [str(KVITT), "run", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        key = _wait_for_key(process, output)
        # Keep reading its output, so that the server never blocks on a full pipe.
        threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(process, base)
        yield Demo(base, key, env, output)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_key(process: subprocess.Popen[str], output: list[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        found = re.search(r"API key \(.*\): (kv_live_\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("kvitt run ended without printing a key:\n" + "".join(output))


def _wait_until_serving(process: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
    while time.monotonic() < deadline:
        assert process.poll() is None, "kvitt run stopped"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("kvitt run does not answer")


def test_the_readme_walkthrough_runs_as_written(demo: Demo) -> None:
    variables = dict(demo.env)
    previous: Any = None
    shown = ""
    ran = 0
    for step in walkthrough(README.read_text()):
        command = step.command
        answered = ANSWERED.match(command)
        if command.startswith("KEY="):
            variables["KEY"] = demo.key
        elif command.startswith("API="):
            variables["API"] = command.split("=", 1)[1].split()[0].replace(README_BASE, demo.base)
        elif answered:
            assert isinstance(previous, dict) and isinstance(previous.get("id"), int), previous
            # The README's own example is consistent: the id it sets is the one it showed.
            assert f'"id": {answered.group("value")},' in shown, (command, shown)
            variables[answered.group("name")] = str(previous["id"])
        else:
            result = subprocess.run(
                ["bash", "-c", command], cwd=ROOT, env=variables, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, (command, result.stdout, result.stderr)
            previous = _check(command, result.stdout, step.expected)
            shown = " ".join(step.expected)
            ran += 1
    assert ran >= 5
    _the_example_payments_paid_the_demo_invoices_they_name(demo)


def _check(command: str, output: str, expected: list[str]) -> Any:
    shown = " ".join(expected)
    if shown.startswith("{"):
        answer = json.loads(output)
        assert "error" not in answer, (command, answer)
        for match in PAIR.finditer(shown):
            key, value = match.group("key"), json.loads(match.group("value"))
            found = _values(answer, key)
            assert found, f"{command}\nno {key!r} in the answer {answer}"
            if key not in OWN:
                assert value in found, f"{command}\nREADME shows {key}={value!r}, the answer has {found}"
        return answer
    output = " ".join(output.split())  # the terminal may wrap a long line
    position = 0
    for fragment in (" ".join(f.split()) for f in shown.split("...")):
        if not fragment:
            continue
        at = output.find(fragment, position)
        assert at >= 0, f"{command}\nREADME shows {fragment!r}; the output was:\n{output}"
        position = at + len(fragment)
    return output


def _values(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        own = [node[key]] if key in node else []
        return own + [v for child in node.values() for v in _values(child, key)]
    if isinstance(node, list):
        return [v for child in node for v in _values(child, key)]
    return []


def _the_example_payments_paid_the_demo_invoices_they_name(demo: Demo) -> None:
    """After the walkthrough (which imports examples/demo-payments.bgmax): invoices 1 to 6 are paid."""
    headers = {"Authorization": f"Bearer {demo.key}"}
    with httpx.Client(base_url=f"{demo.base}/api/v1", headers=headers, timeout=30) as client:
        files = client.get("/payment-files").json()["data"]
        (example,) = [f for f in files if f["filename"] == "demo-payments.bgmax"]
        assert (example["payments"], example["matched"], example["deviations"]) == (6, 6, 0)
        paid = []
        for number in range(1, 7):
            page = client.get("/invoices", params={"number": number}).json()["data"]
            paid += [(inv["number"], inv["state"], inv["remaining"]) for inv in page]
    assert paid == [(n, "paid", 0) for n in range(1, 7)]
    # The demo delivered through its sinks: the log holds no retries.
    assert not any("will retry" in line for line in demo.output)
