"""Which integrity errors are lost races, and how often a write is run again."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError

from gateway.db.races import ATTEMPTS, is_unique_violation, retry_on_conflict


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def sqlite_error(code: int) -> sqlite3.IntegrityError:
    error = sqlite3.IntegrityError("constraint failed")
    error.sqlite_errorcode = code
    return error


def integrity(orig: Exception) -> IntegrityError:
    return IntegrityError("INSERT …", {}, orig)


UNIQUE = [PgError("23505"), sqlite_error(2067), sqlite_error(1555)]
OTHER = [PgError("23503"), PgError("23514"), sqlite_error(787), sqlite_error(275)]
"""Foreign key and check violations on each backend."""


@pytest.mark.parametrize("orig", UNIQUE + OTHER, ids=repr)
async def test_only_unique_violations_are_run_again(orig: Exception) -> None:
    calls = 0

    async def write() -> None:
        nonlocal calls
        calls += 1
        raise integrity(orig)

    with pytest.raises(IntegrityError):
        await retry_on_conflict(write)
    unique = orig in UNIQUE
    assert is_unique_violation(integrity(orig)) is unique
    assert calls == (ATTEMPTS if unique else 1)


async def test_a_write_that_wins_on_its_second_attempt_returns_its_result() -> None:
    outcomes: list[Exception | str] = [integrity(PgError("23505")), "stored"]

    async def write() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert await retry_on_conflict(write) == "stored"
    assert outcomes == []
