"""A canonical model checked against its own annotations.

Mappings read upstream JSON with ``payload["field"]`` and ``.get``; a
delivery whose signature is valid can still carry ``null`` or a number where
a string belongs, and the wrong value then travels into SQL (a NOT NULL
violation, a string in a numeric column: an internal error after part of the
work). ``check_shape`` walks a frozen dataclass — nested models, optionals,
``tuple[X, ...]`` — and raises ``UpstreamProtocolError`` at the first field
whose value is not of its declared type, or a ``Decimal`` that is not finite::

    order = rest_order(payload)
    check_shape(SOURCE, order)
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from connectors.errors import UpstreamProtocolError


@cache
def _hints(model: type) -> dict[str, Any]:
    return get_type_hints(model)


def check_shape(source: str, value: object) -> None:
    """Raise ``UpstreamProtocolError`` naming the first mistyped field."""
    problem = _problem(value, type(value), type(value).__name__)
    if problem is not None:
        raise UpstreamProtocolError(source, f"webhook field {problem}")


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
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{where} is not a whole number"
    if kind is Decimal and not (isinstance(value, Decimal) and value.is_finite()):
        return f"{where} is not a finite number"
    if kind in (str, bool, datetime) and not isinstance(value, kind):
        return f"{where} is not a {kind.__name__}"
    return None
