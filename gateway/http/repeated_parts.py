"""A GraphQL request naming one of its parts twice is refused (400).

``{"query": "{ customer … }", "query": "mutation { … }"}`` is valid JSON, but
parsers disagree on it: orjson, which decodes the body here, keeps the last
name, and a proxy, a web application firewall or a log in front of the gateway
may read the first. What such a layer inspected would then not be what runs
— the same reason a request naming ``Authorization`` twice is refused
(``one_authorization.py``). So are ``?query=`` or ``?variables=`` given twice
on a ``GET``.

The check costs a few scans of the body (~1.7 µs for a 360 view's): only a body
where one of the parts' names appears twice, or where a character is written
as an escape (how a second name hides from a plain search: ``"\\u0071uery"``),
is read again by the stdlib's parser, which gives every object's names as
they were sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

PARTS = ("query", "variables", "operationName", "extensions")
_PARTS = frozenset(PARTS)
_NAMES = {part: f'"{part}"'.encode() for part in PARTS}
_ESCAPE = re.compile(rb"\\u00")
"""How an escaped ASCII letter starts (``\\u0071`` is ``q``): a name written
so hides from a plain search."""
MESSAGE = "Send each of query, variables, operationName and extensions once."


class RepeatedPart(orjson.JSONDecodeError):
    """A body or message naming a part twice: not decoded."""


def repeats_a_part(body: bytes | str, parsed: object) -> bool:
    """Whether the JSON ``body`` names one of ``PARTS`` twice in an operation:
    the body itself, each of a batch's, or a socket message's ``payload``.
    ``parsed`` is ``body`` as orjson decoded it: the parts it holds narrow the
    search (a part it lacks was never named plainly)."""
    data = body.encode() if isinstance(body, str) else body
    if _ESCAPE.search(data) is None:
        operations = (
            (parsed,)  # the usual body: one operation
            if type(parsed) is dict and "payload" not in parsed
            else _operations(parsed, dict)
        )
        if not _named_twice(data, operations):
            return False  # ~1.7 µs for a 360 view's body
    try:
        value = json.loads(data, object_pairs_hook=_Members)
    except (ValueError, RecursionError):
        return False  # not JSON the stdlib reads: orjson's decoding decides
    return any(op.repeat() for op in _operations(value, _Members))


def _named_twice(data: bytes, operations: Iterable[dict[str, Any]]) -> bool:
    """Whether a part one of ``operations`` holds is named twice in ``data``
    (written plainly; or elsewhere, in another object)."""
    count = data.count
    for operation in operations:
        for part, name in _NAMES.items():
            if part in operation and count(name) > 1:
                return True
    return False


def _operations(value: object, kind: type[Any]) -> list[Any]:
    """The operations in a decoded body, objects decoded as ``kind``: the
    body itself, a batch's items, a socket message's ``payload``."""
    items = value if type(value) is list else [value]
    operations = []
    for item in items:
        if isinstance(item, kind):
            payload = _member(item, "payload")
            operations.append(payload if isinstance(payload, kind) else item)
    return operations


def _member(item: object, name: str) -> object:
    if isinstance(item, dict):
        return item.get(name)
    assert isinstance(item, _Members)
    return next((value for member, value in item if member == name), None)


def repeats_a_parameter(params: Mapping[str, Any]) -> bool:
    """Whether a ``GET``'s query string gives one of ``PARTS`` twice."""
    getlist = getattr(params, "getlist", None)
    return getlist is not None and any(len(getlist(part)) > 1 for part in PARTS)


class _Members(list[tuple[str, Any]]):
    """An object's members as sent, names repeated or not."""

    def repeat(self) -> bool:
        sent = [name for name, _ in self if name in _PARTS]
        return len(sent) != len(set(sent))
