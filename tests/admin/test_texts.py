"""Every Swedish text of the back office has its English."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kvitt.admin import nav, routes, texts

TEMPLATES = Path(texts.__file__).parent / "templates"
CALL = re.compile(r"""_\(\s*"([^"]+)"\s*\)|_\(\s*'([^']+)'\s*\)""")


def swedish_texts() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        for match in CALL.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) or match.group(2))
    found |= {item.label for item in nav.NAV}
    found |= set(routes.PASSWORD_PROBLEMS.values())
    found.add(routes.TOO_MANY)  # the login throttle's message
    found |= {label for label in texts.STATE_LABELS.values() if label}
    found |= {label for label in texts.CHANNEL_LABELS.values() if label}
    found |= set(texts.DONE.values())
    found |= set(texts.DEVIATION_KINDS.values())
    found |= set(texts.SUBSCRIPTION_STATUS.values()) | set(texts.MANDATE_STATUS.values())
    return found


def test_every_text_has_its_english() -> None:
    missing = sorted(text for text in swedish_texts() if text not in texts.EN)
    assert not missing, missing


def test_the_translator_falls_back_to_swedish() -> None:
    assert texts.translator("en")("Kunder") == "Customers"
    assert texts.translator("sv")("Kunder") == "Kunder"
    assert texts.translator("en")("inget sådant") == "inget sådant"


def test_no_text_is_written_twice() -> None:
    """A dict literal keeps the last of two equal keys without a word: an English text written
    twice may differ, and only one of them is ever shown."""
    tree = ast.parse(Path(texts.__file__).read_text(encoding="utf-8"))
    twice = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
            twice += sorted({key for key in keys if keys.count(key) > 1})
    assert twice == []
