"""A canonical model checked against its own annotations.

Mappings read upstream JSON with ``payload["field"]`` and ``.get``; a
delivery whose signature is valid can still carry ``null`` or a number where
a string belongs, and the wrong value then travels into SQL (a NOT NULL
violation, a string in a numeric column: an internal error after part of the
work). ``check_shape`` walks a frozen dataclass — nested models, optionals,
``tuple[X, ...]`` — and raises ``UpstreamBadResponse`` at the first field
whose value is not of its declared type, an ``int`` past 64 bits (PostgreSQL's
``bigint``), a ``Decimal`` that is not finite or not below ``MAX_AMOUNT``, or a
``str`` holding NUL or a lone surrogate (PostgreSQL refuses the first, UTF-8
cannot encode the second). Exact column limits are the gateway's
(``gateway.db.column_limits``); these are what no canonical model may hold::

    order = rest_order(payload)
    check_shape(SOURCE, order)
"""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from connectors.errors import UpstreamBadResponse

MAX_WHOLE = 2**63 - 1
MAX_AMOUNT = Decimal(10) ** 15
"""Past any money column (``NUMERIC(14, 2)``) and far from ``Decimal``'s own
overflow, so amounts can be added and multiplied by quantities."""
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


@cache
def _hints(model: type) -> dict[str, Any]:
    return get_type_hints(model)


def check_shape(source: str, value: object) -> None:
    """Raise ``UpstreamBadResponse`` naming the first mistyped field."""
    problem = _problem(value, type(value), type(value).__name__)
    if problem is not None:
        raise UpstreamBadResponse(source, f"webhook field {problem}")


def _problem(value: object, kind: Any, where: str) -> str | None:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        found = [_problem(value, o, where) for o in options if o is not type(None)]
        return None if None in found else found[0]
    if origin is tuple:
        item, *_ = get_args(kind)
        if not isinstance(value, tuple):
            return f"{where} is not a list"
        return next((p for v in value if (p := _problem(v, item, where))), None)
    if origin is not None and issubclass(origin, Mapping):
        return None if isinstance(value, Mapping) else f"{where} is not an object"
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(value, kind):
            return f"{where} is not an object"
        hints = _hints(kind)
        for field in dataclasses.fields(kind):
            inner = getattr(value, field.name)
            problem = _problem(inner, hints[field.name], f"{where}.{field.name}")
            if problem is not None:
                return problem
        return None
    return _scalar(value, kind, where)


def _scalar(value: object, kind: Any, where: str) -> str | None:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{where} is not a whole number"
        return None if -MAX_WHOLE <= value <= MAX_WHOLE else f"{where} is past 64 bits"
    if kind is Decimal:
        if (
            isinstance(value, Decimal)
            and value.is_finite()
            and value.copy_abs() < MAX_AMOUNT
        ):
            return None
        return f"{where} is not a finite number below {MAX_AMOUNT:,}"
    if kind in (str, bool, datetime) and not isinstance(value, kind):
        return f"{where} is not a {kind.__name__}"
    if isinstance(value, str) and BAD_TEXT.search(value):
        return f"{where} holds a NUL character or a lone surrogate"
    return None
