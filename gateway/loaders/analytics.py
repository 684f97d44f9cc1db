"""PostHog's loaders: a customer's web activity, last-seen time and sessions,
read from the local event mirror (``gateway.mirror``) first.

The mirror is read in windows (tiers of ``gateway.loaders.windows``): a view
of 5 events reads a person's newest 6 — the sixth says whether more exist —
not their ``ACTIVITY_LIMIT``, and a bigger page reads a bigger window
(``activity_window``). The live fallback reads the largest at once
(``_live_activity``).

Per batch, the mirror costs one SQL statement for the summaries and one for
the events of the persons it holds, read before the request's other reads
waiting for their turn (``SharedSession``: the live call waits for them).
A person the customer's links read found the mirror cannot answer for
(``reads.answers_for``, read with the links as ``/graphql`` starts on the
customer) is not read there at all. Only the persons it has no event of go
to the live loaders, which read
through the cache and the budgeted live fallback
(``gateway.mirror.fallback``) — one HogQL query per level for all of them,
none at all for a view of mirrored customers. With the fallback off
(``CG_POSTHOG_LIVE_FALLBACK=false``) an unmirrored person has no events.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from aiodataloader import DataLoader

from connectors.models import ActivityWindow, PersonActivity, PersonSummary
from connectors.posthog.client import PostHogConnector
from gateway import metrics
from gateway.db.models import utcnow
from gateway.db.shared_session import SharedSession
from gateway.loaders import combine
from gateway.loaders.upstream import ByCustomer, CachedLoader, SourceLinks
from gateway.loaders.windows import NewestKey, largest, window_size
from gateway.mirror import reads
from gateway.mirror.fallback import LiveFallback, live_fallback

if TYPE_CHECKING:
    from gateway.runtime.services import Services

V = TypeVar("V")

ACTIVITY_LIMIT = reads.ACTIVITY_LIMIT
ACTIVITY_DAYS = reads.ACTIVITY_DAYS
SESSION_DAYS = reads.SESSION_DAYS
EMPTY = ActivityWindow(ACTIVITY_LIMIT, True)
"""The window of a person with no events."""

LiveActivity = Callable[
    [Sequence[str], int], Awaitable[dict[str, ActivityWindow | BaseException]]
]
"""The live fallback's windows of persons the mirror lacks, at least the size
asked (``_live_activity``), a failed person answered with its error."""


def activity_window(needed: int) -> int:
    """The window that holds a person's newest ``needed`` events: a tier of
    ``window_size``, the whole ``ACTIVITY_LIMIT`` at most."""
    return min(window_size(needed), ACTIVITY_LIMIT)


def read_limit(size: int) -> int:
    """Events to read for a window of ``size``: one more, which only says
    whether more exist — but never more than ``ACTIVITY_LIMIT``, the most any
    page shows."""
    return size + 1 if size < ACTIVITY_LIMIT else ACTIVITY_LIMIT


def as_window(activity: PersonActivity, size: int) -> ActivityWindow:
    """The window of ``size`` in ``activity``, read ``read_limit(size)`` deep.

    When that read found more events than the window holds, the window keeps
    only those newer than the first it left out: events sharing that one's
    timestamp (a browser stamps to the millisecond) may not all have been
    read, and a page ending among them would skip the others."""
    events = activity.events
    if size >= ACTIVITY_LIMIT or len(events) <= size:
        return ActivityWindow(size, True, activity)
    newest = sorted(events, key=lambda e: (e.occurred_at, e.id), reverse=True)
    first_left_out = newest[size].occurred_at
    kept = tuple(e for e in newest[:size] if e.occurred_at > first_left_out)
    return ActivityWindow(size, False, dataclasses.replace(activity, events=kept))


def as_windows(
    found: Mapping[str, PersonActivity], size: int
) -> dict[str, ActivityWindow]:
    """Each person's window of ``size`` (a batch reads its largest for all)."""
    return {d: as_window(activity, size) for d, activity in found.items()}


def _not_mirrored(
    keys: Sequence[str], answers: Callable[[str], bool | None]
) -> tuple[list[str], list[str]]:
    """The distinct keys to read from the mirror, and those the links read
    found it cannot answer for (counted as its misses, not read)."""
    unique = list(dict.fromkeys(keys))
    skipped = [k for k in unique if answers(k) is False]
    if skipped:
        metrics.labelled(metrics.MIRROR_LOOKUPS, result="miss").inc(len(skipped))
        unique = [k for k in unique if answers(k) is not False]
    return unique, skipped


async def _live(
    loader: CachedLoader[V] | None, keys: Sequence[str], default: V
) -> dict[str, V | BaseException]:
    """The live loader's answer for each key (one batch for all of them, sent
    at once: ``CachedLoader.load_now``), a failed key answered with its error;
    ``default`` with the fallback off."""
    if loader is None:
        return dict.fromkeys(keys, default)
    return dict(zip(keys, await loader.load_now(keys), strict=True))


