"""A delivery's JSON body, read within bounds, then its fields by declared type.

A signed delivery is trusted to come from the upstream, not to be well formed:
an attack run sent validly signed bodies nested 100,000 deep (``json`` recursed
until ``RecursionError``), ids holding NUL (PostgreSQL refuses it in text) or a
lone surrogate (not encodable as UTF-8), prices of ``1e308`` and ids past
``2**63``, ``detail: null`` where an object belongs — each a 500 after part of
the work. ``read_object`` refuses deep nesting, NUL, lone surrogates and
numbers past 64 bits anywhere in the body before any mapping reads it;
``Fields`` then reads one object's fields as the types the
mapping needs and raises ``UpstreamBadResponse`` naming the field, instead
of a ``KeyError`` or ``TypeError`` deep in a mapping::

    order = Fields(SOURCE, read_object(SOURCE, raw_body), "order")
    currency = order.text("currency", required=True)
    for item in order.objects("line_items"):
        quantity = item.whole("quantity", required=True)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, overload

import orjson

from connectors.errors import UpstreamBadResponse
from connectors.shapes import MAX_AMOUNT, MAX_WHOLE

MAX_DEPTH = 32
"""Objects and arrays nested deeper than this are refused (Shopify's deepest
order field, a line item's ``price_set.shop_money``, is 5 levels down)."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""Times outside are refused, as the ingest does: an order of year 1 and one of
year 9999 made the predicted next order overflow PostgreSQL's timestamps."""
_AMOUNT = re.compile(r"[0-9]{1,16}(\.[0-9]{1,12})?")
"""Money as Shopify writes it (``"1978.00"``): ASCII digits, no sign, exponent,
space or ``_`` (all of which ``Decimal`` would accept)."""


def read_object(source: str, raw_body: bytes) -> dict[str, Any]:
    """The body as a JSON object. orjson refuses invalid UTF-8, escaped lone
    surrogates, ``NaN`` and nesting past 1,024 levels without recursing; the
    walk then refuses NUL, numbers past 64 bits (orjson reads an integer past
    ``2**64`` as a float) and nesting past ``MAX_DEPTH``."""
    try:
        body = orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse(source, "webhook body is not JSON") from exc
    if not isinstance(body, dict):
        raise UpstreamBadResponse(source, "webhook body is not an object")
    problem = _problem(body)
    if problem is not None:
        raise UpstreamBadResponse(source, f"webhook body {problem}")
    return body


def _problem(body: dict[str, Any]) -> str | None:
    stack: list[tuple[object, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "holds a NUL character"
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if not -MAX_WHOLE <= value <= MAX_WHOLE:
                return "holds a number past 64 bits"
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"is nested over {MAX_DEPTH} levels deep"
            items = (
                [*value.keys(), *value.values()] if isinstance(value, dict) else value
            )
            stack += [(item, depth + 1) for item in items]
    return None


class Fields:
    """One JSON object's fields, each read as a declared type. An absent key
    and ``null`` are ``None`` (an error when ``required``); any other type is
    an ``UpstreamBadResponse`` naming ``where.key``."""

    def __init__(self, source: str, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise UpstreamBadResponse(source, f"webhook field {where} is not an object")
        self.source = source
        self.data: Mapping[str, Any] = data
        self.where = where

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise self.error(key, "is missing")
        return value

    def error(self, key: str, problem: str) -> UpstreamBadResponse:
        return UpstreamBadResponse(
            self.source, f"webhook field {self.where}.{key} {problem}"
        )

    @overload
    def text(self, key: str, *, required: Literal[True]) -> str: ...
    @overload
    def text(self, key: str, *, required: bool = False) -> str | None: ...
    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, str):
            raise self.error(key, "is not a string")
        return value

    @overload
    def whole(self, key: str, *, required: Literal[True]) -> int: ...
    @overload
    def whole(self, key: str, *, required: bool = False) -> int | None: ...
    def whole(self, key: str, *, required: bool = False) -> int | None:
        """An integer; ``true`` and ``"3"`` are not."""
        value = self._get(key, required)
        if isinstance(value, bool) or not isinstance(value, int | None):
            raise self.error(key, "is not a whole number")
        return value

    @overload
    def amount(self, key: str, *, required: Literal[True]) -> Decimal: ...
    @overload
    def amount(self, key: str, *, required: bool = False) -> Decimal | None: ...
    def amount(self, key: str, *, required: bool = False) -> Decimal | None:
        """Money: a decimal string as Shopify sends (``"12.50"``) or a JSON
        number, from 0 to below ``MAX_AMOUNT``."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, str) and _AMOUNT.fullmatch(value):
            amount = Decimal(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            amount = Decimal(str(value))
        else:
            raise self.error(key, "is not an amount")
        if not Decimal(0) <= amount < MAX_AMOUNT:
            raise self.error(key, f"is not an amount from 0 to {MAX_AMOUNT:,}")
        return amount

    @overload
    def time(self, key: str, *, required: Literal[True]) -> datetime: ...
    @overload
    def time(self, key: str, *, required: bool = False) -> datetime | None: ...
    def time(self, key: str, *, required: bool = False) -> datetime | None:
        """An ISO 8601 time in UTC, in [``EARLIEST``, ``LATEST``); one
        without an offset is taken as UTC."""
        text = self.text(key, required=required)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
            aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            moment = aware.astimezone(UTC)
        except (ValueError, OverflowError):
            raise self.error(key, "is not an ISO 8601 time") from None
        if not EARLIEST <= moment < LATEST:
            years = f"{EARLIEST.year} and {LATEST.year}"
            raise self.error(key, f"is not a time between {years}")
        return moment

    def flag(self, key: str) -> bool | None:
        value = self._get(key, False)
        if value is not None and not isinstance(value, bool):
            raise self.error(key, "is not true or false")
        return value

    def object(self, key: str) -> Fields:
        """The nested object (an empty one when absent or ``null``)."""
        value = self.data.get(key)
        return Fields(
            self.source, {} if value is None else value, f"{self.where}.{key}"
        )

    def objects(self, key: str) -> list[Fields]:
        """The nested array of objects (empty when absent or ``null``)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "is not a list")
        return [
            Fields(self.source, item, f"{self.where}.{key}[{n}]")
            for n, item in enumerate(value)
        ]
