"""One signed HTTP attempt of one delivery, and what it came to.

The URL's host is resolved and checked (``targets.resolve``) and the request
goes to that checked address, with the original name in ``Host`` and, for
https, as TLS's server name (so the certificate is still verified for it).
2xx is delivered; 410 Gone is the endpoint saying it is gone for good; any
other status (a 3xx too: redirects are not followed), a timeout or a
connection error is a failed attempt. Of the answer only a short excerpt is
kept — at most 120 characters, control characters, email addresses and long
digit runs replaced — and at most 64 KiB of it is read at all.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from gateway.db.models import utcnow
from gateway.outbound import signing
from gateway.outbound.tables import Outcome
from gateway.outbound.targets import TargetRefused, check_url, resolve

EXCERPT_CHARS = 120
READ_AT_MOST = 64 * 1024
_EMAIL = re.compile(r"[^\s@\"'<>]+@[^\s@\"'<>]+")
_DIGITS = re.compile(r"\d{6,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    status_code: int | None
    duration_ms: int
    error_class: str | None = None
    excerpt: str | None = None
    attempted_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What to send: where, the message and the secrets that sign it (signed
    when sent: ``webhook-timestamp`` is the attempt's own)."""

    url: str
    msg_id: str
    body: str
    secrets: list[str]


def sanitized(raw: bytes) -> str | None:
    text = raw.decode("utf-8", errors="replace")
    text = _EMAIL.sub("[email]", _DIGITS.sub("[digits]", _CONTROL.sub(" ", text)))
    text = " ".join(text.split())[:EXCERPT_CHARS]
    return text or None


async def send(
    client: httpx.AsyncClient, attempt: Attempt, allow_private: bool
) -> Answer:
    now = utcnow()
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = await resolve(check_url(attempt.url), allow_private)
    except TargetRefused:
        return Answer(Outcome.REFUSED, None, elapsed(), "TargetRefused", None, now)
    headers = signing.headers(attempt.msg_id, attempt.body, attempt.secrets, now)
    headers["Content-Type"] = "application/json"
    headers["Host"] = target.url.netloc.decode("ascii")
    extensions = (
        {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
    )
    try:
        async with client.stream(
            "POST",
            target.pinned,
            content=attempt.body.encode(),
            headers=headers,
            extensions=extensions,
        ) as response:
            head = await _head(response)
    except httpx.HTTPError as exc:
        return Answer(Outcome.FAILED, None, elapsed(), type(exc).__name__, None, now)
    code = response.status_code
    if 200 <= code < 300:
        return Answer(Outcome.DELIVERED, code, elapsed(), None, None, now)
    outcome = Outcome.GONE if code == 410 else Outcome.FAILED
    return Answer(outcome, code, elapsed(), "HTTPStatus", sanitized(head), now)


async def _head(response: httpx.Response) -> bytes:
    """The answer's first bytes; the rest read up to ``READ_AT_MOST`` (so a
    short answer leaves the connection reusable) and not kept."""
    head = b""
    read = 0
    async for chunk in response.aiter_raw():
        if len(head) < 512:
            head += chunk[: 512 - len(head)]
        read += len(chunk)
        if read >= READ_AT_MOST:
            break
    return head
