"""Loaders of the timeline's local sources: one keyset query per window.

``customer_events`` (our CRM history) and ``tracked_events`` (the ingest API)
are read with ``WHERE customer_id = ? AND <keyset bound> ORDER BY occurred_at,
id LIMIT n`` on their ``(customer_id, occurred_at, id)`` index, so a page deep
in the past costs one index range scan, the same as the first page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from gateway.db import models
from gateway.loaders.crm import SessionLoader
from gateway.timeline.items import Key, Kind, Source, Window
from gateway.timeline.mapping import SEGMENT_EVENTS, SEGMENT_TYPES


@dataclass(frozen=True, slots=True)
class WindowKey:
    customer_id: int
    window: Window


def _bound(
    occurred: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[int],
    source: Source,
    key: Key,
    *,
    older: bool,
) -> ColumnElement[bool]:
    """Rows of ``source`` before (``older``) or after ``key`` in the timeline
    order ``(occurred_at, source, id)``."""
    at, key_source, key_id = key
    if source.value != key_source:
        earlier_source = source.value < key_source
        inclusive = earlier_source if older else not earlier_source
        if older:
            return occurred <= at if inclusive else occurred < at
        return occurred >= at if inclusive else occurred > at
    number = int(key_id)
    if older:
        return or_(occurred < at, and_(occurred == at, row_id < number))
    return or_(occurred > at, and_(occurred == at, row_id > number))


def _windowed(
    model: Any, source: Source, key: WindowKey, *extra: ColumnElement[bool]
) -> Any:
    window = key.window
    occurred, row_id = model.occurred_at, model.id
    conditions = [model.customer_id == key.customer_id, *extra]
    if window.after is not None:
        conditions.append(_bound(occurred, row_id, source, window.after, older=True))
    if window.before is not None:
        conditions.append(_bound(occurred, row_id, source, window.before, older=False))
    if window.since is not None:
        conditions.append(occurred >= window.since)
    if window.until is not None:
        conditions.append(occurred < window.until)
    order = (
        (occurred.desc(), row_id.desc())
        if window.newest_first
        else (occurred.asc(), row_id.asc())
    )
    return select(model).where(*conditions).order_by(*order).limit(window.limit)


class CustomerEventsByWindowLoader(SessionLoader):
    async def batch_load_fn(
        self, keys: Sequence[WindowKey]
    ) -> list[list[models.CustomerEvent]]:
        found = []
        for key in keys:
            kinds = [k.value for k in key.window.kinds]
            extra = [models.CustomerEvent.kind.in_(kinds)] if kinds else []
            found.append(
                await self.scalars(
                    _windowed(models.CustomerEvent, Source.CRM, key, *extra)
                )
            )
        return found


def _segment_kinds(kinds: frozenset[Kind]) -> ColumnElement[bool]:
    """The ``tracked_events`` rows that map to ``kinds`` (see ``ingest_item``)."""
    if not kinds:
        return true()
    event = models.TrackedEvent
    named = [name for name, kind in SEGMENT_EVENTS.items() if kind in kinds]
    clauses: list[ColumnElement[bool]] = []
    if Kind.PAGE_VIEWED in kinds:
        clauses.append(event.type.in_(("page", "screen")))
    if named:
        clauses.append(and_(event.type == "track", event.name.in_(named)))
    if Kind.CUSTOM_EVENT in kinds:
        clauses.append(
            and_(
                event.type == "track",
                or_(event.name.is_(None), event.name.not_in(list(SEGMENT_EVENTS))),
            )
        )
    return or_(*clauses) if clauses else false()


class TrackedEventsByWindowLoader(SessionLoader):
    async def batch_load_fn(
        self, keys: Sequence[WindowKey]
    ) -> list[list[models.TrackedEvent]]:
        event = models.TrackedEvent
        found = []
        for key in keys:
            statement = _windowed(
                event,
                Source.INGEST,
                key,
                event.type.in_(SEGMENT_TYPES),
                _segment_kinds(key.window.kinds),
            )
            found.append(await self.scalars(statement))
        return found