class ActivityByPersonLoader(DataLoader[NewestKey, ActivityWindow]):
    """A window of newest events and the summary by distinct id: the mirror
    first, the live loader for the persons it lacks."""

    def __init__(
        self,
        sessions: SharedSession,
        live: LiveActivity | None,
        *,
        batch: bool,
        mirror_answers: Callable[[str], bool | None] = lambda _: None,
    ) -> None:
        self.requested: dict[NewestKey, asyncio.Future[ActivityWindow]] = {}
        """This request's loads by key (aiodataloader's own cache map)."""
        super().__init__(batch=batch, cache_map=self.requested)
        self.sessions = sessions
        self.live = live
        self.mirror_answers = mirror_answers
        """Whether the mirror answers for a person, when the links read knows."""

    def loading(self, distinct_id: str) -> asyncio.Future[ActivityWindow] | None:
        """This request's load of a window of ``distinct_id``'s, if any."""
        for key, future in self.requested.items():
            if key.external_id == distinct_id:
                return future
        return None

    async def batch_load_fn(self, keys: Sequence[NewestKey]) -> list[ActivityWindow]:
        metrics.labelled(metrics.BATCH_SIZE, loader="posthog_mirror_activity").observe(
            len(keys)
        )
        sizes = largest(keys)
        asked, missing = _not_mirrored(list(sizes), self.mirror_answers)
        found: dict[str, ActivityWindow | BaseException] = {}
        if asked:
            size = max(sizes[d] for d in asked)
            async with self.sessions(urgent=True) as session:
                mirrored = await reads.activity(
                    session,
                    asked,
                    limit=read_limit(size),
                    days=ACTIVITY_DAYS,
                    session_days=SESSION_DAYS,
                    now=utcnow(),
                )
            found.update(as_windows(mirrored, size))
            missing += [d for d in asked if d not in mirrored]
        if missing and self.live is not None:
            found.update(await self.live(missing, max(sizes[d] for d in missing)))
        elif missing:  # the live fallback off
            found.update(dict.fromkeys(missing, EMPTY))
        # aiodataloader fails the load of a key answered with an exception
        return cast(list[ActivityWindow], [found[k.external_id] for k in keys])


class SummaryByPersonLoader(DataLoader[str, PersonSummary]):
    """Last seen and sessions count by distinct id, taken from the activity
    load when this request also loads the person's activity (so asking for
    both costs the activity's reads only). Alone (a page of customers'
    ``lastSeenAt``) it reads the mirror's summaries, and the live summaries
    (no events) of the persons the mirror lacks."""

    def __init__(
        self,
        sessions: SharedSession,
        activity: ActivityByPersonLoader,
        live: CachedLoader[PersonSummary] | None,
        *,
        batch: bool,
    ) -> None:
        super().__init__(batch=batch)
        self.sessions = sessions
        self.activity = activity
        self.live = live
        self.mirror_answers = activity.mirror_answers

    async def batch_load_fn(self, keys: Sequence[str]) -> list[PersonSummary]:
        loading = {
            k: future
            for k in dict.fromkeys(keys)
            if (future := self.activity.loading(k)) is not None
        }
        rest = [k for k in dict.fromkeys(keys) if k not in loading]
        found: dict[str, PersonSummary | BaseException] = {}
        if rest:
            metrics.labelled(
                metrics.BATCH_SIZE, loader="posthog_mirror_summary"
            ).observe(len(rest))
            asked, missing = _not_mirrored(rest, self.mirror_answers)
            if asked:
                async with self.sessions(urgent=True) as session:
                    mirrored = await reads.summaries(
                        session, asked, session_days=SESSION_DAYS, now=utcnow()
                    )
                found.update(mirrored)
                missing += [k for k in asked if k not in mirrored]
            if missing:
                live = await _live(self.live, missing, PersonSummary())
                found.update(live)
        for key, activity in loading.items():
            try:
                found[key] = (await activity).activity.summary
            except Exception as exc:  # the activity's error is this key's too
                found[key] = exc
        return cast(list[PersonSummary], [found[k] for k in keys])


