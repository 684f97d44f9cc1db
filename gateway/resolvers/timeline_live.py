"""New timeline events as they happen, for the ``customerTimeline`` subscription.

The subscription remembers the newest events of every source when it starts.
Each change announced for the customer (a webhook, an ingest call, a mutation,
on any replica through ``gateway.changes.feed``) names its source; that source's newest
events are read again, with fresh loaders so nothing stale is reused, and the
ones not seen before are pushed, oldest first. Changes that arrive together are
handled in one read per source. The feed's ``RESYNC`` (after a Redis outage)
names every source.

Resumed with ``after`` (the ``cursor`` of the last event a client received,
before its socket closed — a replica restarting closes it with 1012), the
events newer than the cursor are read and pushed first, oldest first, then
live ones. The feed is listened to before anything is read, and each event
replayed counts as seen, so nothing falls between the replay and the live
part and nothing comes twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Mapping

from connectors.scope import Priority, call_scope
from gateway.changes.bus import CustomerChange
from gateway.changes.feed import ANY_SOURCE, ChangeFeed
from gateway.errors import BadUserInput
from gateway.loaders import Loaders
from gateway.relay.ids import customer_pk
from gateway.resolvers.context import Info
from gateway.resolvers.customer import get_customer
from gateway.resolvers.timeline import read_sources
from gateway.runtime.services import Services
from gateway.timeline.cursor import cursor_key
from gateway.timeline.items import Key, Source, TimelineItem, Window

HEAD = 20
"""Newest events remembered per source: a burst larger than this between two
reads would push its oldest events as if they had been seen."""

REPLAY = 500
"""Most events a resumed subscription replays; a cursor further behind is
refused (``BAD_USER_INPUT``): the client reads the timeline instead."""

SOURCE_OF_CHANGE: Mapping[str, Source] = {s.value: s for s in Source}


@contextlib.asynccontextmanager
async def _feed(services: Services) -> AsyncIterator[ChangeFeed]:
    """The services' feed, or (services built by hand) one of this process."""
    if services.feed is not None:
        yield services.feed
        return
    feed = ChangeFeed(services.changes)
    await feed.start()
    try:
        yield feed
    finally:
        await feed.aclose()


async def _head(
    services: Services, customer_id: int, source: Source
) -> list[TimelineItem] | None:
    """The source's newest events, newest first; ``None`` while it fails.
    Each read has its own deadline: the subscription itself has none."""
    with call_scope(services.settings.read_deadline_seconds, Priority.INTERACTIVE):
        items, failures = await read_sources(
            Loaders(services), customer_id, [source], Window(limit=HEAD)
        )
    return None if failures else items


async def _replay(
    services: Services, customer_id: int, sources: list[Source], after: Key
) -> list[TimelineItem]:
    """The events newer than ``after``, oldest first (of the sources that
    answer: one that fails now has no baseline either, as at any start)."""
    window = Window(limit=REPLAY + 1, before=after, newest_first=False)
    with call_scope(services.settings.read_deadline_seconds, Priority.INTERACTIVE):
        items, _ = await read_sources(Loaders(services), customer_id, sources, window)
    if len(items) > REPLAY:
        raise BadUserInput(
            f"More than {REPLAY} events came after this cursor: read them with "
            "the timeline field, then subscribe after the newest.",
            argument="after",
        )
    return items


def _drain(first: CustomerChange, queue: asyncio.Queue[CustomerChange]) -> set[str]:
    sources = {first.source}
    while not queue.empty():
        sources.add(queue.get_nowait().source)
    return sources


async def new_events(
    info: Info,
    customer_id: str,
    allowed: Collection[Source] | None = None,
    after: str | None = None,
) -> AsyncIterator[TimelineItem]:
    """Raises NOT_FOUND for an unknown customer, BAD_USER_INPUT for a cursor
    that is not a timeline's, before anything is pushed. A merged customer's
    id follows its survivor's timeline."""
    resume = cursor_key(after, "after") if after is not None else None
    pk = (await get_customer(info, customer_pk(customer_id))).id
    services = info.context.services
    sources = [s for s in Source if allowed is None or s in allowed]
    async with _feed(services) as feed, feed.listen(pk) as changes:
        heads = await asyncio.gather(*(_head(services, pk, s) for s in sources))
        seen: dict[Source, set[Key] | None] = {
            s: {i.key for i in head} if head is not None else None
            for s, head in zip(sources, heads, strict=True)
        }
        if resume is not None:
            for item in await _replay(services, pk, sources, resume):
                if (known := seen[item.source]) is not None:
                    known.add(item.key)
                yield item
        while True:
            named = _drain(await changes.get(), changes)
            if ANY_SOURCE in named:
                named = {s.value for s in sources}
            for source in (SOURCE_OF_CHANGE[n] for n in named if n in SOURCE_OF_CHANGE):
                if source not in seen:
                    continue
                head = await _head(services, pk, source)
                if head is None:
                    continue
                known = seen[source]
                seen[source] = {i.key for i in head}
                if known is None:
                    continue  # no baseline while the source was failing
                for item in reversed(head):
                    if item.key not in known:
                        yield item
