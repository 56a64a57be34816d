"""Structured logs that say which request, session and job they are about.

`bind(request_id=..., session_id=..., job_id=...)` sets the ids for the code it wraps (context variables, so
they follow threads started with `contextvars.copy_context()`, asyncio tasks and nothing else);
`ContextFilter` puts them on every log record that does not name them itself; `configure_logging` makes every
line one JSON object (python-json-logger). The API binds the request id (from `X-Request-ID`, or a new one),
the job stores it, and each Ray task of the job binds it again with the session and job ids, so one id follows
an upload through every stage on every node.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "session_id", "job_id")
_current: dict[str, ContextVar[str | None]] = {name: ContextVar(name, default=None) for name in FIELDS}
# What a client may send as X-Request-ID: short, printable, no separators a log parser would trip on.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(header: str | None) -> str:
    """The client's X-Request-ID if it is a sane token, else a new id (never an error: ids are for tracing)."""
    return header if header and _CLIENT_ID.match(header) else new_request_id()


def current(name: str) -> str | None:
    return _current[name].get()


def current_ids() -> dict[str, str]:
    return {name: value for name in FIELDS if (value := _current[name].get()) is not None}


@contextmanager
def bind(**ids: object) -> Iterator[None]:
    """Set request_id / session_id / job_id for the block; None leaves a field as it was."""
    tokens = [(_current[name], _current[name].set(str(value))) for name, value in ids.items() if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Adds the bound ids to each record (an id given in `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, _current[name].get())
        return True


def json_formatter() -> JsonFormatter:
    return JsonFormatter("{asctime}{levelname}{name}{message}", style="{",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         json_default=str)


def configure_logging(level: int | str = logging.INFO) -> None:
    """One JSON object per line on stderr, with the bound ids; idempotent (used by `vigil up` and as Ray's
    worker_process_setup_hook, so Serve replicas, actors and tasks log the same way)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "vigil", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.vigil = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(json_formatter())
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "botocore", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
