"""Finding a mapping by name: ``canonical`` and ``jsonl`` are built in; any other name is a
``<name>.toml`` in the folder ``KVITT_BILLING_MAPPINGS_DIR`` (the operator installs the
mappings of its issuers there), or, on the command line, a path to a TOML file."""

from __future__ import annotations

import re
from pathlib import Path

from kvitt.core.config import get_settings
from kvitt.core.errors import ValidationFailed
from kvitt.formats import billing_file as codec

BUILT_IN = {"canonical": codec.CANONICAL, "csv": codec.CANONICAL, "jsonl": codec.JSONL}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def by_name(name: str | None, *, directory: Path | None = None) -> codec.Mapping:
    if not name:
        return codec.CANONICAL
    if name in BUILT_IN:
        return BUILT_IN[name]
    if not _NAME.match(name) or ".." in name:
        raise ValidationFailed(f"{name!r} is not a mapping name", param="mapping")
    folder = directory or _configured()
    path = folder / f"{name}.toml" if folder else None
    if path is None or not path.is_file():
        known = ", ".join([*BUILT_IN, *(sorted(p.stem for p in folder.glob("*.toml")) if folder else [])])
        raise ValidationFailed(f"no mapping named {name!r} (known: {known})", param="mapping")
    return from_file(path)


def from_file(path: Path) -> codec.Mapping:
    try:
        return codec.parse_mapping(path.read_text(encoding="utf-8"), name=path.stem)
    except UnicodeDecodeError:
        raise ValidationFailed(f"the mapping {path.name} is not UTF-8 text", param="mapping") from None
    except codec.BillingFileError as exc:
        raise ValidationFailed(f"{exc.field}: {exc.message}", param="mapping", code="invalid_mapping") from None


def _configured() -> Path | None:
    folder = get_settings().billing_mappings_dir
    return Path(folder) if folder else None
