"""Keeping the log readable: repeated identical warnings collapsed, libraries' chatter muted.

- :class:`Repeats` collapses warnings and errors that repeat: per (logger, level, event), the
  first ``FIRST`` in a window of ``WINDOW_SECONDS`` are written, the rest of that window are
  counted, and the next one after the window is written with ``repeated=<n>`` (how many were
  left out before it), so nothing disappears without a trace. The key is the event text, not
  its fields: 2,000 ``job failed, will retry`` lines for 2,000 jobs are one kind of trouble.
  Used twice: as a structlog processor (Kvitt's own logs) and as a ``logging.Filter`` on the
  handler of the standard library's records (uvicorn, SQLAlchemy, httpx).
- :data:`CHATTY` loggers (httpx logs every request at INFO; fontTools every font subset) are set
  to WARNING: what they would say, Kvitt's own lines already say.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

FIRST = 3
WINDOW_SECONDS = 60.0
COLLAPSED = frozenset({"warning", "error", "critical"})
CHATTY = ("httpx", "httpcore", "stripe", "fontTools", "fontTools.subset", "fontTools.ttLib")


class Repeats:
    def __init__(
        self, *, first: int = FIRST, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self.first = first
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str, str], tuple[float, int, int]] = {}  # start, written, left out
        self._lock = threading.Lock()

    def admit(self, key: tuple[str, str, str]) -> tuple[bool, int]:
        """(write it?, how many were left out before it) for one more line with this key."""
        now = self.clock()
        with self._lock:
            start, written, left_out = self._seen.get(key, (now, 0, 0))
            if now - start >= self.window:
                self._seen[key] = (now, 1, 0)
                return True, left_out
            if written < self.first:
                self._seen[key] = (start, written + 1, left_out)
                return True, 0
            self._seen[key] = (start, written, left_out + 1)
            return False, 0

    # structlog processor
    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        level = str(event.get("level", method)).lower()
        if level not in COLLAPSED:
            return event
        name = str(getattr(logger, "name", "") or event.get("logger", ""))
        write, left_out = self.admit((name, level, str(event.get("event", ""))))
        if not write:
            raise structlog.DropEvent
        if left_out:
            event["repeated"] = left_out
        return event


class RepeatsFilter(logging.Filter):
    """The same for the standard library's records (the message template is the event)."""

    def __init__(self, repeats: Repeats) -> None:
        super().__init__()
        self.repeats = repeats

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        write, left_out = self.repeats.admit((record.name, record.levelname.lower(), str(record.msg)))
        if write and left_out:
            record.msg = f"{record.msg} (and {left_out} more like it left out)"
        return write


def mute_chatty_libraries() -> None:
    for name in CHATTY:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
