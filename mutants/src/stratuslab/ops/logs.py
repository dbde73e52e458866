"""Logging of the server: text or JSON lines, to standard error (the journal under systemd) or
to a size-rotated file, every record stamped with the request id of the operation it belongs to
(core.context), so that one id greps an operation from the API through its job to the driver
commands."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stratuslab.core.context import current_request_id
from stratuslab.core.errors import InvalidInput
from stratuslab.settings import ServerSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
_OURS = "stratuslab-handler"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def make_handler(server: ServerSettings) -> logging.Handler:
    handler: logging.Handler
    if server.log_file:
        path = Path(server.log_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=server.log_max_bytes, backupCount=server.log_backups,
                encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"setting server.log_file: cannot write {path}: {exc.strerror}",
                               hint="choose a writable file, or leave it empty to log to "
                               "standard error") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_OURS)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if server.log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(server: ServerSettings) -> logging.Handler:
    """Install our handler on the root logger (replacing one installed before)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _OURS]:
        root.removeHandler(old)
        old.close()
    handler = make_handler(server)
    root.addHandler(handler)
    root.setLevel(server.log_level.upper())
    # third-party chatter stays at warning unless debugging
    if server.log_level != "debug":
        for name in ("alembic", "httpx", "uvicorn.error", "asyncio"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler
