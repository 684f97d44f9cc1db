"""Strawberry's scalars, as the gateway's schemas take them
(``scalar_overrides``): ``DateTime`` refuses a value in words of its own.

Strawberry's ``DateTime`` adds its parser's message to a refusal: for
``"not a date"``, ``invalid literal for int() with base 10: b'not '`` —
Python's words, not the client's. Here the refusal says what is expected
instead; what is accepted, and the SDL, are Strawberry's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition

EXPECTED = "Expected an ISO 8601 date and time, e.g. 2026-12-07T10:00:00Z."


def _datetime(value: object) -> object:
    try:
        return DateTimeDefinition.parse_value(value)  # type: ignore[misc]
    except StrawberryInputCoercionError:
        shown = f'"{value}"' if isinstance(value, str) else "not a string"
        raise StrawberryInputCoercionError(
            f"Value cannot represent a DateTime: {shown}. {EXPECTED}"
        ) from None


DATETIME = dataclasses.replace(DateTimeDefinition, parse_value=_datetime)

SCALARS: dict[object, Any] = {dt.datetime: DATETIME}
"""For ``strawberry.Schema(scalar_overrides=...)``."""
