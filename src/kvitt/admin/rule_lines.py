"""Conditions typed one a line, ``field op value``, for the forms that write rules: a dunning
policy's rules (``dunning_policies``) and an event chain's conditions (``automation_page``).

The value is JSON when it reads as JSON (``2``, ``true``, ``"2"``, ``[4, 7]``), text otherwise,
as the customer page's attributes; it may be left out where the operator takes none
(``customer.email exists``). Each line is checked by the API's own model for it, and a bad one is
refused naming its number and what the model says, before anything is written.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kvitt.core.errors import ValidationFailed

Model = TypeVar("Model", bound=BaseModel)


def numbered_lines(text: str, param: str, limit: int) -> list[tuple[int, str]]:
    """The non-empty lines with their numbers (from 1); at most ``limit``."""
    lines = [(number, raw.strip()) for number, raw in enumerate(text.splitlines(), 1) if raw.strip()]
    if len(lines) > limit:
        raise ValidationFailed(f"{param}: at most {limit} lines", param=param)
    return lines


def conditions_from_text(text: str, model: type[Model], param: str, limit: int) -> list[Model]:
    found = []
    for number, line in numbered_lines(text, param, limit):
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise ValidationFailed(f"{param}, line {number}: write field op value, e.g. age_years gte 2", param=param)
        item = {"field": parts[0], "op": parts[1]}
        if len(parts) == 3:
            item["value"] = json_or_text(parts[2])
        found.append(checked(model, item, param, number))
    return found


def checked(model: type[Model], item: dict[str, Any], param: str, number: int) -> Model:
    """``item`` as ``model``; ValidationFailed naming the line and the model's complaint."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise ValidationFailed(f"{param}, line {number}: {problems(exc)}", param=param) from None


def problems(error: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())


def json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def value_text(value: Any) -> str:
    """A value as the form writes it back: text as it is when it would read back as that text."""
    if isinstance(value, str) and json_or_text(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def conditions_text(conditions: list[dict[str, Any]]) -> str:
    lines = []
    for condition in conditions:
        line = f"{condition['field']} {condition['op']}"
        if condition.get("value") is not None:
            line += f" {value_text(condition['value'])}"
        lines.append(line)
    return "\n".join(lines)


def whole(value: str, param: str) -> int:
    """A whole number typed in a form; empty is 0."""
    text = value.strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise ValidationFailed(f"{param}: a whole number", param=param) from None
