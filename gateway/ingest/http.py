"""The ingest's HTTP side: routes, the write key, body limits and the answers.

Checks run cheapest first: the client address not blocked for failed
authentications (429), ingest enabled (503), the Authorization header if
sent (401), the body's coding (415), its size (413, read and inflated no
further than the limit), the gzip (400), the JSON (400), a write key in the
body when no header was sent (401), then each message. A refused write key
counts as a failed login of its address, in the bucket ``/graphql`` uses
(``gateway.auth.admission.LoginThrottle``): guessing write keys is throttled
as guessing API keys is.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.auth.admission import TOO_MANY_FAILURES, client_address
from gateway.auth.ratelimit import retry_after
from gateway.db.models import utcnow
from gateway.db.races import is_unique_violation
from gateway.errors import Refused, describe
from gateway.ingest.fields import InvalidMessage
from gateway.ingest.gunzip import gunzip
from gateway.ingest.messages import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    TYPES,
    Message,
    parse_message,
)
from gateway.ingest.store import store_messages
from gateway.ingest.times import parse_time
from gateway.ingest.write_keys import basic_user, body_write_key, is_trusted, write_keys
from gateway.runtime.services import Services

log = logging.getLogger("gateway.ingest")

Endpoint = Callable[[Request], Awaitable[Response]]


HEADERS = {
    401: {"WWW-Authenticate": 'Basic realm="ingest"'},
    503: {"Retry-After": "1"},
}
"""Headers of a refusal by status: a 503 asks the client to retry (Segment's
and RudderStack's libraries retry 5xx and 429, and drop other 4xx); a 429
brings its own ``Retry-After``."""


def ingest_routes() -> list[BaseRoute]:
    """``POST /v1/batch`` and one ``POST /v1/<type>`` per Segment message type."""
    routes: list[BaseRoute] = [Route("/v1/batch", _endpoint(None), methods=["POST"])]
    routes += [
        Route(f"/v1/{kind}", _endpoint(kind), methods=["POST"])
        for kind in sorted(TYPES)
    ]
    return routes


def _endpoint(kind: str | None) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            return await _throttled(request, kind)
        except Refused as refused:  # BodyLimit's BodyTooLarge too
            return refused.response("segment", HEADERS.get(refused.status))

    endpoint.__name__ = f"ingest_{kind or 'batch'}"
    return endpoint


async def _throttled(request: Request, kind: str | None) -> Response:
    """``_ingest``, unless the client's address failed too often. A refused
    write key (401) counts as a failure; once the address has none left, the
    answer is 429 (as ``gateway.auth.admission.admit`` answers)."""
    services: Services = request.app.state.services
    throttle, address = services.login_failures, client_address(request)
    wait = throttle.blocked_for(address)
    if not wait:
        try:
            return await _ingest(request, kind)
        except Refused as exc:
            if exc.status != 401:
                raise
            wait = await throttle.failed(address)
            if not wait:
                raise
    raise Refused(
        429,
        "rate_limited",
        TOO_MANY_FAILURES,
        headers={"Retry-After": retry_after(wait)},
    )


async def _ingest(request: Request, kind: str | None) -> Response:
    services: Services = request.app.state.services
    keys = write_keys(services.settings)
    if not keys:
        raise Refused(503, "ingest_disabled", "ingest disabled: no write key is set")
    header_key = basic_user(request.headers.get("authorization"))
    trusted = None if header_key is None else is_trusted(header_key, keys)
    body = await _read_body(request, MAX_MESSAGE_BYTES if kind else MAX_BATCH_BYTES)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "invalid_json", f"malformed JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Refused(400, "invalid_json", "the body must be a JSON object")
    body_key = body_write_key(payload, body, header_key)
    if trusted is None:
        trusted = is_trusted(body_key if isinstance(body_key, str) else None, keys)
    received_at = utcnow()
    messages, indexes, errors = _parse(payload, kind, received_at)
    if errors:
        refused = [
            f"{e['index']}:{_log_id(e['messageId'])}:{e['code']}" for e in errors[:10]
        ]
        # One line per request, ids and codes only: anyone holding the public
        # key could otherwise write 500 log lines per request.
        log.info(
            "ingest refused %d of %d messages: %s",
            len(errors),
            len(errors) + len(messages),
            ", ".join(refused),
        )
    if kind is not None and errors:
        code = str(errors[0]["code"])
        status = 413 if code == "too_large" else 400
        raise Refused(status, code, str(errors[0]["message"]))
    try:
        stored = await store_messages(
            services.sessions, messages, received_at, trusted=trusted
        )
    except SQLAlchemyError as exc:
        if isinstance(exc, IntegrityError) and is_unique_violation(exc):
            log.warning(
                "ingest of %d messages (first %s) kept meeting concurrent writes",
                len(messages),
                _log_id(messages[0].message_id if messages else None),
            )
            # Transient: answered so that the client's library retries it.
            raise Refused(
                503, "conflict", "a concurrent request changed the same data; retry"
            ) from exc
        # The exception's text carries SQL parameters (emails): never logged.
        log.error(
            "ingest could not store %d messages (first %s): %s",
            len(messages),
            _log_id(messages[0].message_id if messages else None),
            describe(exc),
        )
        raise Refused(
            500, "server_error", "the messages could not be stored; retry"
        ) from exc
    await services.changes.publish(*stored.changes)
    answer: dict[str, Any] = {"success": True}
    if errors:
        answer["errors"] = errors
    # The public key ships in browsers: its sender learns only what the
    # message alone decides, never whether an email, phone or userId is known.
    told = [w for w in stored.warnings if trusted or w.from_message]
    if told:
        answer["warnings"] = [
            {
                "index": indexes[w.position],
                "messageId": messages[w.position].message_id,
                "field": w.field,
                "message": w.reason,
            }
            for w in told
        ]
    return JSONResponse(answer)


def _parse(
    payload: Mapping[str, object], kind: str | None, received_at: datetime
) -> tuple[list[Message], list[int], list[dict[str, object]]]:
    """The valid messages, their indexes in the request, and the errors."""
    if kind is None:
        raws = payload.get("batch")
        if not isinstance(raws, list):
            raise Refused(400, "invalid_message", "batch must be an array")
        try:
            sent_at = parse_time(payload.get("sentAt"), "sentAt")
        except InvalidMessage as exc:
            raise Refused(400, exc.code, exc.reason) from exc
    else:
        raws, sent_at = [payload], None
    messages: list[Message] = []
    indexes: list[int] = []
    errors: list[dict[str, object]] = []
    for index, raw in enumerate(raws):
        try:
            messages.append(
                parse_message(
                    raw,
                    type_=kind,
                    received_at=received_at,
                    sent_at=sent_at,
                    defaults=payload if kind is None else None,
                )
            )
            indexes.append(index)
        except InvalidMessage as exc:
            message_id = raw.get("messageId") if isinstance(raw, dict) else None
            errors.append(
                {
                    "index": index,
                    "messageId": message_id if isinstance(message_id, str) else None,
                    "code": exc.code,
                    "message": exc.reason,
                }
            )
    return messages, indexes, errors


def _log_id(message_id: object) -> str:
    """A messageId as logged: the first 16 hex digits of its SHA-256, since the
    sender chooses it and may put an email in it (the sender can hash its own
    ids to find a line)."""
    if not isinstance(message_id, str):
        return "-"
    return hashlib.sha256(message_id.encode()).hexdigest()[:16]


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, inflated if gzipped; never more than ``limit`` bytes read or
    inflated (413 past it, as RudderStack's server answers a body over its
    limit: rudderlabs/rudder-server ``gateway/openapi.yaml``, 413
    ``StatusRequestEntityTooLarge``). Gzip is the one coding the libraries
    send (``x-gzip`` is its old name, RFC 9110 8.4.1.3); another is a 415,
    before the body is read, naming what is accepted in ``Accept-Encoding``
    (RFC 9110, 15.5.16), as ``/graphql``'s own 415 does."""
    too_large = Refused(413, "too_large", f"body larger than {limit // 1024} KB")
    # every line: two lines are one comma-separated list (RFC 9110, 5.3), and
    # a second naming br applies as much as a first naming gzip
    lines = request.headers.getlist("content-encoding")
    coding = ", ".join(line.strip() for line in lines).strip().lower()
    if coding not in ("", "identity", "gzip", "x-gzip"):
        raise Refused(
            415,
            "unsupported_encoding",
            "Content-Encoding must be gzip or absent",
            headers={"Accept-Encoding": "gzip, identity"},
        )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if coding not in ("gzip", "x-gzip"):
        return bytes(body)
    try:
        inflated = gunzip(bytes(body), limit)
    except zlib.error as exc:
        raise Refused(400, "invalid_body", "the body is not valid gzip") from exc
    if inflated is None:
        raise too_large
    return inflated
