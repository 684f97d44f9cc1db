"""The parser of the PostHog simulator's HogQL subset.

It reads the subset of HogQL that ``connectors.posthog.hogql`` emits and refuses
everything else with ``HogQLError`` (the simulator turns it into PostHog's 400
``validation_error``); ``hogql_eval`` runs the parsed query::

    select <field | count([distinct] field) | max(field) | min(field)>, …
    from events
    [where <field> in (<literal>, …) | <field> <op> <value> [and …]]
    [group by <field>] [order by <field> [asc|desc]]
    [limit <n> by <field>] [limit <n>]

Fields are ``uuid``, ``event``, ``distinct_id``, ``timestamp``, ``person_id``,
``properties`` and ``properties.<key>``; values are string or integer literals,
``now() - interval <n> day|hour|minute`` and ``toDateTime('<iso>')``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

COLUMNS = ("uuid", "event", "distinct_id", "timestamp", "person_id", "properties")
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+)"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<op>>=|<=|!=|=|<|>|[(),.\-]))"
)
_UNESCAPE = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0"}
_UNESCAPE |= {"a": "\a", "v": "\v"}
_UNITS = {"day": "days", "hour": "hours", "minute": "minutes"}

Row = Mapping[str, Any]


class HogQLError(ValueError):
    """A query outside the supported subset, or one that does not parse."""


@dataclass(frozen=True, slots=True)
class Field:
    path: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.path)

    def get(self, row: Row) -> Any:
        if self.path[0] == "properties" and len(self.path) == 2:
            value = row["properties"].get(self.path[1])
            return (
                value if value is None or isinstance(value, str) else json.dumps(value)
            )
        if self.path == ("properties",):
            return json.dumps(row["properties"])
        return row[self.path[0]]


@dataclass(frozen=True, slots=True)
class Aggregate:
    func: str
    distinct: bool
    arg: Field | None

    @property
    def text(self) -> str:
        inner = ("DISTINCT " if self.distinct else "") + (
            self.arg.text if self.arg else ""
        )
        return f"{self.func}({inner})"


@dataclass(frozen=True, slots=True)
class Condition:
    field: Field
    op: str
    values: tuple[Any, ...]


@dataclass(slots=True)
class Select:
    items: list[Field | Aggregate]
    where: list[Condition]
    group_by: Field | None = None
    order_by: Field | None = None
    descending: bool = False
    limit_by: tuple[int, Field] | None = None
    limit: int | None = None


def parse(text: str, *, now: datetime) -> Select:
    """``now`` is what ``now()`` means in this query."""
    return _Parser(text, now).parse()


class _Parser:
    def __init__(self, text: str, now: datetime) -> None:
        self.now = now
        self.tokens: list[tuple[str, str]] = []
        position, text = 0, text.strip().rstrip(";").rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise HogQLError(f"Syntax error at position {position}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.at = 0

    def peek(self, word: str) -> bool:
        if self.at >= len(self.tokens):
            return False
        return self.tokens[self.at][1].lower() == word

    def take(self, kind: str | None = None) -> str:
        if self.at >= len(self.tokens):
            raise HogQLError("Unexpected end of query")
        token_kind, text = self.tokens[self.at]
        if kind is not None and token_kind != kind:
            raise HogQLError(f"Expected {kind}, got '{text}'")
        self.at += 1
        return text

    def accept(self, word: str) -> bool:
        if self.peek(word):
            self.at += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            found = self.tokens[self.at][1] if self.at < len(self.tokens) else "end"
            raise HogQLError(f"Expected '{word}', got '{found}'")

    def parse(self) -> Select:
        self.expect("select")
        items = [self.item()]
        while self.accept(","):
            items.append(self.item())
        self.expect("from")
        table = self.take("name")
        if table != "events":
            raise HogQLError(f"Unknown table `{table}`.")
        query = Select(items=items, where=[])
        if self.accept("where"):
            query.where.append(self.condition())
            while self.accept("and"):
                query.where.append(self.condition())
        if self.accept("group"):
            self.expect("by")
            query.group_by = self.field()
        if self.accept("order"):
            self.expect("by")
            query.order_by = self.field()
            query.descending = self.accept("desc")
            if not query.descending:
                self.accept("asc")
        while self.accept("limit"):
            count = int(self.take("number"))
            if self.accept("by"):
                query.limit_by = (count, self.field())
            else:
                query.limit = count
        if self.at != len(self.tokens):
            raise HogQLError(f"Unexpected '{self.tokens[self.at][1]}'")
        return query

    def field(self) -> Field:
        path = [self.take("name")]
        while self.accept("."):
            path.append(self.take("name"))
        field = Field(tuple(path))
        known = (len(path) == 1 and path[0] in COLUMNS) or (
            len(path) == 2 and path[0] == "properties"
        )
        if not known:
            raise HogQLError(f"Unable to resolve field: {field.text}")
        return field

    def item(self) -> Field | Aggregate:
        func = self.tokens[self.at][1].lower() if self.at < len(self.tokens) else ""
        if func in ("count", "max", "min") and self.tokens[self.at + 1 :][:1] == [
            ("op", "(")
        ]:
            self.at += 2
            distinct = self.accept("distinct")
            arg = None if (func == "count" and self.peek(")")) else self.field()
            self.expect(")")
            return Aggregate(func, distinct, arg)
        return self.field()

    def condition(self) -> Condition:
        field = self.field()
        if self.accept("in"):
            self.expect("(")
            values = [self.value()]
            while self.accept(","):
                values.append(self.value())
            self.expect(")")
            return Condition(field, "in", tuple(values))
        op = self.take("op")
        if op not in ("=", "!=", ">=", ">", "<=", "<"):
            raise HogQLError(f"Unsupported operator '{op}'")
        return Condition(field, op, (self.value(),))

    def value(self) -> Any:
        if self.at < len(self.tokens) and self.tokens[self.at][0] == "string":
            return _unquote(self.take())
        if self.at < len(self.tokens) and self.tokens[self.at][0] == "number":
            return int(self.take())
        if self.accept("todatetime"):
            self.expect("(")
            moment = _datetime(_unquote(self.take("string")))
            self.expect(")")
            return moment
        self.expect("now")
        self.expect("(")
        self.expect(")")
        if not self.accept("-"):
            return self.now
        self.expect("interval")
        amount = int(self.take("number"))
        unit = self.take("name").lower()
        if unit not in _UNITS:
            raise HogQLError(f"Unsupported interval unit '{unit}'")
        return self.now - timedelta(**{_UNITS[unit]: amount})


def _unquote(literal: str) -> str:
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(_UNESCAPE.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise HogQLError(f"Invalid DateTime '{text}'") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
