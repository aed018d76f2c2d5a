"""Logging for the server and workers: text or JSON lines, with secrets redacted.

``configure_logging(level, fmt)`` installs one stderr handler on the root logger:

* ``text``: ``2024-05-01T12:00:00.123Z INFO reelsmith.jobs.lifecycle: job finished job_id=... status=...``
  (structured ``extra`` fields follow the message as ``key=value``);
* ``json``: one object per line with ``ts``, ``level``, ``logger``, ``message`` and every
  ``extra`` field (``job_id``, ``owner``, ``status``, ``seconds``, ``error``, ...).

:class:`RedactFilter` (on that handler and on uvicorn's ``uvicorn.access`` / ``uvicorn.error``
loggers) replaces API keys (``rsk_...``), signed link tokens (``rsl_...``), ``token=`` /
``access=`` query values, ``Authorization: Bearer`` values and URL passwords with
``[redacted]``, in the message and in its arguments (the access log's request line).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

REDACTED = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <x> / Authorization=Basic <x> / bare "Bearer <x>"
    (re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)?\s*)[^\s,;\"']+"),
     r"\1" + REDACTED),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    # ?token=..., &access=..., access_token=..., X-Token=...
    (re.compile(r"(?i)(\b(?:[\w-]*[_-])?(?:token|access)=)[^&\s#\"']+"), r"\1" + REDACTED),
    # scheme://user:password@host
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]*@"), r"\1" + REDACTED + "@"),
    # API keys and signed link tokens anywhere
    (re.compile(r"\brs[kl]_[A-Za-z0-9_\-]+"), REDACTED),
)
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message"}
_HANDLER_FLAG = "_reelsmith_handler"
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with credentials and tokens replaced by ``[redacted]``."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactFilter(logging.Filter):
    """Redacts secrets in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redact_value(a) for a in args)
        elif isinstance(args, dict):
            record.args = {k: _redact_value(v) for k, v in args.items()}
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        try:
            full = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the formatter's business
            return True
        if redact(full) != full:  # a secret spanning pieces: keep only the redacted text
            record.msg, record.args = redact(full), ()
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a caller passed with ``extra=``."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``<ts> LEVEL logger: message key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        fields = extras(record)
        if fields:
            line += " " + " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


def _text_value(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return json.dumps(s) if (not s or any(c.isspace() or c in "\"=" for c in s)) else s


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extras (and ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname,
                               "logger": record.name, "message": record.getMessage()}
        for k, v in extras(record).items():
            obj.setdefault(k, v)
        if record.exc_info:
            obj["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            obj["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(obj, default=str, ensure_ascii=False))


def configure_logging(level: str = "info", fmt: str = "text", *, replace: bool = True) -> logging.Handler:
    """Send all logging to stderr in ``fmt`` (``text`` or ``json``) at ``level``; returns the handler.

    ``replace``: remove the root logger's other handlers (e.g. the CLI's ``basicConfig`` one),
    so every line has the chosen format; otherwise only the handler installed by an earlier
    call is replaced. uvicorn's loggers lose their own handlers and propagate to this one, so
    run uvicorn with ``log_config=None``.
    """
    fmt = (fmt or "text").strip().lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"The log format must be 'text' or 'json', not {fmt!r}.")
    lvl = logging.getLevelName(str(level).upper())
    if not isinstance(lvl, int):
        raise ValueError(f"The log level {level!r} is not one of debug, info, warning, error, critical.")
    root = logging.getLogger()
    for h in list(root.handlers):
        if replace or getattr(h, _HANDLER_FLAG, False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_FLAG, True)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactFilter())
    root.addHandler(handler)
    root.setLevel(lvl)
    for name in (*UVICORN_LOGGERS, "uvicorn"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        if name in UVICORN_LOGGERS and not any(isinstance(f, RedactFilter) for f in lg.filters):
            lg.addFilter(RedactFilter())
    # alembic announces each of its plugins at INFO on every start: keep that out of the log
    logging.getLogger("alembic.runtime.plugins").setLevel(max(lvl, logging.WARNING))
    logging.captureWarnings(True)  # warnings become log lines (so JSON output stays JSON)
    return handler
