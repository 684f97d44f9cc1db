"""Cursor encoding and page arithmetic."""

from __future__ import annotations

import pytest

from gateway.errors import BadUserInput
from gateway.pagination import Page, check_first, decode_cursor, encode_cursor


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


def test_a_page_reads_one_extra_row_to_know_more_exist() -> None:
    assert Page.from_rows([1, 2, 3], 2) == Page(items=[1, 2], has_next=True)
    assert Page.from_rows([1, 2], 2) == Page(items=[1, 2], has_next=False)


def test_first_is_bounded() -> None:
    assert check_first(100, 100) == 100
    with pytest.raises(BadUserInput):
        check_first(101, 100)
