"""The schema: one module per domain, merged here."""

from __future__ import annotations

import strawberry
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.tools import merge_types

from gateway.auth.socket_guard import SocketGuard
from gateway.metrics import OperationMetrics
from gateway.schema.base import Schema
from gateway.schema.crm import CrmMutation
from gateway.schema.customer import CustomerMutation, CustomerQuery
from gateway.schema.insights import InsightsMutation, InsightsQuery
from gateway.schema.partial_errors import PartialErrors
from gateway.schema.stream_errors import FormatStreamErrors
from gateway.schema.tasks import TaskMutation
from gateway.schema.text_inputs import TextInputs
from gateway.schema.timeline import TimelineMutation, TimelineSubscription
from gateway.schema.timeline_events import EVENT_TYPES

Query = merge_types("Query", (CustomerQuery, InsightsQuery))
Mutation = merge_types(
    "Mutation",
    (CustomerMutation, CrmMutation, InsightsMutation, TaskMutation, TimelineMutation),
)
Subscription = merge_types("Subscription", (TimelineSubscription,))


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    """The schema; without ``introspection`` (production) ``__schema`` and
    ``__type`` fail validation, also over WebSocket."""
    rules: list[type[ASTValidationRule]] = (
        [] if introspection else [NoSchemaIntrospectionCustomRule]
    )
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=EVENT_TYPES,
        extensions=[
            OperationMetrics,
            PartialErrors,
            FormatStreamErrors,
            lambda: ParserCache(maxsize=1024),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=1024),
            SocketGuard,
            TextInputs,
        ],
    )
