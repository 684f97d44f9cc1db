"""A GraphQL request naming one of its parts twice is refused (400).

``{"query": "{ customer … }", "query": "mutation { … }"}`` is valid JSON, but
parsers disagree on it: orjson, which decodes the body here, keeps the last
name, and a proxy, a web application firewall or a log in front of the gateway
may read the first. What such a layer inspected would then not be what runs
— the same reason a request naming ``Authorization`` twice is refused
(``one_authorization.py``). The rule holds for a body's operation (each of a
batch's), ``?query=`` or ``?variables=`` given twice on a ``GET``, and a
socket's message: its ``type``, ``id`` and ``payload`` once each, and its
payload's parts once each.

The check costs a few scans of the body (~1.7 µs for a 360 view's). Only a
body where a name it holds appears twice, or where a character is written as
an escape (how a second name hides from a plain search: ``"\\u0071uery"``), is
read a second time, by the stdlib's parser with every object kept as the
tuple of its members as sent: at most about what orjson's own read costs
(~70 ms for the largest body allowed, built to be slow). A body that parser
cannot read (nested past its recursion limit, which orjson's 1,024 levels
exceed) is refused too: its names cannot be checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

Names = tuple[str, ...]
Check = tuple[dict[str, Any], Names]
"""An object orjson decoded, and the names it may not hold twice."""

PARTS: Names = ("query", "variables", "operationName", "extensions")
ENVELOPE: Names = ("type", "id", "payload")
"""A socket message's own members (graphql-transport-ws)."""
_QUOTED = {name: f'"{name}"'.encode() for name in PARTS + ENVELOPE}
_ESCAPE = re.compile(rb"\\u00")
"""How an escaped ASCII letter starts (``\\u0071`` is ``q``)."""
MESSAGE = "Send each of query, variables, operationName and extensions once."
TOO_DEEP = "The body is nested too deeply to be read."


class RepeatedPart(orjson.JSONDecodeError):
    """A socket's message naming a member or a part twice: not decoded."""


class Unreadable(Exception):
    """A body orjson read and the stdlib's parser cannot: not checkable."""


def repeats_a_part(body: bytes | str, parsed: object) -> bool:
    """Whether an operation of the JSON ``body`` — the body itself, or each of
    a batch's — names one of ``PARTS`` twice. ``parsed`` is ``body`` as orjson
    decoded it: the parts it holds narrow the search (a part it lacks was
    never named plainly). ``Unreadable`` when the check cannot tell."""
    data = body.encode() if isinstance(body, str) else body
    operations = parsed if type(parsed) is list else [parsed]
    checks: list[Check] = [(op, PARTS) for op in operations if isinstance(op, dict)]
    if not _suspect(data, checks):
        return False  # ~1.7 µs for a 360 view's body
    sent = _as_sent(data)
    items = sent if type(sent) is list else [sent]
    return any(isinstance(op, tuple) and _twice(op, PARTS) for op in items)


def repeats_in_message(body: bytes | str, parsed: object) -> bool:
    """Whether a socket's message names ``type``, ``id`` or ``payload`` twice,
    or its payload one of ``PARTS``; as ``repeats_a_part``."""
    if not isinstance(parsed, dict):
        return False
    data = body.encode() if isinstance(body, str) else body
    payload = parsed.get("payload")
    checks: list[Check] = [(parsed, ENVELOPE)]
    if isinstance(payload, dict):
        checks.append((payload, PARTS))
    if not _suspect(data, checks):
        return False
    sent = _as_sent(data)
    if not isinstance(sent, tuple):
        return False
    if _twice(sent, ENVELOPE):
        return True
    sent_payload = next((value for name, value in sent if name == "payload"), None)
    return isinstance(sent_payload, tuple) and _twice(sent_payload, PARTS)


def repeats_a_parameter(params: Mapping[str, Any]) -> bool:
    """Whether a ``GET``'s query string gives one of ``PARTS`` twice."""
    getlist = getattr(params, "getlist", None)
    return getlist is not None and any(len(getlist(part)) > 1 for part in PARTS)


def _suspect(data: bytes, checks: list[Check]) -> bool:
    """Whether ``data`` may name twice one of the names each object holds:
    one is written twice (plainly; perhaps elsewhere, in another object), or
    something is escaped."""
    if _ESCAPE.search(data) is not None:
        return True
    count = data.count
    for holder, names in checks:
        for name in names:
            if name in holder and count(_QUOTED[name]) > 1:
                return True
    return False


def _as_sent(data: bytes) -> object:
    """``data`` with each object the tuple of its members, names as sent."""
    try:
        return json.loads(data, object_pairs_hook=tuple)
    except (ValueError, RecursionError) as exc:
        raise Unreadable from exc


def _twice(members: tuple[tuple[str, object], ...], names: Names) -> bool:
    sent = [name for name, _ in members if name in names]
    return len(sent) != len(set(sent))
