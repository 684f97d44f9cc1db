"""The embed schema: the only fields an embed token can reach.

The embed page talks to ``/embed/graphql``, a schema of its own with nothing
but one customer's timeline and its live feed, so a token cannot be turned
into any other read however the query is written. The token's scope rides on
``EmbedContext``; asking for another customer is FORBIDDEN (HTTP 403).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import strawberry
from graphql.execution import Executor
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules

from gateway.auth.audit import StreamAudit
from gateway.auth.embed_tokens import EmbedScope
from gateway.errors import Forbidden
from gateway.relay.ids import customer_pk
from gateway.resolvers import timeline as resolve
from gateway.resolvers import timeline_live as live
from gateway.resolvers.context import Context, Info
from gateway.schema.base import Schema
from gateway.schema.partial_errors import PartialErrors
from gateway.schema.scalars import SCALARS
from gateway.schema.stream_errors import FormatStreamErrors
from gateway.schema.text_inputs import TextInputs
from gateway.schema.timeline import (
    KindsArgument,
    SinceArgument,
    TimelineConnection,
    UntilArgument,
    timeline_args,
)
from gateway.schema.timeline_events import EVENT_TYPES, TimelineEvent, event_of
from gateway.schema.upstream_scope import ReadsUpstream, UpstreamScope
from gateway.timeline.items import Source


@dataclass(slots=True)
class EmbedContext(Context):
    scope: EmbedScope | None = None
    """``None`` only on a WebSocket before its token was checked."""


async def _allowed(
    info: Info, customer_id: strawberry.ID
) -> tuple[int, set[Source] | None]:
    """The customer whose timeline the token shows (a merged one's survivor)
    and its sources; FORBIDDEN for another id, NOT_FOUND once its customer
    is gone."""
    context = info.context
    pk = customer_pk(customer_id)
    scope = context.scope if isinstance(context, EmbedContext) else None
    if scope is None or not scope.allows(pk):
        raise Forbidden("This embed token is for another customer.")
    pk = await resolve.embed_person(info, scope)
    if scope.sources is None:
        return pk, None
    return pk, {s for s in Source if s.value in scope.sources}


@strawberry.type
class EmbedQuery:
    @strawberry.field(
        description="The token's customer's timeline, newest first.",
        extensions=[ReadsUpstream()],
    )
    async def timeline(
        self,
        info: Info,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        kinds: KindsArgument = None,
        sources: Annotated[
            list[Source] | None,
            strawberry.argument(
                description="Only events from these of the token's sources; all"
                " the token's if left out or empty."
            ),
        ] = None,
        since: SinceArgument = None,
        until: UntilArgument = None,
    ) -> TimelineConnection:
        pk, allowed = await _allowed(info, customer_id)
        args = timeline_args(first, after, last, before, kinds, sources, since, until)
        page = await resolve.timeline(info, pk, args, allowed)
        return TimelineConnection.of(page, pk)


@strawberry.type
class EmbedSubscription:
    @strawberry.subscription(description="New events of the token's customer.")
    async def customer_timeline(
        self, info: Info, customer_id: strawberry.ID
    ) -> AsyncGenerator[TimelineEvent, None]:
        pk, allowed = await _allowed(info, customer_id)
        async for item in live.new_events(info, customer_id, allowed):
            yield event_of(item, pk)


@cache
def build_embed_schema(
    *, introspection: bool = True, executor: type[Executor[Any]] | None = None
) -> strawberry.Schema:
    """Without ``introspection`` (production) ``__schema`` and ``__type``
    fail validation, as on ``/graphql``; ``executor`` replaces Strawberry's
    (``/embed/graphql``'s is ``/graphql``'s, ``FragmentExecutor``). Built
    once per process for each set of arguments, as ``build_schema``."""
    rules: list[type[ASTValidationRule]] = (
        [] if introspection else [NoSchemaIntrospectionCustomRule]
    )
    return Schema(
        query=EmbedQuery,
        subscription=EmbedSubscription,
        types=EVENT_TYPES,
        scalar_overrides=SCALARS,
        extensions=[
            UpstreamScope,
            PartialErrors,
            FormatStreamErrors,
            StreamAudit,
            TextInputs,
            lambda: AddValidationRules(rules),
        ],
        execution_context_class=executor,
    )
