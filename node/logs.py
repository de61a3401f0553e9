"""Structured logs: one JSON object per line on stderr (journald keeps them under systemd)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

STANDARD = frozenset(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """Format a record as ``{"ts", "level", "logger", "msg", ...extra fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line; fields passed with ``extra=`` are kept as keys."""
        data = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname.lower(), "logger": record.name,
                "msg": record.getMessage()}
        data.update({k: v for k, v in vars(record).items()
                     if k not in STANDARD and k not in data})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def setup_logging(level: int = logging.INFO) -> None:
    """Send the ``fabhub`` loggers' records to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("fabhub")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
