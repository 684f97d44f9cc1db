"""When an ingested message happened: the four times of the Segment spec, in
every combination a client sends them (gateway/ingest/times.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.ingest.fields import InvalidMessage
from gateway.ingest.times import occurred_at

NOW = datetime(2025, 3, 20, 13, 0, 0, tzinfo=UTC)
"""When the request reached us."""
DEVICE_AHEAD = timedelta(hours=2)
"""A device clock two hours fast."""


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


HAPPENED = NOW - timedelta(minutes=5)
RELAYED_AT = NOW - timedelta(days=1)
"""When another collector received a relayed message."""

CASES: list[tuple[str, dict[str, str], datetime | None, datetime]] = [
    ("nothing: our reception", {}, None, NOW),
    (
        "timestamp as sent, even beside originalTimestamp and sentAt",
        {
            "timestamp": "2024-01-02T03:04:05.678Z",
            "originalTimestamp": iso(HAPPENED + DEVICE_AHEAD),
            "sentAt": iso(NOW + DEVICE_AHEAD),
        },
        None,
        datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    ),
    (
        "originalTimestamp corrected by the message's sentAt",
        {
            "originalTimestamp": iso(HAPPENED + DEVICE_AHEAD),
            "sentAt": iso(NOW + DEVICE_AHEAD),
        },
        None,
        HAPPENED,
    ),
    (
        "originalTimestamp corrected by the batch's sentAt",
        {"originalTimestamp": iso(HAPPENED + DEVICE_AHEAD)},
        NOW + DEVICE_AHEAD,
        HAPPENED,
    ),
    (
        "the message's sentAt before the batch's",
        {
            "originalTimestamp": iso(HAPPENED + DEVICE_AHEAD),
            "sentAt": iso(NOW + DEVICE_AHEAD),
        },
        NOW - timedelta(hours=9),
        HAPPENED,
    ),
    (
        "originalTimestamp without sentAt: as sent",
        {"originalTimestamp": iso(HAPPENED + DEVICE_AHEAD)},
        None,
        HAPPENED + DEVICE_AHEAD,
    ),
    ("sentAt alone changes nothing", {"sentAt": iso(NOW + DEVICE_AHEAD)}, None, NOW),
    (
        "a relayed message's receivedAt",
        {"receivedAt": iso(RELAYED_AT)},
        None,
        RELAYED_AT,
    ),
    (
        "a relayed message corrected against its own receivedAt",
        {
            "originalTimestamp": iso(RELAYED_AT - timedelta(minutes=5) + DEVICE_AHEAD),
            "sentAt": iso(RELAYED_AT + DEVICE_AHEAD),
            "receivedAt": iso(RELAYED_AT),
        },
        None,
        RELAYED_AT - timedelta(minutes=5),
    ),
    (
        "an offset other than UTC",
        {"timestamp": "2025-03-20T09:00:00-04:00"},
        None,
        datetime(2025, 3, 20, 13, 0, tzinfo=UTC),
    ),
    (
        "a time without zone is UTC",
        {"timestamp": "2025-03-20T09:00:00"},
        None,
        NOW - timedelta(hours=4),
    ),
]


@pytest.mark.parametrize(
    ("raw", "batch_sent_at", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_message_happened_when_the_segment_spec_says(
    raw: dict[str, str], batch_sent_at: datetime | None, expected: datetime
) -> None:
    assert occurred_at(raw, NOW, batch_sent_at) == expected


@pytest.mark.parametrize(
    "field", ["timestamp", "originalTimestamp", "sentAt", "receivedAt"]
)
def test_each_of_the_four_times_is_checked(field: str) -> None:
    raw = {"originalTimestamp": iso(HAPPENED), field: "9999-12-31T23:59:59Z"}
    with pytest.raises(InvalidMessage) as raised:
        occurred_at(raw, NOW, None)
    assert raised.value.code == "invalid_timestamp"
    assert field in raised.value.reason


def test_a_relayed_receivedat_that_carries_the_correction_out_of_range_is_refused() -> (
    None
):
    raw = {
        "originalTimestamp": "1970-01-01T00:00:00Z",
        "sentAt": "2099-12-31T00:00:00Z",
        "receivedAt": "1970-01-02T00:00:00Z",
    }
    with pytest.raises(InvalidMessage, match="corrected by sentAt"):
        occurred_at(raw, NOW, None)
