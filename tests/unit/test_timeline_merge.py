"""The k-way merge and windows: keyset order, bounds, kinds and limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.timeline.items import Kind, Source, TimelineItem, Window
from gateway.timeline.merge import merge, take

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(minutes: int, source: Source, sort_id: str, kind: Kind) -> TimelineItem:
    at = T0 + timedelta(minutes=minutes)
    return TimelineItem(at, source, sort_id, kind, "", None, sort_id, None)


RUNS = {
    Source.CRM: [item(m, Source.CRM, f"{m:020d}", Kind.NOTE_ADDED) for m in (1, 5, 9)],
    Source.SHOPIFY: [item(m, Source.SHOPIFY, f"o{m}", Kind.ORDER_PLACED) for m in (5, 7)],
    Source.ZENDESK: [item(m, Source.ZENDESK, f"t{m}", Kind.TICKET_OPENED) for m in (2, 9)],
}  # fmt: skip


def page(window: Window) -> list[TimelineItem]:
    return merge([take(run, window) for run in RUNS.values()], window)


def test_items_merge_newest_first_with_source_then_id_breaking_ties():
    merged = page(Window(limit=100))
    assert [(i.occurred_at.minute, i.source) for i in merged] == [
        (9, Source.ZENDESK), (9, Source.CRM), (7, Source.SHOPIFY),
        (5, Source.SHOPIFY), (5, Source.CRM), (2, Source.ZENDESK), (1, Source.CRM),
    ]  # fmt: skip


def test_pages_after_a_key_continue_without_gap_or_duplicate():
    everything = page(Window(limit=100))
    walked: list[TimelineItem] = []
    after = None
    while True:
        found = page(Window(limit=3, after=after))
        walked += found
        if len(found) < 3:
            break
        after = found[-1].key
    assert walked == everything


def test_upward_pages_read_oldest_first_above_the_key():
    everything = page(Window(limit=100))
    above = page(Window(limit=2, before=everything[3].key, newest_first=False))
    assert above == [everything[2], everything[1]]


def test_kinds_and_time_bounds_filter():
    window = Window(
        limit=100,
        kinds=frozenset({Kind.NOTE_ADDED}),
        since=T0 + timedelta(minutes=2),
        until=T0 + timedelta(minutes=9),
    )
    assert [i.occurred_at.minute for i in page(window)] == [5]
    assert not window.wants(Source.SHOPIFY)
    assert window.wants(Source.CRM)
