"""Timeline reads: arguments → a window → every wanted source → the merge.

A source that fails (an upstream down, throttled, refusing us) leaves its items
out of the page and is reported with its ``ConnectorError``; the page is still
served from the other sources, because a rep would rather see most of the
history than none of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from graphql import GraphQLError

from connectors.errors import ConnectorError
from gateway.auth import embed_tokens as embed
from gateway.errors import BadUserInput, NotFound
from gateway.loaders import Loaders
from gateway.loaders.timeline_sources import PRODUCERS
from gateway.relay.ids import customer_pk
from gateway.relay.pagination import check_first
from gateway.resolvers.context import Info
from gateway.resolvers.customer import get_customer
from gateway.timeline.cursor import cursor_key
from gateway.timeline.items import Kind, Source, TimelineItem, Window
from gateway.timeline.merge import merge

log = logging.getLogger("gateway.timeline")

DEFAULT_PAGE = 20


@dataclass(frozen=True, slots=True)
class TimelineArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    kinds: frozenset[Kind] = frozenset()
    sources: frozenset[Source] = frozenset()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class TimelinePage:
    items: Sequence[TimelineItem]
    """Newest first."""
    has_next: bool
    has_previous: bool
    failures: Sequence[tuple[Source, ConnectorError]] = field(default_factory=tuple)


def window_of(args: TimelineArgs, max_page: int) -> tuple[Window, int]:
    """The window to read (one item more than the page) and the page size."""
    if args.first is not None and args.last is not None:
        raise BadUserInput("Give `first` or `last`, not both.")
    if args.since and args.until and args.since >= args.until:
        raise BadUserInput("`since` must be before `until`.", argument="since")
    requested = args.first if args.last is None else args.last
    size = DEFAULT_PAGE if requested is None else check_first(requested, max_page)
    window = Window(
        limit=size + 1,
        after=cursor_key(args.after, "after") if args.after is not None else None,
        before=cursor_key(args.before, "before") if args.before is not None else None,
        since=args.since,
        until=args.until,
        newest_first=args.last is None,
        kinds=args.kinds,
    )
    return window, size


async def read_page(
    loaders: Loaders,
    customer_id: int,
    args: TimelineArgs,
    max_page: int,
    allowed: Collection[Source] | None = None,
) -> TimelinePage:
    """One page of a customer's timeline; ``allowed`` narrows the sources (an
    embed token's scope)."""
    window, size = window_of(args, max_page)
    sources = [
        s
        for s in Source
        if (not args.sources or s in args.sources)
        and (allowed is None or s in allowed)
        and window.wants(s)
    ]
    items, failures = await read_sources(loaders, customer_id, sources, window)
    more = len(items) > size
    items = items[:size]
    if window.newest_first:
        return TimelinePage(items, more, args.after is not None, failures)
    return TimelinePage(items[::-1], args.before is not None, more, failures)


async def read_sources(
    loaders: Loaders, customer_id: int, sources: Sequence[Source], window: Window
) -> tuple[list[TimelineItem], list[tuple[Source, ConnectorError]]]:
    """The merge of ``sources`` in ``window``, and the sources that failed."""
    results = await asyncio.gather(
        *(PRODUCERS[s](loaders, customer_id, window) for s in sources),
        return_exceptions=True,
    )
    runs: list[list[TimelineItem]] = []
    failures: list[tuple[Source, ConnectorError]] = []
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, ConnectorError):
            log.warning("timeline source %s unavailable: %s", source.value, result)
            failures.append((source, result))
        elif isinstance(result, BaseException):
            raise result
        else:
            runs.append(result)
    return merge(runs, window), failures


async def person(info: Info, customer_id: int) -> int:
    """The customer whose timeline ``customer_id``'s is: itself, or the
    survivor it was merged into (an embed token issued before the merge)."""
    return (await get_customer(info, customer_id)).id


async def timeline(
    info: Info,
    customer_id: int,
    args: TimelineArgs,
    allowed: Collection[Source] | None = None,
) -> TimelinePage:
    """A page for a GraphQL field: each failed source also becomes an error of
    the response, beside the data of the others."""
    context = info.context
    page = await read_page(
        context.loaders,
        customer_id,
        args,
        context.services.settings.max_page_size,
        allowed,
    )
    for _, failure in page.failures:
        context.errors.append(
            GraphQLError(str(failure), path=info.path.as_list(), original_error=failure)
        )
    return page


async def create_embed_token(
    info: Info, customer_id: str, ttl_seconds: int, sources: Collection[Source]
) -> tuple[str, datetime]:
    pk = customer_pk(customer_id)
    if not 0 < ttl_seconds <= embed.MAX_TTL:
        raise BadUserInput(
            f"`ttlSeconds` must be 1 to {embed.MAX_TTL}.", argument="ttlSeconds"
        )
    customer = await get_customer(info, pk)  # a merged one's: its survivor's
    secret = info.context.services.settings.secret_key.get_secret_value()
    return embed.create_token(
        secret,
        customer.id,
        ttl_seconds,
        [s.value for s in sources],
        born=customer.created_at,
    )


async def embed_person(info: Info, scope: embed.EmbedScope) -> int:
    """The customer an embed token's timeline is: its customer, or the
    survivor it was merged into. NOT_FOUND once that customer is gone — and
    when its id now names another customer (SQLite reuses an erased
    customer's id): the token is tied to when its customer was created."""
    born = await info.context.loaders.customer_created.load(scope.customer_id)
    if born is None or (scope.born is not None and embed.micros(born) != scope.born):
        raise NotFound("The embed token's customer no longer exists.", field="token")
    return await person(info, scope.customer_id)
