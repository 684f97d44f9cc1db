"""Reading the values of a segment filter: numbers, whole numbers in a range,
time zone-aware moments, lists of strings, sub-objects with known keys.

A saved filter is JSON that was sent as GraphQL input, but the command line,
old rows and tests hand JSON in directly: every reader checks the type itself
and answers BAD_USER_INPUT naming the field (``lifetimeValue``,
``purchased.between``), never a database error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.errors import BadUserInput

MAX_DAYS = 36_500


def number(key: str, value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BadUserInput(f"`{key}` needs numbers.", field=key) from None


def whole(key: str, value: object, low: int, high: int) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise BadUserInput(
            f"`{key}` takes a whole number from {low} to {high}.", field=key
        )
    return value


def moment(key: str, value: object) -> datetime:
    try:
        found = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadUserInput(f"`{key}` needs ISO date-times.", field=key) from None
    if found.tzinfo is None:
        raise BadUserInput(f"`{key}` needs a time zone.", field=key)
    return found


def strings(key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadUserInput(f"`{key}` takes a list of strings.", field=key)
    return list(value)


def text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise BadUserInput(f"`{key}` takes a non-empty string.", field=key)
    return value


def fields(key: str, value: object, allowed: set[str]) -> Mapping[str, Any]:
    """``value`` as an object with only ``allowed`` keys, nulls left out."""
    if not isinstance(value, Mapping) or not value.keys() <= allowed:
        names = ", ".join(sorted(allowed))
        raise BadUserInput(f"`{key}` takes {{{names}}}.", field=key)
    return {k: v for k, v in value.items() if v is not None}
