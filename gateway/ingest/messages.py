"""Reading Segment messages: required fields, ids, sizes and timestamps.

A message is checked on its own, so one bad message in a batch costs only
itself. Everything the rest of the ingest needs is copied into a frozen
``Message``; the raw JSON is not passed further.

When the event happened (``occurred_at``), following Segment's rules:

1. an explicit ``timestamp`` is trusted as sent (server libraries set it from a
   clock we assume is right, and backfills set it to the past);
2. else ``originalTimestamp`` (a device clock) is corrected for the device's
   skew with ``sentAt``, the device's time of sending:
   ``receivedAt - (sentAt - originalTimestamp)``; without ``sentAt`` it is kept;
3. else the time we received the request.

Every time sent, and the resulting ``occurred_at``, must lie in
[``EARLIEST``, ``LATEST``): a year-1 or year-9999 time (or a skew correction
that would land there) is refused as ``invalid_timestamp`` for that message.
Strings must be free of NUL characters and objects nested at most
``MAX_DEPTH`` deep anywhere in a message, its batch's context included
(PostgreSQL's text columns, where traits land, refuse a NUL, as does a cast of
the stored JSON to ``jsonb``; orjson cannot serialize past 254 levels, and
deeper values are a misuse anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

MAX_MESSAGE_BYTES = 32 * 1024
"""Segment's limit for one message, as sent (compact JSON here)."""
MAX_BATCH_BYTES = 500 * 1024
"""Segment's limit for one ``/v1/batch`` request body."""

TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
_ID_LENGTH = 255
MAX_DEPTH = 32
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

JSONObject = dict[str, object]


class InvalidMessage(Exception):
    """A message we cannot store; ``reason`` is shown to the sender, ``code``
    (``invalid_message``, ``invalid_timestamp``, ``too_large``) is also logged."""

    def __init__(self, reason: str, code: str = "invalid_message") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    type: str
    user_id: str | None
    anonymous_id: str | None
    name: str | None
    """``event`` of a track, ``name`` of a page or screen, ``groupId`` of a group."""
    properties: JSONObject
    """Properties of track/page/screen, traits of identify/group; for an alias
    ``{"previousId": ...}``."""
    context: JSONObject
    occurred_at: datetime
    previous_id: str | None = None


def message_size(raw: object) -> int:
    return len(orjson.dumps(raw))


def parse_message(
    raw: object,
    *,
    type_: str | None,
    received_at: datetime,
    sent_at: datetime | None = None,
    defaults: Mapping[str, object] | None = None,
) -> Message:
    """Validate one message.

    Args:
        raw: the decoded JSON of the message.
        type_: the type the endpoint implies (``/v1/track``); ``None`` in a
            batch, where each message names its own ``type``.
        received_at: when the request arrived.
        sent_at: the batch's ``sentAt``, used when the message has none.
        defaults: the batch's top level, whose ``context`` applies to every
            message (the message's own context keys win).
    """
    if not isinstance(raw, dict):
        raise InvalidMessage("a message must be a JSON object")
    _check_values(raw)
    if message_size(raw) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(
            f"message larger than {MAX_MESSAGE_BYTES // 1024} KB", "too_large"
        )
    kind = type_ or raw.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise InvalidMessage(f"type must be one of {', '.join(sorted(TYPES))}")
    user_id = _id(raw, "userId")
    anonymous_id = _id(raw, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise InvalidMessage("userId or anonymousId is required")
    message_id = _id(raw, "messageId") or f"api-{uuid.uuid4()}"
    context = _object(raw, "context")
    batch_context = (defaults or {}).get("context")
    if isinstance(batch_context, dict):
        context = {**batch_context, **context}
        _check_values(context)
    name, properties, previous_id = _body(raw, kind, user_id)
    return Message(
        message_id=message_id,
        type=kind,
        user_id=user_id,
        anonymous_id=anonymous_id,
        name=name,
        properties=properties,
        context=context,
        occurred_at=occurred_at(raw, received_at, sent_at),
        previous_id=previous_id,
    )


def _body(
    raw: JSONObject, kind: str, user_id: str | None
) -> tuple[str | None, JSONObject, str | None]:
    """The type-specific part: (name, properties or traits, previousId)."""
    if kind == "track":
        event = _text(raw, "event")
        if event is None:
            raise InvalidMessage("a track message needs an event name")
        return event, _object(raw, "properties"), None
    if kind in ("page", "screen"):
        properties = _object(raw, "properties")
        category = _text(raw, "category")
        if category is not None:
            properties.setdefault("category", category)
        return _text(raw, "name"), properties, None
    if kind == "group":
        group_id = _id(raw, "groupId")
        if group_id is None:
            raise InvalidMessage("a group message needs a groupId")
        return group_id, _object(raw, "traits"), None
    if kind == "alias":
        previous_id = _id(raw, "previousId")
        if previous_id is None or user_id is None:
            raise InvalidMessage("an alias message needs previousId and userId")
        return None, {"previousId": previous_id}, previous_id
    return None, _object(raw, "traits"), None


def occurred_at(
    raw: Mapping[str, object], received_at: datetime, batch_sent_at: datetime | None
) -> datetime:
    timestamp = _time(raw, "timestamp")
    original = _time(raw, "originalTimestamp")
    sent_at = _time(raw, "sentAt") or batch_sent_at
    if timestamp is not None:
        return timestamp
    if original is None:
        return received_at
    if sent_at is None:
        return original
    corrected = received_at - (sent_at - original)
    return _in_range(corrected, "originalTimestamp corrected by sentAt")


def parse_time(value: object, field: str) -> datetime | None:
    """An ISO 8601 time in [``EARLIEST``, ``LATEST``); a time without zone is
    taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{field} must be an ISO 8601 string", "invalid_timestamp")
    try:
        parsed = datetime.fromisoformat(value)
        aware = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        # An offset can carry year 1 or 9999 past what a datetime holds.
        aware.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidMessage(
            f"{field} is not an ISO 8601 time", "invalid_timestamp"
        ) from exc
    return _in_range(aware, field)


def _in_range(value: datetime, field: str) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise InvalidMessage(
            f"{field} must lie between the years {EARLIEST.year} and {LATEST.year}",
            "invalid_timestamp",
        )
    return value


def _time(raw: Mapping[str, object], field: str) -> datetime | None:
    return parse_time(raw.get(field), field)


def _id(raw: Mapping[str, object], field: str) -> str | None:
    """Segment ids are strings; integers are accepted and stringified as the
    libraries do. A float is not (orjson reads an integer past 64 bits as one,
    whose text would be another id). An empty id counts as absent."""
    value = raw.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidMessage(f"{field} must be a string")
    text = str(value)
    _check_text(text, field)
    return text


def _text(raw: Mapping[str, object], field: str) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{field} must be a string")
    _check_text(value, field)
    return value


def _check_text(value: str, field: str) -> None:
    if len(value) > _ID_LENGTH:
        raise InvalidMessage(f"{field} is longer than {_ID_LENGTH} characters")
    if "\x00" in value:
        raise InvalidMessage(f"{field} contains a NUL character")


def _check_values(raw: JSONObject) -> None:
    """No NUL in any key or string, no nesting deeper than ``MAX_DEPTH``."""
    stack: list[tuple[object, int]] = [(raw, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidMessage("the message contains a NUL character")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidMessage(f"the message is nested over {MAX_DEPTH} levels deep")
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        stack += [(item, depth + 1) for item in items]


def _object(raw: Mapping[str, object], field: str) -> JSONObject:
    value = raw.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage(f"{field} must be a JSON object")
    return dict(value)