class PostHogLoaders:
    def __init__(
        self,
        services: Services,
        posthog: PostHogConnector,
        links: SourceLinks,
        sessions: SharedSession,
    ) -> None:
        fallback = live_fallback(
            posthog, services.settings.posthog_live_fallback, services.sessions
        )
        batch = services.settings.loaders_enabled
        self.activity_by_person = ActivityByPersonLoader(
            sessions,
            _live_activity(services, fallback),
            batch=batch,
            mirror_answers=links.marked,
        )
        self.summary_by_person = SummaryByPersonLoader(
            sessions,
            self.activity_by_person,
            _live_summaries(services, fallback),
            batch=batch,
        )
        by_person = self.activity_by_person  # not self: see ShopifyLoaders.history
        self.activity = ByCustomer(
            links,
            lambda distinct_id, size: by_person.load(NewestKey(distinct_id, size)),
            combine.activity_windows,
        )
        self.summary = ByCustomer(links, self.summary_by_person.load, combine.summaries)


def _live_activity(
    services: Services, fallback: LiveFallback | None
) -> LiveActivity | None:
    """The live fallback's activity.

    With the cache, each person's newest ``ACTIVITY_LIMIT`` events, in one
    query whatever the page. PostHog's budget counts queries, not rows
    (``gateway.mirror.fallback``): a window per page size would spend a query
    for each size a person's pages reach, where this spends one per person
    and TTL, and its cached window answers every page — and, stale while
    PostHog fails, every page still.

    Without it (``CG_CACHE_ENABLED=false``) nothing keeps what a page does
    not show, and every request spends a query anyway: a person's first read
    in a request is its largest page's window and one more event
    (``read_limit``), as the mirror is read — a view of 50 decodes and maps 51
    events, not 100 (``ShownLive``)."""
    if fallback is None:
        return None

    async def fetch(ids: Sequence[str], size: int) -> dict[str, ActivityWindow]:
        found = await fallback.activity(
            ids, limit=read_limit(size), days=ACTIVITY_DAYS, session_days=SESSION_DAYS
        )
        return as_windows(found, size)

    caches = services.caches
    if caches is None:
        return ShownLive(fetch)
    loader = CachedLoader(
        "posthog_activity",
        caches.posthog_activity,
        lambda ids: fetch(ids, ACTIVITY_LIMIT),
        EMPTY,
        batch=services.settings.loaders_enabled,
    )
    return lambda ids, _size: _live(loader, ids, EMPTY)


class ShownLive:
    """PostHog's live activity of one request with the cache off: a person's
    first read is as deep as asked, and answers the request's later pages it
    covers (once landed, when still in flight); a page needing more than
    that read holds (a bigger one, a cursor whose events moved, a window cut
    among events of one millisecond: ``as_window``) reads the newest
    ``ACTIVITY_LIMIT`` — so at most two queries a person and request, one for
    any single page or batch. A batch is one query; its failure is each
    person's."""

    def __init__(
        self,
        fetch: Callable[[Sequence[str], int], Awaitable[dict[str, ActivityWindow]]],
    ) -> None:
        self.fetch = fetch
        self.read: dict[str, ActivityWindow] = {}
        self.reading: dict[str, tuple[int, asyncio.Future[None]]] = {}
        """Reads in flight by person: how deep, and when they land."""

    async def __call__(
        self, ids: Sequence[str], size: int
    ) -> dict[str, ActivityWindow | BaseException]:
        metrics.labelled(metrics.BATCH_SIZE, loader="posthog_activity").observe(
            len(ids)
        )
        in_flight = [self.reading[d] for d in ids if d in self.reading]
        if deep_enough := {landed for depth, landed in in_flight if depth >= size}:
            await asyncio.wait(deep_enough)
        wanted = [d for d in ids if not self._covered(d, size)]
        failed: dict[str, BaseException] = {}
        if wanted:
            again = any(d in self.read or d in self.reading for d in wanted)
            depth = ACTIVITY_LIMIT if again else size
            landed = asyncio.get_running_loop().create_future()
            self.reading.update(dict.fromkeys(wanted, (depth, landed)))
            try:
                found = await self.fetch(wanted, depth)
            except Exception as exc:
                failed = dict.fromkeys(wanted, exc)
            else:
                self.read.update((d, found.get(d, EMPTY)) for d in wanted)
            finally:
                for d in wanted:
                    if d in self.reading and self.reading[d][1] is landed:
                        del self.reading[d]
                landed.set_result(None)
        return {d: failed[d] if d in failed else self.read[d] for d in ids}

    def _covered(self, distinct_id: str, size: int) -> bool:
        window = self.read.get(distinct_id)
        return window is not None and (window.complete or window.size >= size)


def _live_summaries(
    services: Services, fallback: LiveFallback | None
) -> CachedLoader[PersonSummary] | None:
    if fallback is None:
        return None

    async def fetch(ids: Sequence[str]) -> dict[str, PersonSummary]:
        return await fallback.summaries(ids, session_days=SESSION_DAYS)

    caches = services.caches
    return CachedLoader(
        "posthog_summary",
        caches.posthog_summary if caches is not None else None,
        fetch,
        PersonSummary(),
        batch=services.settings.loaders_enabled,
    )
