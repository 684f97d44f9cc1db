"""Every operation's upstream calls within one deadline, and the response
saying which sources answered from their last good value.

Each query or mutation runs inside a ``connectors.scope.call_scope`` of
``CG_READ_DEADLINE_SECONDS`` from the operation's start, at interactive
priority — over HTTP, WebSocket and ``/embed/graphql`` alike, since they all
execute through the schema. A subscription is not bounded as a whole: each
read it makes opens its own scope (``gateway.resolvers.timeline_live``).

A source that answered stale (``gateway.cache.read_through``) is listed in
the response's extensions, once per source, with its oldest value's fetch
time and the path of the first field that read a stale value from it::

    "extensions": {"stale": [{"source": "shopify",
                              "fetchedAt": "2025-06-01T12:00:03+00:00",
                              "path": ["customer", "orders"]}]}

``path`` is the field's response path (aliases and list indexes included),
as in ``errors[].path``. Reads are batched: one read serves the same field of
every customer of a list, and is noted with the first of them — the other
fields of that source in the response may be stale too (same source, same
kind of read). Fields that read an upstream carry ``ReadsUpstream``
(``upstream_field``); ``path`` is null for a stale read no such field made.

A field may also say which read it makes first (``upstream_field(starts=)``):
for ``customer(id:)`` the executor begins those reads as soon as the
customer's links are known, while the customer's own row is still being read
(``gateway.http.fragments.FragmentExecutor``), so the calls leave before the
customer's fields execute.

Use it as ``extensions=[UpstreamScope]``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from connectors.scope import CallScope, Priority, asking, call_scope, departures
from gateway.resolvers.context import Context


class UpstreamScope(SchemaExtension):
    _started = 0.0
    _scope: CallScope | None = None

    def on_operation(self) -> Iterator[None]:
        self._started = time.monotonic()
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if (
            not isinstance(context, Context)
            or self.execution_context.operation_type is OperationType.SUBSCRIPTION
        ):
            yield
            return
        deadline = context.services.settings.read_deadline_seconds
        left = deadline - (time.monotonic() - self._started)
        with call_scope(left, Priority.INTERACTIVE) as scope:
            self._scope = scope
            yield

    def get_results(self) -> dict[str, object]:
        if self._scope is None or not self._scope.stale:
            return {}
        oldest: dict[str, float] = {}
        first: dict[str, list[str | int] | None] = {}
        for read in self._scope.stale:
            oldest[read.source] = min(read.fetched_at, oldest.get(read.source, 1e18))
            if first.get(read.source) is None:
                first[read.source] = list(read.origin) if read.origin else None
        return {
            "stale": [
                {"source": source, "fetchedAt": _iso(at), "path": first[source]}
                for source, at in sorted(oldest.items())
            ]
        }


@dataclass(frozen=True, slots=True)
class FirstRead:
    """A field's first read, begun ahead of its resolver (``ReadsUpstream``)."""

    source: str
    """The upstream it reads."""
    begin: Callable[..., Awaitable[Any] | None]
    """Called with the field's ``Info``, the customer's id and the field's
    arguments as its resolver gets them: the read its resolver makes first
    (the same loader, the same key: the resolver then finds it begun),
    ``None`` when there is none; raises where the resolver would refuse
    the arguments (and so read nothing)."""


class ReadsUpstream(FieldExtension):
    """On a field whose resolver reads an upstream: the reads it makes are
    asked for its path, so a stale answer names it (``extensions.stale``).
    Only such fields carry it: every other field resolves untouched.
    ``starts``: the field's first read, when it can begin ahead."""

    def __init__(self, starts: FirstRead | None = None) -> None:
        self.starts = starts

    def resolve(
        self,
        next_: Callable[..., Any],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        with asking(tuple(info.path.as_list())):
            return next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        with asking(tuple(info.path.as_list())):
            return await next_(source, info, **kwargs)


@cache
def upstream_fields(object_type: GraphQLObjectType) -> frozenset[str]:
    """The fields of ``object_type`` that read an upstream (``ReadsUpstream``)."""
    return frozenset(
        name
        for name, field in object_type.fields.items()
        if any(
            isinstance(extension, ReadsUpstream)
            for extension in getattr(
                field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF),
                "extensions",
                (),
            )
        )
    )


@cache
def upstream_starts(object_type: GraphQLObjectType) -> Mapping[str, FirstRead]:
    """The fields of ``object_type`` whose first read can begin ahead of
    their resolver, and how (``ReadsUpstream.starts``)."""
    found = {}
    for name, field in object_type.fields.items():
        definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        for extension in getattr(definition, "extensions", ()):
            if isinstance(extension, ReadsUpstream) and extension.starts is not None:
                found[name] = extension.starts
    return found


Begun = list[tuple[str, asyncio.Future[Any]]]
"""Reads begun ahead of their fields (``begin``): each one's source and task."""


def begin(
    first: FirstRead,
    info: Info[Any, Any],
    customer_id: int,
    arguments: Mapping[str, Any],
    path: tuple[str | int, ...],
    links: Awaitable[Mapping[str, str]],
) -> asyncio.Future[Any]:
    """``first``'s read of the customer, begun in a task of its own once the
    customer's stored ``links`` (by source) are read, and asked for the
    field's ``path`` (a stale answer names it, as the field's own read
    would). Only where a link to ``first.source`` is stored: a customer not
    linked yet, known to have no record there, or merged into another (whose
    row answers for it) is left to the field's own read, which may look it
    up. The task's failure (arguments the resolver refuses, a failed read)
    is retrieved: the field meets it through its own read."""
    with asking(path):
        task = asyncio.ensure_future(
            _when_linked(first, info, customer_id, arguments, links)
        )
    task.add_done_callback(_retrieved)
    return task


async def _when_linked(
    first: FirstRead,
    info: Info[Any, Any],
    customer_id: int,
    arguments: Mapping[str, Any],
    links: Awaitable[Mapping[str, str]],
) -> Any:
    if not (await links).get(first.source):
        return None
    read = first.begin(info, customer_id, **arguments)
    return None if read is None else await read


async def calls_sent(begun: Begun, seconds: float) -> None:
    """Once each read ``begun`` has sent its call to its source (a call of
    the operation to that source left) or is over; ``seconds`` at most."""
    await departures(begun, seconds)


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def upstream_field(
    *,
    resolver: Callable[..., Any],
    description: str,
    starts: FirstRead | None = None,
) -> Any:
    """A field resolved from an upstream (``ReadsUpstream``), its first read
    begun ahead of it where ``starts`` says which."""
    return strawberry.field(
        resolver=resolver,
        description=description,
        extensions=[ReadsUpstream(starts)],
    )


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
