"""The slice of Shopify's search syntax the simulator understands.

``query:`` arguments are terms joined by implicit AND, with ``OR`` between
groups: ``customer_id:1 OR customer_id:2``, ``email:maya@example.com``,
``updated_at:>2025-01-01T00:00:00Z``, ``status:open``. Like Shopify, a filter
name the resource does not know is ignored rather than rejected, so a connector
that sends ``customer_id:`` to ``abandonedCheckouts`` gets every checkout back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Getter = Callable[[dict[str, Any]], object]

_TERM = re.compile(r"^(?P<field>[a-z_]+):(?P<op><=|>=|<|>)?(?P<value>.+)$")
_TOKEN = re.compile(r"""(?:[a-z_]+:(?:<=|>=|<|>)?)?(?:"[^"]*"|'[^']*')|\S+""")
"""A term: a quoted value (``title:"Face Care"``) is one, spaces and all."""


@dataclass(frozen=True, slots=True)
class Term:
    field: str | None
    op: str
    value: str


class SearchQuery:
    """A parsed ``query:`` string: a disjunction of conjunctions of terms."""

    def __init__(self, text: str | None) -> None:
        self.groups: list[list[Term]] = []
        for group in re.split(r"\s+OR\s+", (text or "").strip()):
            tokens = _TOKEN.findall(group)
            terms = [_term(token) for token in tokens if token != "AND"]
            if terms:
                self.groups.append(terms)

    def equals(self, field: str) -> list[str] | None:
        """The values of a query that is only ``field:a OR field:b …``, else
        ``None``; lets the store look records up instead of scanning them."""
        if not self.groups or any(
            len(group) != 1 or group[0].field != field or group[0].op != "="
            for group in self.groups
        ):
            return None
        return [group[0].value for group in self.groups]

    def matches(self, record: dict[str, Any], fields: Mapping[str, Getter]) -> bool:
        if not self.groups:
            return True
        return any(
            all(_match(term, record, fields) for term in group) for group in self.groups
        )


def _term(token: str) -> Term:
    found = _TERM.match(token)
    if found is None:
        return Term(None, "", token.strip('"').lower())
    value = found["value"].strip('"').strip("'")
    return Term(found["field"], found["op"] or "=", value)


def _match(term: Term, record: dict[str, Any], fields: Mapping[str, Getter]) -> bool:
    if term.field is None:
        text = fields.get("_text")
        return text is None or term.value in str(text(record)).lower()
    getter = fields.get(term.field)
    if getter is None:
        return True
    actual = getter(record)
    if actual is None:
        return False
    wanted: object
    if isinstance(actual, datetime):
        wanted = _when(term.value)
    elif isinstance(actual, int):
        wanted = int(term.value) if term.value.isdigit() else -1
    else:
        actual, wanted = str(actual).lower(), term.value.lower()
    return _compare(actual, term.op, wanted)


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if op == "=":
        return bool(actual == wanted)
    if op == ">":
        return bool(actual > wanted)
    if op == ">=":
        return bool(actual >= wanted)
    if op == "<":
        return bool(actual < wanted)
    return bool(actual <= wanted)


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
