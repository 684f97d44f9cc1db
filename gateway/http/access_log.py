"""Credentials and tracebacks kept out of the server's log.

An embed page is opened as ``/embed/timeline?token=…`` and an embed socket as
``/embed/graphql?token=…``, and a Segment client may put its write key in the
URL. uvicorn logs each request's path with its query string
(``uvicorn.access``) and each WebSocket's (``uvicorn.error``:
``"WebSocket /embed/graphql?token=…" [accepted]``): a log reader could replay
the token. A GraphQL request sent by GET carries its document and variables
in the query string too (``/graphql?query={customer(email:"…")…}``): contact
data a log must not hold. ``RedactCredentials`` replaces the value of each
query parameter named like a credential, and of ``query`` and ``variables``,
with ``[redacted]`` before any handler formats the record, and replaces the
traceback uvicorn logs for an exception no handler caught ("Exception in ASGI
application": SQLAlchemy's message carries the statement and its parameters)
with ``gateway.errors.describe``'s one line.

httpx logs each request it sends (``HTTP Request: POST <url> …``, INFO)
with the URL's query string: an outbound webhook endpoint's may carry a
token. ``UpstreamQueries`` keeps the URL and drops its query. (The
connectors' client, aiohttp, logs no request lines: a Zendesk search's
``query=email:…`` or PostHog's ``persons/?email=…`` is never logged.)
``install`` puts the filters on their loggers (once, whoever configured
them)::

    install()  # in create_app: uvicorn, gunicorn and the demo alike
"""

from __future__ import annotations

import logging
import re

import httpx

from gateway.errors import describe

LOGGERS = ("uvicorn.access", "uvicorn.error")
_CREDENTIAL = re.compile(
    r"([?&](?:token|key|api_key|apikey|access_token|write_key|writekey|secret"
    r"|query|variables)=)"
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


class UpstreamQueries(logging.Filter):
    """Rewrites the URL arguments of a record: their query strings redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(a) for a in record.args)
        return True


def _without_query(arg: object) -> object:
    if isinstance(arg, httpx.URL) and arg.query:
        return f"{arg.copy_with(query=None)}?[redacted]"
    return arg


FILTERS: dict[str, type[logging.Filter]] = {
    **dict.fromkeys(LOGGERS, RedactCredentials),
    "httpx": UpstreamQueries,
}


def install() -> None:
    for name, kind in FILTERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
