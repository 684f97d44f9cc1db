"""``arguments_used``: the coordinates an operation gives a value, however the
document is written (literal or variable, nested, in fragments)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from gateway.admission.arguments import arguments_used
from gateway.admission.walk import coerced_variables
from gateway.schema import build_schema

SCHEMA = build_schema()._schema


def used(document: str, variables: dict[str, Any] | None = None) -> frozenset[str]:
    parsed = parse(document)
    [operation] = [
        d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)
    ]
    fragments = {
        d.name.value: d
        for d in parsed.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    coerced = coerced_variables(SCHEMA, operation, variables)
    return arguments_used(SCHEMA, operation, fragments, coerced)


CITY = "CustomerFilter.city"

FORMS: dict[str, tuple[str, dict[str, Any]]] = {
    "literal": ('{ customers(filter: {city: "Oakland"}) { totalCount } }', {}),
    "variable": (
        "query($c: String) { customers(filter: {city: $c}) { totalCount } }",
        {"c": "Oakland"},
    ),
    "whole input as a variable": (
        "query($f: CustomerFilter) { customers(filter: $f) { totalCount } }",
        {"f": {"city": "Oakland"}},
    ),
    "variable default": (
        'query($c: String = "Oakland") { customers(filter: {city: $c})'
        " { totalCount } }",
        {},
    ),
    "fragment spread": (
        "query { ...F } fragment F on Query"
        ' { customers(filter: {city: "Oakland"}) { totalCount } }',
        {},
    ),
    "inline fragment and alias": (
        '{ ... on Query { x: customers(filter: {city: "Oakland"}) { totalCount } } }',
        {},
    ),
    "skipped by a directive": (
        '{ customers(filter: {city: "Oakland"}) @skip(if: true) { totalCount } }',
        {},
    ),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_a_filter_field_is_found_in_every_form(form: str) -> None:
    document, variables = FORMS[form]
    assert CITY in used(document, variables)


def test_nested_segment_conditions_and_order_values_are_found() -> None:
    found = used(
        'query($m: Int) { segmentPreview(filter: {or: [{tagsAny: ["x"]},'
        " {not: {birthMonth: $m}}]}) { totalCount }"
        " customers(orderBy: EMAIL_ASC) { totalCount } }",
        {"m": 4},
    )
    assert {
        "Query.segmentPreview(filter:)",
        "SegmentFilter.or",
        "SegmentFilter.not",
        "SegmentFilter.tagsAny",
        "SegmentFilter.birthMonth",
        "Query.customers(orderBy:)",
        "CustomerOrderBy.EMAIL_ASC",
    } <= found


def test_an_enum_value_in_a_variable_is_found() -> None:
    found = used(
        "query($o: CustomerOrderBy!) { customers(orderBy: $o) { totalCount } }",
        {"o": "LAST_NAME_ASC"},
    )
    assert "CustomerOrderBy.LAST_NAME_ASC" in found


def test_a_federation_representation_uses_its_key_fields() -> None:
    found = used(
        "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
        {"r": [{"__typename": "Customer", "email": "a@b.c"}, {"__typename": "X"}]},
    )
    assert "Customer.email" in found
    assert "Customer.id" not in found


def test_null_and_unreadable_values_use_nothing() -> None:
    assert CITY not in used("{ customers(filter: {city: null}) { totalCount } }")
    assert "Query.customer(email:)" not in used(
        "query($e: String) { customer(email: $e) { id } }", {"e": None}
    )
    # a variable the executor refuses: it never runs, nothing to check
    assert CITY not in used(
        "query($c: String) { customers(filter: {city: $c}) { totalCount } }",
        {"c": ["not", "a", "string"]},
    )


def test_arguments_inside_a_selection_are_found() -> None:
    found = used('{ customer(id: "x") { tickets(status: [OPEN]) { totalCount } } }')
    assert {"Customer.tickets(status:)", "TicketStatus.OPEN"} <= found
