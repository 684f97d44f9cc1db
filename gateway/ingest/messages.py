"""Reading Segment messages: required fields, ids, sizes and timestamps.

A message is checked on its own, so one bad message in a batch costs only
itself. Everything the rest of the ingest needs is copied into a frozen
``Message``; the raw JSON is not passed further. Where its traits and ids may
be placed is ``placements``', when it happened ``times``', how one field is
read ``fields``'.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson

from gateway.ingest.fields import (
    ID_LENGTH,
    InvalidMessage,
    JSONObject,
    check_values,
    id_value,
    json_object,
    text,
    usable_id,
)
from gateway.ingest.placements import Placed, place
from gateway.ingest.times import occurred_at

MAX_MESSAGE_BYTES = 32 * 1024
"""Segment's limit for one message, as sent (compact JSON here)."""
MAX_BATCH_BYTES = 500 * 1024
"""Segment's limit for one ``/v1/batch`` request body."""

TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    type: str
    user_id: str | None
    anonymous_id: str | None
    name: str | None
    """``event`` of a track, ``name`` of a page or screen, ``groupId`` of a group."""
    properties: JSONObject
    """Properties of track/page/screen, traits of identify (both placements
    merged) and group; for an alias ``{"previousId": ...}``."""
    context: JSONObject
    occurred_at: datetime
    previous_id: str | None = None
    email: tuple[str, str] | None = None
    """(placement, address as sent) of the email naming the user; identify
    applies the one in its traits instead."""


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
    check_values(raw)
    if message_size(raw) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(
            f"message larger than {MAX_MESSAGE_BYTES // 1024} KB", "too_large"
        )
    kind = type_ or raw.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise InvalidMessage(f"type must be one of {', '.join(sorted(TYPES))}")
    context = json_object(raw, "context")
    batch_context = (defaults or {}).get("context")
    if isinstance(batch_context, dict):
        context = {**batch_context, **context}
        check_values(context)
    placed = place(raw, kind, context)
    if placed.user_id is None and placed.anonymous_id is None:
        raise InvalidMessage("userId or anonymousId is required")
    message_id = id_value(raw.get("messageId"), "messageId") or f"api-{uuid.uuid4()}"
    name, properties, previous_id = _body(raw, kind, placed)
    return Message(
        message_id=message_id,
        type=kind,
        user_id=placed.user_id,
        anonymous_id=placed.anonymous_id,
        name=name,
        properties=properties,
        context=context,
        occurred_at=occurred_at(raw, received_at, sent_at),
        previous_id=previous_id,
        email=None if kind == "identify" else placed.email,
    )


def _body(
    raw: JSONObject, kind: str, placed: Placed
) -> tuple[str | None, JSONObject, str | None]:
    """The type-specific part: (name, properties or traits, previousId).

    A page's or screen's name may also be its ``properties.name``, a group's
    id its ``traits.groupId`` (RudderStack's transformer reads both there:
    ``GenericFieldMapping.json``, ``"groupId": ["groupId", "traits.groupId"]``).
    """
    if kind == "track":
        event = text(raw, "event")
        if event is None:
            raise InvalidMessage("a track message needs an event name")
        return event, json_object(raw, "properties"), None
    if kind in ("page", "screen"):
        properties = json_object(raw, "properties")
        category = text(raw, "category")
        if category is not None:
            properties.setdefault("category", category)
        name = text(raw, "name") or _usable_text(properties.get("name"))
        return name, properties, None
    if kind == "group":
        traits = json_object(raw, "traits")
        group_id = id_value(raw.get("groupId"), "groupId") or usable_id(
            traits.get("groupId")
        )
        if group_id is None:
            raise InvalidMessage("a group message needs a groupId")
        return group_id, traits, None
    if kind == "alias":
        previous_id = id_value(raw.get("previousId"), "previousId")
        if previous_id is None or placed.user_id is None:
            raise InvalidMessage("an alias message needs previousId and userId")
        return None, {"previousId": previous_id}, previous_id
    return None, placed.traits, None


def _usable_text(value: object) -> str | None:
    """A fallback placement's value when it is a short string, else None."""
    if isinstance(value, str) and value and len(value) <= ID_LENGTH:
        return value
    return None
