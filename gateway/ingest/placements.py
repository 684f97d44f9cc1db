"""Where a message may place the user's traits and ids: every placement the
Segment spec and RudderStack's event spec allow, read into one ``Placed``.

Traits (what identify applies to the profile)::

    identify   traits  +  context.traits     merged, the top level winning per
                                             key (an ``address`` sent in both
                                             is the top-level one, whole)
    others     context.traits                the user's traits, copied by the
                                             libraries into every call: read
                                             for ids only, never applied

A group's top-level ``traits`` are the group's, never the user's.

Ids, first placement holding one wins::

    userId       userId, traits.userId, traits.id, context.traits.userId,
                 context.traits.id (the traits as above), an external id of
                 type user_id
    anonymousId  anonymousId, an external id of type anonymous_id
    email        the traits' email (identify: either placement),
                 properties.email (track, page, screen), an external id of
                 type email

External ids are Segment's ``context.externalIds`` (``[{id, type,
collection, encoding}]``) and RudderStack's ``context.externalId``
(``[{id, type}]``); the first entry of a type wins, Segment's list before
RudderStack's. Only the three types above are read: the others name ids in
other tools. Identify takes an external email into its traits when neither
placement has one.

The top-level ``userId`` and ``anonymousId`` must be ids (``fields.id_value``:
the message is refused otherwise); any other placement whose value is not an
id (``fields.usable_id``) or, for an email, not a string is not read — it
stays in the stored context or properties as sent.
What a write key may do with an email found here is ``profiles``' and
``store``'s: the public key never finds a customer by email.

Sources: Segment's common fields (``context.traits``: "fill this object the
same way you would fill traits in an Identify call",
https://segment.com/docs/connections/spec/common/#context) and its identity
resolution (promoted ids ``user_id``, ``anonymous_id``, ``email`` from
``traits.email``, ``context.traits.email`` or ``properties.email``;
``context.externalIds``: segmentio/segment-docs
``src/unify/identity-resolution/externalids.md``). RudderStack: its Python
SDK sends identify traits only in ``context.traits`` (rudder-sdk-python 2.1.9,
``rudderstack/analytics/client.py``, ``Client.identify``); its transformer
reads a user's fields in this order (rudderlabs/rudder-transformer
``src/v0/util/data/GenericFieldMapping.json``: ``"traits": ["traits",
"context.traits"]``, ``"userIdOnly": ["userId", "traits.userId", "traits.id",
"context.traits.userId", "context.traits.id"]``, ``"emailOnly":
["traits.email", "context.traits.email", "properties.email"]``) and
``context.externalId`` as ``[{"type": ..., "id": ...}]``
(``src/v0/util/index.js``, ``getDestinationExternalID``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.ingest.fields import (
    InvalidMessage,
    JSONObject,
    id_value,
    json_object,
    usable_id,
)

EXTERNAL_ID_LISTS = ("externalIds", "externalId")
"""Segment's name, then RudderStack's, under ``context``."""
READ_TYPES = frozenset({"user_id", "anonymous_id", "email"})
_EVENT_TYPES = frozenset({"track", "page", "screen"})
"""Types whose ``properties`` are the event's, where an ``email`` is the user's."""


@dataclass(frozen=True, slots=True)
class Placed:
    user_id: str | None
    anonymous_id: str | None
    traits: JSONObject
    """Identify: the traits to apply. Others: ``context.traits``, unapplied."""
    email: tuple[str, str] | None
    """(placement, address as sent) of the first email found."""


def place(
    raw: Mapping[str, object], kind: str, context: Mapping[str, object]
) -> Placed:
    """Read the traits and ids of the message ``raw`` of type ``kind``;
    ``context`` is its context, its batch's already merged in."""
    external = external_ids(context)
    traits = _user_traits(raw, kind, context)
    email = _email(raw, kind, traits, external)
    if kind == "identify" and email is not None and "email" not in traits:
        traits["email"] = email[1]
    user_id = id_value(raw.get("userId"), "userId")
    for fallback in (
        traits.get("userId"),
        traits.get("id"),
        _id_of(external, "user_id"),
    ):
        user_id = user_id or usable_id(fallback)
    anonymous_id = id_value(raw.get("anonymousId"), "anonymousId")
    anonymous_id = anonymous_id or usable_id(_id_of(external, "anonymous_id"))
    return Placed(user_id, anonymous_id, traits, email)


def external_ids(context: Mapping[str, object]) -> dict[str, tuple[str, object]]:
    """Type → (placement, id) of the first entry with an id of each read type
    in the context's external id lists."""
    found: dict[str, tuple[str, object]] = {}
    for name in EXTERNAL_ID_LISTS:
        entries = context.get(name)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("id") is None:
                continue
            kind = entry.get("type")
            if isinstance(kind, str) and kind in READ_TYPES:
                found.setdefault(kind, (f"context.{name}", entry["id"]))
    return found


def _user_traits(
    raw: Mapping[str, object], kind: str, context: Mapping[str, object]
) -> JSONObject:
    in_context = context.get("traits")
    if kind == "identify":
        if in_context is not None and not isinstance(in_context, dict):
            raise InvalidMessage("context.traits must be a JSON object")
        return {**(in_context or {}), **json_object(raw, "traits")}
    return dict(in_context) if isinstance(in_context, dict) else {}


def _email(
    raw: Mapping[str, object],
    kind: str,
    traits: Mapping[str, object],
    external: Mapping[str, tuple[str, object]],
) -> tuple[str, str] | None:
    properties = raw.get("properties")
    if kind not in _EVENT_TYPES or not isinstance(properties, dict):
        properties = {}
    placements: list[tuple[str, object]] = [
        (
            "traits.email" if kind == "identify" else "context.traits.email",
            traits.get("email"),
        ),
        ("properties.email", properties.get("email")),
        external.get("email", ("context.externalIds", None)),
    ]
    for placement, value in placements:
        if isinstance(value, str) and value.strip():
            return placement, value
    return None


def _id_of(external: Mapping[str, tuple[str, object]], kind: str) -> object:
    return external[kind][1] if kind in external else None
