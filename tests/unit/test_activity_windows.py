"""A person's activity read in windows: sizes, what a read of one more event
says, ties at a window's edge, and several persons' windows combined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.models import (
    ActivityEvent,
    ActivityKind,
    ActivityWindow,
    PersonActivity,
    PersonSummary,
)
from gateway.loaders import combine
from gateway.loaders.analytics import (
    ACTIVITY_LIMIT,
    activity_window,
    as_window,
    read_limit,
)

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def event(n: int, *, at: int | None = None, person: str = "p") -> ActivityEvent:
    """Event ``n``, ``at`` seconds before ``T0`` (``n`` unless given)."""
    return ActivityEvent(
        id=f"{person}-{n:03d}",
        distinct_id=person,
        kind=ActivityKind.PAGE_VIEW,
        name="$pageview",
        occurred_at=T0 - timedelta(seconds=n if at is None else at),
    )


def activity(*events: ActivityEvent) -> PersonActivity:
    return PersonActivity(events=events, summary=PersonSummary(T0, 2))


@pytest.mark.parametrize(
    ("needed", "size"),
    [(1, 5), (5, 5), (6, 10), (20, 20), (21, 50), (80, 100), (101, 100)],
)
def test_a_window_is_a_tier_and_never_past_the_activity_limit(
    needed: int, size: int
) -> None:
    assert activity_window(needed) == size


def test_a_window_reads_one_more_event_except_the_largest() -> None:
    assert [read_limit(s) for s in (5, 20, 50, ACTIVITY_LIMIT)] == [6, 21, 51, 100]


def test_a_read_that_found_no_more_is_a_complete_window() -> None:
    found = activity(*(event(n) for n in range(5)))
    assert as_window(found, 5) == ActivityWindow(5, True, found)


def test_a_read_that_found_one_more_keeps_the_window_and_says_more_exist() -> None:
    window = as_window(activity(*(event(n) for n in range(6))), 5)
    assert not window.complete
    assert [e.id for e in window.activity.events] == [f"p-{n:03d}" for n in range(5)]
    assert window.activity.summary == PersonSummary(T0, 2)


def test_the_largest_window_is_complete_whatever_it_read() -> None:
    found = activity(*(event(n) for n in range(ACTIVITY_LIMIT)))
    assert as_window(found, ACTIVITY_LIMIT).complete


def test_events_tied_with_the_first_left_out_are_left_out_too() -> None:
    """The read of 6 cut a group sharing one millisecond: the window holds
    only what is surely the newest, so no page ends inside the group."""
    tied = [event(n, at=4) for n in (3, 4, 5)]
    window = as_window(activity(event(0), event(1), event(2), *tied), 5)
    assert not window.complete
    assert window.size == 5
    assert [e.id for e in window.activity.events] == ["p-000", "p-001", "p-002"]


def test_a_window_wholly_tied_holds_nothing_but_says_more_exist() -> None:
    window = as_window(activity(*(event(n, at=1) for n in range(6))), 5)
    assert (window.complete, window.activity.events) == (False, ())


def test_complete_windows_combine_into_every_event_newest_first() -> None:
    a = as_window(activity(event(1, person="a"), event(4, person="a")), 5)
    b = as_window(activity(event(2, person="b")), 5)
    merged = combine.activity_windows([a, b])
    assert merged.complete
    assert [e.id for e in merged.activity.events] == ["a-001", "b-002", "a-004"]
    assert merged.activity.summary == PersonSummary(T0, 4)


def test_an_incomplete_window_bounds_what_the_combination_holds() -> None:
    """``b`` left out events older than its oldest (6 s): ``a``'s at 7 s and
    8 s may be newer than those, so the combination stops at 6 s."""
    a = as_window(activity(*(event(n, person="a") for n in (1, 7, 8))), 5)
    b = as_window(activity(*(event(n, person="b") for n in range(2, 8))), 5)
    merged = combine.activity_windows([a, b])
    assert not merged.complete
    assert [e.id for e in merged.activity.events] == [
        "a-001",
        "b-002",
        "b-003",
        "b-004",
        "b-005",
        "b-006",
    ]


def test_an_empty_incomplete_window_leaves_the_combination_empty() -> None:
    a = as_window(activity(event(1, person="a")), 5)
    b = as_window(activity(*(event(n, at=9, person="b") for n in range(6))), 5)
    merged = combine.activity_windows([a, b])
    assert (merged.complete, merged.activity.events) == (False, ())
