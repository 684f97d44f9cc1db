"""A page of orders reads as deep as the query shows (``gateway.resolvers.
orders.depth``): full orders for a part only they have — wherever the document
names one, a field, nested, inside an inline or a named fragment, even one it
skips — line items' summaries for line items without their totals, and
summaries otherwise; never deeper for an alias that only looks like a part."""

from __future__ import annotations

import pytest
import strawberry

from gateway.resolvers.context import Info
from gateway.resolvers.orders import FULL_PARTS, Depth, depth


@strawberry.type
class Amount:
    amount: str = "1.00"


@strawberry.type
class Part:
    id: str = "p"
    title: str = "t"
    total: Amount = strawberry.field(default_factory=Amount)
    unit_price: Amount = strawberry.field(default_factory=Amount)


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
FULL = {
    "a field": ("edges { node { id subtotal { amount } } }", ""),
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
    "a line's total": (
        "edges { node { id lineItems { title total { amount } } } }",
        "",
    ),
    "a line's total in a fragment": (
        "edges { node { lineItems { ...Line } } }",
        "fragment Line on Part { total { amount } }",
    ),
    "line items beside a part": (
        "edges { node { lineItems { title } refunds { id } } }",
        "",
    ),
}
LINES = {
    "line items": (
        "edges { node { id lineItems { id title unitPrice { amount } } } }",
        "",
    ),
    "line items in a fragment": (
        "edges { node { ...Lines } }",
        "fragment Lines on Order { total { amount } lineItems { title } }",
    ),
    "an alias named as a line's total": (
        "edges { node { lineItems { total: unitPrice { amount } } } }",
        "",
    ),
}
SUMMARY = {
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


def needed(selection: str, fragments: str) -> Depth:
    """What ``depth`` says in ``{ orders { <selection> } }``."""
    seen: list[Depth] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def orders(self, info: Info) -> Page:
            seen.append(depth(info.selected_fields))
            return Page()

    document = f"{{ orders {{ {selection} }} }} {fragments}"
    result = strawberry.Schema(query=Query).execute_sync(document)
    assert result.errors is None, result.errors
    [found] = seen
    return found


CASES = [
    pytest.param(selection, fragments, expected, id=f"{expected.name}: {name}")
    for expected, table in (
        (Depth.FULL, FULL),
        (Depth.LINES, LINES),
        (Depth.SUMMARY, SUMMARY),
    )
    for name, (selection, fragments) in table.items()
]


@pytest.mark.parametrize(("selection", "fragments", "expected"), CASES)
def test_each_page_reads_as_deep_as_the_document_shows(
    selection: str, fragments: str, expected: Depth
) -> None:
    assert needed(selection, fragments) is expected


def test_the_full_parts_are_the_order_fields_a_summary_lacks() -> None:
    assert {"subtotal", "totalRefunded", "refunds", "returns"} == FULL_PARTS
