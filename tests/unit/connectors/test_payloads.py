"""Reading a delivery's body within bounds, and its fields by declared type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.errors import UpstreamBadResponse
from connectors.payloads import MAX_DEPTH, Fields, read_object
from tests.security.hostile_json import Deep, encode

REFUSED_BODIES = {
    "not JSON": b"{",
    "an array": b"[]",
    "a string": b'"x"',
    "a number": b"1e308",
    "null": b"null",
    "a lone surrogate": b'{"id": "\\ud800"}',
    "a lone surrogate as a key": b'{"\\udfff": 1}',
    "invalid UTF-8": b'{"id": "\xed\xa0\x80"}',
    "a NUL": b'{"id": "a\\u0000"}',
    "a NUL in a key": b'{"a\\u0000": 1}',
    "NaN": b'{"n": NaN}',
    "1e309 (infinity)": b'{"n": 1e309}',
    "1e308": b'{"n": 1e308}',
    "2**63": encode({"n": 2**63}),
    "-(2**63) - 1": encode({"n": -(2**63) - 1}),
    "2**64 (read as a float)": encode({"n": [2**64]}),
    "nesting one level too deep": encode({"d": Deep(MAX_DEPTH)}),
    "nesting 100,000 deep": encode({"d": Deep(100_000)}),
    "objects nested 100,000 deep": encode({"d": Deep(100_000, objects=True)}),
}


@pytest.mark.parametrize("body", REFUSED_BODIES.values(), ids=REFUSED_BODIES.keys())
def test_a_body_no_mapping_should_read_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        read_object("shopify", body)


def test_a_body_within_the_bounds_is_read_whole() -> None:
    body = {
        "n": 2**63 - 1,
        "m": -(2**63) + 1,
        "f": 1.5e18,
        "d": Deep(MAX_DEPTH - 1),
        "t": "tab\t é 🙂",
    }
    read = read_object("shopify", encode(body))
    assert read["n"] == 2**63 - 1
    assert read["t"] == "tab\t é 🙂"


FIELDS = Fields(
    "shopify",
    {
        "text": "x",
        "whole": 3,
        "flag": True,
        "amount": "12.50",
        "time": "2025-03-20T09:14:05-04:00",
        "naive": "2025-03-20T09:14:05",
        "year_1": "0001-01-01T00:00:00+00:00",
        "year_2100": "2100-01-01T00:00:00Z",
        "items": [{"a": 1}],
        "nested": {"a": 1},
        "null": None,
    },
    "order",
)


def test_fields_read_their_declared_types() -> None:
    assert FIELDS.text("text") == "x"
    assert FIELDS.whole("whole") == 3
    assert FIELDS.flag("flag") is True
    assert FIELDS.amount("amount") == Decimal("12.50")
    assert FIELDS.time("time") == datetime(2025, 3, 20, 13, 14, 5, tzinfo=UTC)
    assert FIELDS.time("naive") == datetime(2025, 3, 20, 9, 14, 5, tzinfo=UTC)
    assert FIELDS.objects("items")[0].whole("a") == 1
    assert FIELDS.object("nested").where == "order.nested"
    assert FIELDS.text("null") is None
    assert FIELDS.text("absent") is None
    assert FIELDS.object("absent").data == {}
    assert FIELDS.objects("absent") == []


MISREAD = [
    ("text", "whole", "is not a string"),
    ("whole", "text", "is not a whole number"),
    ("whole", "flag", "is not a whole number"),
    ("whole", "amount", "is not a whole number"),
    ("flag", "whole", "is not true or false"),
    ("amount", "flag", "is not an amount"),
    ("amount", "text", "is not an amount"),
    ("amount", "items", "is not an amount"),
    ("time", "text", "is not an ISO 8601 time"),
    ("time", "whole", "is not a string"),
    ("time", "year_1", "is not a time between 1970 and 2100"),
    ("time", "year_2100", "is not a time between 1970 and 2100"),
    ("object", "items", "is not an object"),
    ("objects", "nested", "is not a list"),
    ("objects", "text", "is not a list"),
]


@pytest.mark.parametrize(("reader", "key", "problem"), MISREAD)
def test_a_field_of_another_type_is_a_protocol_error_naming_it(
    reader: str, key: str, problem: str
) -> None:
    with pytest.raises(UpstreamBadResponse, match=f"order.{key}.* {problem}"):
        getattr(FIELDS, reader)(key)


@pytest.mark.parametrize("reader", ["text", "whole", "amount", "time"])
def test_a_required_field_absent_or_null_is_a_protocol_error(reader: str) -> None:
    for key in ("absent", "null"):
        with pytest.raises(UpstreamBadResponse, match=f"order.{key} is missing"):
            getattr(FIELDS, reader)(key, required=True)


@pytest.mark.parametrize(
    "amount",
    [
        "1e999999999",
        "1e308",
        "NaN",
        "Infinity",
        "-1.00",
        "",
        "1_0",
        " 1",
        "١٢",
        "9" * 16,
    ],
)
def test_an_amount_that_is_not_money_is_a_protocol_error(amount: str) -> None:
    with pytest.raises(UpstreamBadResponse, match="amount"):
        Fields("shopify", {"price": amount}, "item").amount("price")


def test_objects_in_a_list_are_named_by_their_position() -> None:
    items = Fields("shopify", {"items": [{"q": 1}, "x"]}, "order")
    with pytest.raises(UpstreamBadResponse, match=r"order\.items\[1\] is not"):
        items.objects("items")
