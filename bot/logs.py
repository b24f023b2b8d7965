"""Logging: text or JSON lines, each line with the command's correlation ID.

Never log message bodies, tokens or keys: the code logs IDs and outcomes only, and nio's
own debug output (which can include request bodies) is capped at INFO.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# The command being handled, set by the dispatcher and put on every log line. It lives here,
# below the dispatcher, so that logging imports nothing from the layers that log.
correlation: ContextVar[str] = ContextVar("correlation", default="-")


class _Correlation(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.corr = correlation.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "corr": getattr(record, "corr", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Correlation())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(corr)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that may print request or event contents at DEBUG stay at INFO or above.
    for noisy in ("nio", "aiohttp", "apscheduler", "peewee", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # nio logs three INFO lines per event ("handling event", "successfully verified"):
    # ~5% of the CPU per command (docs/BENCHMARKS.md). Below DEBUG only its warnings show.
    if logging.getLevelName(level) > logging.DEBUG:
        logging.getLogger("nio").setLevel(logging.WARNING)
