"""The process environment of a test that starts the demo's sinks (``kvitt run``'s simulators),
which point KVITT_* variables at themselves."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from kvitt.core.config import get_settings


@contextmanager
def demo_environment(database_url: str, **variables: str) -> Iterator[None]:
    """KVITT_DATABASE_URL (and ``variables``) set for the test; afterwards the environment as it
    was and the settings read again, so that no simulator's address outlives its test."""
    saved = dict(os.environ)
    os.environ["KVITT_DATABASE_URL"] = database_url
    os.environ.update(variables)
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
