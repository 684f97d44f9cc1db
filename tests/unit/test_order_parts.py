"""A page of orders reads full orders only when the query shows a part a
summary lacks (``gateway.resolvers.orders``): wherever the document names one
— a field, nested, inside an inline or a named fragment, even one it skips —
and not for an alias that only looks like one."""

from __future__ import annotations

import pytest
import strawberry

from gateway.resolvers.context import Info
from gateway.resolvers.orders import PARTS, _wants_parts


@strawberry.type
class Amount:
    amount: str = "1.00"


@strawberry.type
class Part:
    id: str = "p"


@strawberry.type
class Order:
    id: str = "o"
    total: Amount = strawberry.field(default_factory=Amount)
    subtotal: Amount = strawberry.field(default_factory=Amount)
    total_refunded: Amount = strawberry.field(default_factory=Amount)
    line_items: list[Part] = strawberry.field(default_factory=lambda: [Part()])
    refunds: list[Part] = strawberry.field(default_factory=list)
    returns: list[Part] = strawberry.field(default_factory=list)


@strawberry.type
class Edge:
    node: Order = strawberry.field(default_factory=Order)


@strawberry.type
class Page:
    edges: list[Edge] = strawberry.field(default_factory=lambda: [Edge()])
    total_count: int = 1


PARTS_FRAGMENT = "fragment Parts on Order { returns { id } }"
ASKED = {
    "a field": ("edges { node { id subtotal { amount } } }", ""),
    "a nested field": ("edges { node { id lineItems { id } } }", ""),
    "an aliased part": ("edges { node { id parts: refunds { id } } }", ""),
    "an inline fragment": (
        "edges { node { id ... on Order { totalRefunded { amount } } } }",
        "",
    ),
    "a named fragment": ("edges { node { id ...Parts } }", PARTS_FRAGMENT),
    "a fragment in a fragment": (
        "...Edges",
        "fragment Edges on Page { edges { node { ...Parts } } } " + PARTS_FRAGMENT,
    ),
    "a skipped field": ("edges { node { id returns @skip(if: true) { id } } }", ""),
}
NOT_ASKED = {
    "amounts": ("totalCount edges { node { id total { amount } } }", ""),
    "a named fragment": (
        "edges { node { id ...Total } }",
        "fragment Total on Order { total { amount } }",
    ),
    "an alias named as a part": (
        "edges { node { id subtotal: total { amount } } }",
        "",
    ),
}


def wanted(selection: str, fragments: str) -> bool:
    """What ``_wants_parts`` says in ``{ orders { <selection> } }``."""
    seen: list[bool] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def orders(self, info: Info) -> Page:
            seen.append(_wants_parts(info.selected_fields))
            return Page()

    document = f"{{ orders {{ {selection} }} }} {fragments}"
    result = strawberry.Schema(query=Query).execute_sync(document)
    assert result.errors is None, result.errors
    return seen == [True]


@pytest.mark.parametrize(("selection", "fragments"), ASKED.values(), ids=list(ASKED))
def test_full_orders_where_the_document_names_a_part(
    selection: str, fragments: str
) -> None:
    assert wanted(selection, fragments)


@pytest.mark.parametrize(
    ("selection", "fragments"), NOT_ASKED.values(), ids=list(NOT_ASKED)
)
def test_summaries_where_it_names_none(selection: str, fragments: str) -> None:
    assert not wanted(selection, fragments)


def test_the_parts_are_the_fields_a_summary_lacks() -> None:
    assert {"subtotal", "totalRefunded", "lineItems", "refunds", "returns"} == PARTS
