"""Shopify's query cost (shopify.dev, "GraphQL Admin API rate limits"):
scalars and enums are free, an object costs 1, a connection or list with
``first: n`` costs 2 + n × the cost of one item, so nested connections
multiply, and a mutation costs 10 (the table prices a mutation field at 10
where an object is 1; what the payload selects is priced as any selection).
The requested cost is reserved before execution; the actual cost (counted on
the result the same way, plus the mutations' 10) is what the bucket keeps.

One model for both sides: the connector plans its documents with it
(``queries.PLANNED_COST``) and charges the gateway's budget each document's
``planned_cost`` before sending it (``admin_api.py``); the simulator prices
what it is sent with it, as Shopify does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
)

MAX_QUERY_COST = 1000
MUTATION_COST = 10
_WRAPPERS = frozenset({"edges", "nodes", "pageInfo"})


class _Walker:
    def __init__(self, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.variables = variables
        self.fragments = {
            d.name.value: d
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }

    def fields(self, selection_set: SelectionSetNode | None) -> Iterator[FieldNode]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self.fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    yield from self.fields(fragment.selection_set)

    def argument(self, field: FieldNode, name: str) -> Any:
        for arg in field.arguments or ():
            if arg.name.value != name:
                continue
            value = arg.value
            if isinstance(value, VariableNode):
                return self.variables.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, ListValueNode):
                return list(value.values)
        return None

    def cost(self, selection_set: SelectionSetNode | None) -> int:
        total = 0
        for field in self.fields(selection_set):
            if field.selection_set is None:
                continue
            ids = self.argument(field, "ids")
            first = self.argument(field, "first")
            if isinstance(ids, list):
                total += len(ids) * (1 + self.cost(field.selection_set))
            elif isinstance(first, int):
                total += 2 + first * self.item_cost(field.selection_set)
            else:
                total += 1 + self.cost(field.selection_set)
        return total

    def item_cost(self, selection_set: SelectionSetNode) -> int:
        names = {f.name.value for f in self.fields(selection_set)}
        if not names & _WRAPPERS:
            return 1 + self.cost(selection_set)
        best = 1
        for field in self.fields(selection_set):
            if field.name.value == "nodes":
                best = max(best, 1 + self.cost(field.selection_set))
            elif field.name.value == "edges":
                for inner in self.fields(field.selection_set):
                    if inner.name.value == "node":
                        best = max(best, 1 + self.cost(inner.selection_set))
        return best


def _operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None
            or (definition.name and definition.name.value == operation_name)
        ):
            return definition
    return None


def requested_cost(
    document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> int:
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    selected = _Walker(document, variables).cost(operation.selection_set)
    return selected + mutation_cost(document, operation_name)


def mutation_cost(document: DocumentNode, operation_name: str | None) -> int:
    """What a mutation's root fields cost beyond the object each returns: 9
    each (10 in all), nothing for a query."""
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return 0
    roots = _Walker(document, {}).fields(operation.selection_set)
    return (MUTATION_COST - 1) * sum(1 for _ in roots)


def planned_cost(document: str, variables: Mapping[str, Any]) -> int:
    """What Shopify will request for ``document`` (its one operation) with
    ``variables``: the connector's few documents are parsed once each."""
    return requested_cost(_parsed(document), None, variables)


def is_mutation(document: str) -> bool:
    """Whether any operation of ``document`` is a mutation: it may change the
    shop, so it is always sent (a read may be answered by an identical one
    in flight, ``UpstreamHTTP.share_reads``)."""
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
        for d in _parsed(document).definitions
    )


@cache
def _parsed(document: str) -> DocumentNode:
    return parse(document)


def actual_cost(data: object) -> int:
    """Objects actually returned (edges and ``pageInfo`` free), plus 2 per
    connection."""
    if isinstance(data, list):
        return sum(actual_cost(item) for item in data)
    if not isinstance(data, dict):
        return 0
    if "pageInfo" in data:
        own = 2
    elif "hasNextPage" in data or "cursor" in data:
        own = 0
    else:
        own = 1
    return own + sum(actual_cost(value) for value in data.values())
