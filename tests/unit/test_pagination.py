"""Cursor encoding and page arithmetic."""

from __future__ import annotations

import base64

import orjson
import pytest

from gateway.errors import BadUserInput
from gateway.relay.pagination import (
    Cursor,
    Page,
    check_first,
    decode_cursor,
    encode_cursor,
)
from gateway.schema.connections import Connection

TASKS: Cursor[tuple[str, int]] = Cursor("tasks", (str, int))
ORDERS: Cursor[tuple[str, str] | tuple[str, str, int]] = Cursor(
    "orders", (str, str), optional=(int,)
)


def test_a_cursor_round_trips_and_is_opaque() -> None:
    cursor = encode_cursor("customers:email_asc", ("a@example.com", 7))
    assert "example" not in cursor
    assert decode_cursor("customers:email_asc", cursor) == ("a@example.com", 7)


def test_a_cursor_of_another_kind_is_refused() -> None:
    cursor = encode_cursor("notes", ("2025-01-01T00:00:00+00:00", 1))
    with pytest.raises(BadUserInput):
        decode_cursor("customers:email_asc", cursor)


@pytest.mark.parametrize("garbage", ["", "!!!", "bnVsbA", "W10"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(BadUserInput):
        decode_cursor("notes", garbage)


@pytest.mark.parametrize("key", [("ab", 1), ("abc", 1), ("a", 1)])
def test_a_cursor_is_read_only_as_written_padded_or_not(key: tuple[str, int]) -> None:
    """Any other spelling of a cursor's bytes is refused, as a global id's
    is: what the decoder would skip around or inside it, padding too much or
    where none belongs, the standard alphabet's ``+`` and ``/``, and a last
    character differing only in bits the bytes do not use."""
    cursor = encode_cursor("notes", key)
    padded = cursor + "=" * (-len(cursor) % 4)
    assert decode_cursor("notes", padded) == decode_cursor("notes", cursor) == key
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    others = [cursor[:-1] + c for c in last if c != cursor[-1]]
    same_bytes = [
        other
        for other in others
        if base64.urlsafe_b64decode(other + "=" * (-len(other) % 4))
        == base64.urlsafe_b64decode(padded)
    ]
    assert len(same_bytes) == {0: 0, 2: 15, 3: 3}[len(cursor) % 4]
    mangled = [
        f"{cursor}\n",
        f" {cursor}",
        f"{cursor[:4]} {cursor[4:]}",
        f"{cursor[:4]}.{cursor[4:]}",
        f"{padded}AAAA",
        *(cursor + "=" * n for n in (1, 2, 3) if cursor + "=" * n != padded),
        *same_bytes,
    ]
    for other in mangled:
        with pytest.raises(BadUserInput) as refused:
            decode_cursor("notes", other)
        assert refused.value.extensions["field"] == "after"


def test_a_page_reads_one_extra_row_to_know_more_exist() -> None:
    assert Page.from_rows([1, 2, 3], 2) == Page(items=[1, 2], has_next=True)
    assert Page.from_rows([1, 2], 2) == Page(items=[1, 2], has_next=False)


def test_first_is_bounded() -> None:
    assert check_first(100, 100) == 100
    with pytest.raises(BadUserInput):
        check_first(101, 100)


def _raw(value: object) -> str:
    """A cursor as a client could forge it: base64 of any JSON."""
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def test_a_codec_round_trips_in_the_wire_format_of_before() -> None:
    key = ("2025-01-01T00:00:00+00:00", 7)
    assert TASKS.encode(key) == encode_cursor("tasks", key)
    assert TASKS.decode(TASKS.encode(key)) == key
    assert TASKS.decode(_raw(["tasks", *key])) == key


def test_a_codec_reads_the_shorter_keys_of_an_older_release() -> None:
    assert ORDERS.decode(_raw(["orders", "a", "b"])) == ("a", "b")
    assert ORDERS.decode(_raw(["orders", "a", "b", 3])) == ("a", "b", 3)


@pytest.mark.parametrize(
    ("codec", "forged"),
    [
        (TASKS, ["tasks", "2025-01-01"]),
        (TASKS, ["tasks", "2025-01-01", 1, 2]),
        (TASKS, ["tasks", "2025-01-01", "1"]),
        (TASKS, ["tasks", "2025-01-01", True]),
        (TASKS, ["tasks", "2025-01-01", 1.0]),
        (TASKS, ["tasks", "2025-01-01", None]),
        (TASKS, ["tasks", 20250101, 1]),
        (TASKS, ["tasks", ["2025-01-01"], 1]),
        (TASKS, ["tasks", {"at": "2025-01-01"}, 1]),
        (ORDERS, ["orders", "a"]),
        (ORDERS, ["orders", "a", "b", False]),
        (ORDERS, ["orders", "a", "b", "3"]),
        (ORDERS, ["orders", "a", "b", 3, 4]),
        (ORDERS, ["orders", "a", 2, 3]),
    ],
)
def test_a_key_of_another_shape_is_refused_as_not_valid(
    codec: Cursor[tuple[object, ...]], forged: list[object]
) -> None:
    with pytest.raises(BadUserInput, match="not valid") as refused:
        codec.decode(_raw(forged))
    assert refused.value.extensions["argument"] == "after"


@pytest.mark.parametrize(
    "forged",
    [
        ["notes", "2025-01-01", 1],
        ["Tasks", "2025-01-01", 1],
        ["tasks"],
        "tasks",
        {"tasks": 1},
        [1, "2025-01-01", 1],
    ],
)
def test_a_cursor_of_another_list_is_refused_as_foreign(forged: object) -> None:
    with pytest.raises(BadUserInput, match="does not belong"):
        TASKS.decode(_raw(forged))


def test_a_tampered_cursor_is_refused_and_names_its_argument() -> None:
    cursor = TASKS.encode(("2025-01-01T00:00:00+00:00", 7))
    for tampered in (cursor[:-3], "X" + cursor[1:], cursor[:10] + "A" + cursor[11:]):
        with pytest.raises(BadUserInput) as refused:
            TASKS.decode(tampered, argument="before")
        assert refused.value.extensions["argument"] == "before"


def test_a_connection_makes_an_edges_cursor_only_when_it_is_asked_for() -> None:
    """``pageInfo`` needs the first and last cursors; an edge's is made when
    a query selects ``cursor`` (most select ``pageInfo.endCursor`` only)."""
    made: list[int] = []

    def cursor(item: int) -> str:
        made.append(item)
        return f"c{item}"

    page = Connection.build(range(20), cursor, str, has_next=True)
    assert made == [0, 19]
    assert page.page_info.end_cursor == "c19"
    assert [e.node() for e in page.edges][:2] == ["0", "1"]
    assert made == [0, 19]
    assert page.edges[5].cursor() == "c5"
    assert made == [0, 19, 5]
