"""The schema: one module per domain, merged here."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.tools import merge_types

from gateway.metrics import OperationMetrics
from gateway.schema.crm import CrmMutation
from gateway.schema.customer import CustomerMutation, CustomerQuery
from gateway.schema.insights import InsightsMutation, InsightsQuery

Query = merge_types("Query", (CustomerQuery, InsightsQuery))
Mutation = merge_types("Mutation", (CustomerMutation, CrmMutation, InsightsMutation))


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            OperationMetrics,
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
        ],
    )
