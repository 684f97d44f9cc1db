"""Credentials and tracebacks kept out of the server's log.

An embed page is opened as ``/embed/timeline?token=…`` and an embed socket as
``/embed/graphql?token=…``, and a Segment client may put its write key in the
URL. uvicorn logs each request's path with its query string
(``uvicorn.access``) and each WebSocket's (``uvicorn.error``:
``"WebSocket /embed/graphql?token=…" [accepted]``): a log reader could replay
the token. ``RedactCredentials`` replaces the value of each query parameter
named like a credential with ``[redacted]`` before any handler formats the
record, and replaces the traceback uvicorn logs for an exception no handler
caught ("Exception in ASGI application": SQLAlchemy's message carries the
statement and its parameters) with ``gateway.errors.describe``'s one line.
``install`` puts it on both loggers (once, whoever configured them)::

    install()  # in create_app: uvicorn, gunicorn and the demo alike
"""

from __future__ import annotations

import logging
import re

from gateway.errors import describe

LOGGERS = ("uvicorn.access", "uvicorn.error")
_CREDENTIAL = re.compile(
    r"([?&](?:token|key|api_key|apikey|access_token|write_key|writekey|secret)=)"
    r"[^&#\s\"]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    return _CREDENTIAL.sub(r"\1[redacted]", text) if "=" in text else text


class RedactCredentials(logging.Filter):
    """Rewrites a record's message, string arguments and exception; drops
    nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = (
                f"{record.getMessage().strip()}: {describe(record.exc_info[1])}"
            )
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
