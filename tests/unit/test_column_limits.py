"""What each column type refuses before the database sees it: the limits
PostgreSQL enforces with an error (and SQLite with an exception or not at all),
read from the column."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
)

from gateway.db.column_limits import check_rows, check_value
from gateway.errors import BadUserInput

TABLE = Table(
    "limits",
    MetaData(),
    Column("short_name", String(10)),
    Column("body", Text),
    Column("small", SmallInteger),
    Column("count", Integer),
    Column("big", BigInteger().with_variant(Integer(), "sqlite")),
    Column("money", Numeric(14, 2)),
    Column("ratio", Float),
    Column("data", JSON),
)
C = TABLE.c

REFUSED = [
    (C.short_name, "x" * 11, "at most 10 characters"),
    (C.short_name, "a\x00", "NUL"),
    (C.body, "a\x00b", "NUL"),
    (C.body, "\ud800", "lone surrogate"),
    (C.body, "x\udfff", "lone surrogate"),
    (C.small, 2**15, "between"),
    (C.count, 2**31, "between"),
    (C.count, -(2**31) - 1, "between"),
    (C.big, 2**63, "between"),
    (C.big, -(2**63) - 1, "between"),
    (C.money, Decimal("1000000000000"), "less than"),
    (C.money, Decimal("999999999999.995"), "less than"),
    (C.money, Decimal("-1e13"), "less than"),
    (C.money, Decimal("1e999999999"), "less than"),
    (C.money, Decimal("NaN"), "less than"),
    (C.money, 1e308, "less than"),
    (C.money, 2**63, "less than"),
    (C.ratio, float("inf"), "finite"),
    (C.ratio, float("nan"), "finite"),
]
ACCEPTED = [
    (C.short_name, "x" * 10),
    (C.body, "tab\tnewline\nemoji 🙂 é"),
    (C.small, -(2**15)),
    (C.count, 2**31 - 1),
    (C.big, 2**63 - 1),
    (C.money, Decimal("999999999999.99")),
    (C.money, 0),
    (C.ratio, 1e308),
    (C.data, {"a": "\x00", "n": 2**70}),
    (C.count, None),
    (C.count, True),
]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    REFUSED,
    ids=[f"{c.key}={v!r}"[:40] for c, v, _ in REFUSED],
)
def test_a_value_its_column_cannot_hold_is_bad_user_input_naming_the_field(
    column: Column, value: object, reason: str
) -> None:
    with pytest.raises(BadUserInput, match=reason) as raised:
        check_value(column, value)
    assert str(raised.value.extensions["field"]).startswith(column.key[:5])


@pytest.mark.parametrize(
    ("column", "value"), ACCEPTED, ids=[f"{c.key}={v!r}"[:40] for c, v in ACCEPTED]
)
def test_a_value_its_column_holds_passes(column: Column, value: object) -> None:
    check_value(column, value)


def test_rows_of_a_core_insert_are_checked_column_by_column() -> None:
    check_rows(TABLE, [{"count": 1, "money": Decimal("1.00")}])
    with pytest.raises(BadUserInput, match="`count`"):
        check_rows(TABLE, [{"count": 1}, {"count": 2**40}])
