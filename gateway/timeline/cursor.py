"""Timeline cursors: the keyset ``(occurred_at, source, sort_id)`` of an item."""

from __future__ import annotations

from datetime import datetime

from gateway.errors import BadUserInput
from gateway.relay.ids import MAX_KEY
from gateway.relay.pagination import Cursor
from gateway.timeline.items import NUMERIC_IDS, Key, Source, TimelineItem

TIMELINE: Cursor[tuple[str, str, str]] = Cursor("timeline", (str, str, str))


def item_cursor(item: TimelineItem) -> str:
    at, source, sort_id = item.key
    return TIMELINE.encode((at.isoformat(), source, sort_id))


def cursor_key(cursor: str, argument: str) -> Key:
    """The key inside a timeline cursor; BAD_USER_INPUT for anything else."""
    at, source, sort_id = TIMELINE.decode(cursor, argument)
    try:
        moment = datetime.fromisoformat(at)
        kind = Source(source)
        if moment.tzinfo is None or (kind in NUMERIC_IDS and not _key(sort_id)):
            raise ValueError(sort_id)
    except ValueError as exc:
        raise BadUserInput("The cursor is not valid.", argument=argument) from exc
    return (moment, kind.value, sort_id)


def _key(sort_id: str) -> bool:
    """A zero-padded database id: ASCII digits (``"٣".isdigit()`` too), at most
    a ``BIGINT`` (the loaders compare it with ``id`` in SQL)."""
    return sort_id.isascii() and sort_id.isdigit() and int(sort_id) <= MAX_KEY
