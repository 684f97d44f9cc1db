"""The schema: one module per domain, merged here."""

from __future__ import annotations

import re
import warnings
from functools import cache
from typing import Any

import strawberry
from graphql.execution import Executor
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, ParserCache
from strawberry.tools import merge_types

from gateway.auth.audit import StreamAudit
from gateway.metrics import OperationMetrics
from gateway.schema.audiences import AudienceMutation, AudienceQuery
from gateway.schema.automations import AutomationMutation, AutomationQuery
from gateway.schema.base import Schema
from gateway.schema.crm import CrmMutation
from gateway.schema.customer import CustomerMutation, CustomerQuery
from gateway.schema.federation import FEDERATION_VERSION, FederatedSchema
from gateway.schema.identity import IdentityMutation, IdentityQuery
from gateway.schema.insights import InsightsMutation, InsightsQuery
from gateway.schema.outbound import OutboundMutation, OutboundQuery
from gateway.schema.partial_errors import PartialErrors
from gateway.schema.privacy import PrivacyMutation, PrivacyQuery
from gateway.schema.promotions import PromotionsMutation
from gateway.schema.replenishment import ReplenishmentMutation
from gateway.schema.scalars import SCALARS
from gateway.schema.stream_errors import FormatStreamErrors
from gateway.schema.tasks import TaskMutation
from gateway.schema.text_inputs import TextInputs
from gateway.schema.timeline import TimelineMutation, TimelineSubscription
from gateway.schema.timeline_events import EVENT_TYPES
from gateway.schema.upstream_scope import UpstreamScope
from gateway.schema.validated import ValidatedDocuments

Query = merge_types(
    "Query",
    (
        CustomerQuery,
        InsightsQuery,
        AudienceQuery,
        AutomationQuery,
        OutboundQuery,
        IdentityQuery,
        PrivacyQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CustomerMutation,
        CrmMutation,
        AutomationMutation,
        InsightsMutation,
        PromotionsMutation,
        AudienceMutation,
        OutboundMutation,
        IdentityMutation,
        PrivacyMutation,
        ReplenishmentMutation,
        TaskMutation,
        TimelineMutation,
    ),
)
Subscription = merge_types("Subscription", (TimelineSubscription,))


@cache
def build_schema(
    *,
    introspection: bool = True,
    federation: bool = True,
    executor: type[Executor[Any]] | None = None,
) -> strawberry.Schema:
    """The schema; without ``introspection`` (production) ``__schema`` and
    ``__type`` fail validation, also over WebSocket. The gateway serves it as a
    federation subgraph (``gateway.schema.federation``); without ``federation``
    it is the plain schema ``customer-graph schema`` prints (``plain_sdl``).
    ``executor`` replaces Strawberry's (``/graphql``'s ``FragmentExecutor``).

    Built once per process for each set of arguments: a schema holds no
    state of an app's (its extensions are made per operation), and building
    it takes ~0.1 s, which every app of a process (the tests make thousands)
    would pay again."""
    rules: list[type[ASTValidationRule]] = (
        [] if introspection else [NoSchemaIntrospectionCustomRule]
    )
    if not federation:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Federation directive found")
            return Schema(**_schema_options(rules), execution_context_class=executor)
    return FederatedSchema(
        **_schema_options(rules),
        federation_version=FEDERATION_VERSION,
        execution_context_class=executor,
    )


def plain_sdl() -> str:
    """The SDL without federation. Strawberry prints the ``@key`` directives of
    a plain schema without their definition; they are taken out."""
    return _KEY.sub("", build_schema(federation=False).as_str())


_KEY = re.compile(r' @key\(fields: "[^"]*"\)')


def _schema_options(rules: list[type[ASTValidationRule]]) -> dict[str, Any]:
    return dict(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=EVENT_TYPES,
        scalar_overrides=SCALARS,
        extensions=[
            OperationMetrics,
            UpstreamScope,
            PartialErrors,
            FormatStreamErrors,
            lambda: ParserCache(maxsize=1024),
            lambda: AddValidationRules(rules),
            lambda: ValidatedDocuments(1024),
            StreamAudit,
            TextInputs,
        ],
    )
