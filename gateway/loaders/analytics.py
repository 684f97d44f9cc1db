"""PostHog's loaders: a customer's web activity, last-seen time and sessions,
read from the local event mirror (``gateway.mirror``) first.

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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from aiodataloader import DataLoader

from connectors.models import PersonActivity, PersonSummary
from connectors.posthog.client import PostHogConnector
from gateway import metrics
from gateway.db.models import utcnow
from gateway.db.shared_session import SharedSession
from gateway.loaders import combine
from gateway.loaders.upstream import ByCustomer, CachedLoader, SourceLinks
from gateway.mirror import reads
from gateway.mirror.fallback import LiveFallback, live_fallback

if TYPE_CHECKING:
    from gateway.runtime.services import Services

V = TypeVar("V")

ACTIVITY_LIMIT = reads.ACTIVITY_LIMIT
ACTIVITY_DAYS = reads.ACTIVITY_DAYS
SESSION_DAYS = reads.SESSION_DAYS


def _not_mirrored(
    keys: Sequence[str], answers: Callable[[str], bool | None]
) -> tuple[list[str], list[str]]:
    """The distinct keys to read from the mirror, and those the links read
    found it cannot answer for (counted as its misses, not read)."""
    unique = list(dict.fromkeys(keys))
    skipped = [k for k in unique if answers(k) is False]
    if skipped:
        metrics.MIRROR_LOOKUPS.labels(result="miss").inc(len(skipped))
        unique = [k for k in unique if answers(k) is not False]
    return unique, skipped


async def _live(
    loader: CachedLoader[V] | None, keys: Sequence[str], default: V
) -> dict[str, V | BaseException]:
    """The live loader's answer for each key (one batch for all of them), a
    failed key answered with its error; ``default`` with the fallback off."""
    found: dict[str, V | BaseException] = {}
    if loader is None:
        return found | dict.fromkeys(keys, default)
    answers = await asyncio.gather(
        *(loader.load(key) for key in keys), return_exceptions=True
    )
    found.update(zip(keys, answers, strict=True))
    return found


class ActivityByPersonLoader(DataLoader[str, PersonActivity]):
    """Newest events and summary by distinct id: the mirror first, the live
    loader for the persons it lacks."""

    def __init__(
        self,
        sessions: SharedSession,
        live: CachedLoader[PersonActivity] | None,
        *,
        batch: bool,
        mirror_answers: Callable[[str], bool | None] = lambda _: None,
    ) -> None:
        self.requested: dict[str, asyncio.Future[PersonActivity]] = {}
        """This request's loads by key (aiodataloader's own cache map)."""
        super().__init__(batch=batch, cache_map=self.requested)
        self.sessions = sessions
        self.live = live
        self.mirror_answers = mirror_answers
        """Whether the mirror answers for a person, when the links read knows."""

    async def batch_load_fn(self, keys: Sequence[str]) -> list[PersonActivity]:
        metrics.BATCH_SIZE.labels(loader="posthog_mirror_activity").observe(len(keys))
        asked, missing = _not_mirrored(keys, self.mirror_answers)
        mirrored: dict[str, PersonActivity] = {}
        if asked:
            async with self.sessions(urgent=True) as session:
                mirrored = await reads.activity(
                    session,
                    asked,
                    limit=ACTIVITY_LIMIT,
                    days=ACTIVITY_DAYS,
                    session_days=SESSION_DAYS,
                    now=utcnow(),
                )
        found: dict[str, PersonActivity | BaseException] = dict(mirrored)
        missing += [k for k in asked if k not in mirrored]
        if missing:
            live = await _live(self.live, missing, PersonActivity())
            found.update(live)
        # aiodataloader fails the load of a key answered with an exception
        return cast(list[PersonActivity], [found[k] for k in keys])


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
        requested = self.activity.requested
        loading = {k: requested[k] for k in keys if k in requested}
        rest = [k for k in dict.fromkeys(keys) if k not in loading]
        found: dict[str, PersonSummary | BaseException] = {}
        if rest:
            metrics.BATCH_SIZE.labels(loader="posthog_mirror_summary").observe(
                len(rest)
            )
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
                found[key] = (await activity).summary
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
        self.activity = ByCustomer(
            links, self.activity_by_person.load, combine.activities
        )
        self.summary = ByCustomer(links, self.summary_by_person.load, combine.summaries)


def _live_activity(
    services: Services, fallback: LiveFallback | None
) -> CachedLoader[PersonActivity] | None:
    if fallback is None:
        return None

    async def fetch(ids: Sequence[str]) -> dict[str, PersonActivity]:
        return await fallback.activity(
            ids, limit=ACTIVITY_LIMIT, days=ACTIVITY_DAYS, session_days=SESSION_DAYS
        )

    caches = services.caches
    return CachedLoader(
        "posthog_activity",
        caches.posthog_activity if caches is not None else None,
        fetch,
        PersonActivity(),
        batch=services.settings.loaders_enabled,
    )


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
