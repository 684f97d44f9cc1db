"""When a message happened (``occurred_at``), from the four times the Segment
spec puts on a message: ``timestamp``, ``originalTimestamp``, ``sentAt`` and
``receivedAt``.

1. an explicit ``timestamp`` is trusted as sent (server libraries set it from a
   clock we assume is right, and backfills set it to the past);
2. else ``originalTimestamp`` (a device clock) is corrected for the device's
   skew with ``sentAt`` (the device's time of sending; the message's own, else
   its batch's)::

       occurred_at = receivedAt - (sentAt - originalTimestamp)

   without ``sentAt`` it is kept as sent;
3. else ``receivedAt``.

``receivedAt`` is the time the request reached us, unless the message carries
its own: a message relayed by another collector (a Segment or RudderStack
destination, a replay) was received there, and its ``sentAt`` is relative to
that reception. ``sentAt`` alone, without ``originalTimestamp``, changes
nothing. The ``received_at`` column always keeps our own clock.

Sources: Segment, "Timestamps" in the spec's common fields
(https://segment.com/docs/connections/spec/common/#timestamps, repository
segmentio/segment-docs, ``src/connections/spec/common.md``: "Segment
calculates ``timestamp`` as ``timestamp = receivedAt - (sentAt -
originalTimeStamp)``"); RudderStack's server does the same when the message
has no ``timestamp`` and keeps a message's own ``receivedAt``
(rudderlabs/rudder-server ``processor/processor.go`` ``enhanceWithTimeFields``,
``gateway/handle.go``: ``receivedAt`` is set only when absent).

Every time sent, and the resulting ``occurred_at``, must lie in
[``EARLIEST``, ``LATEST``): a year-1 or year-9999 time (or a skew correction
that would land there) is refused as ``invalid_timestamp`` for that message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from gateway.ingest.fields import InvalidMessage

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def occurred_at(
    raw: Mapping[str, object], received_at: datetime, batch_sent_at: datetime | None
) -> datetime:
    """When the message ``raw`` happened; ``received_at`` is when its request
    arrived, ``batch_sent_at`` its batch's ``sentAt``."""
    timestamp = _time(raw, "timestamp")
    original = _time(raw, "originalTimestamp")
    sent_at = _time(raw, "sentAt") or batch_sent_at
    received = _time(raw, "receivedAt") or received_at
    if timestamp is not None:
        return timestamp
    if original is None:
        return received
    if sent_at is None:
        return original
    corrected = received - (sent_at - original)
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
