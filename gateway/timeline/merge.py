"""Cutting runs of items to a window, and the k-way merge of the runs.

Each source hands over at most ``window.limit`` items already in page order,
so the merge reads ``limit`` items from a handful of short runs whatever the
page's depth: the cost of a page depends on its size, not on its position.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence

from gateway.timeline.items import TimelineItem, Window


def take(items: Iterable[TimelineItem], window: Window) -> list[TimelineItem]:
    """The first ``window.limit`` of ``items`` inside ``window``, in page order
    (for upstream lists, already read whole through the cache)."""
    inside = [i for i in items if window.admits(i)]
    inside.sort(key=lambda i: i.key, reverse=window.newest_first)
    return inside[: window.limit]


def merge(runs: Sequence[Sequence[TimelineItem]], window: Window) -> list[TimelineItem]:
    """The first ``window.limit`` items of the runs (each in page order)."""
    merged = heapq.merge(*runs, key=lambda i: i.key, reverse=window.newest_first)
    return list(itertools.islice(merged, window.limit))
