"""The parser of the PostHog simulator's HogQL subset.

It reads the subset of HogQL that ``connectors.posthog.hogql`` emits and refuses
everything else with ``HogQLError`` (the simulator turns it into PostHog's 400
``validation_error``); ``hogql_eval`` runs the parsed query::

    <select> [union all <select> …]        -- each select may sit in ( )
    select <field | 'text' | NULL | count([distinct] field) | max(f) | min(f)>, …
    from events | person_distinct_ids
    [where <field> in (<literal>, …) | <field> <op> <value> [and …]]
    [group by <field>] [order by <field> [asc|desc]]
    [limit <n> by <field>] [limit <n>]

``events`` has ``uuid``, ``event``, ``distinct_id``, ``timestamp``,
``person_id`` and ``properties``; ``person_distinct_ids`` has ``distinct_id``,
``person_id`` and the lazily joined ``person`` (``person.id``,
``person.created_at``, ``person.properties``). ``properties.<key>`` reads one
key of a JSON column. Values are string or integer literals,
``now() - interval <n> day|hour|minute`` and ``toDateTime('<iso>')``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.posthog.simulator.hogql_ast import (
    TABLES,
    Aggregate,
    Condition,
    Constant,
    Field,
    HogQLError,
    Item,
    Select,
    resolve,
)

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+)"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<op>>=|<=|!=|=|<|>|[(),.\-]))"
)
_UNESCAPE = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0"}
_UNESCAPE |= {"a": "\a", "v": "\v"}
_UNITS = {"day": "days", "hour": "hours", "minute": "minutes"}


def parse(text: str, *, now: datetime) -> list[Select]:
    """The selects of a query (several when joined by ``union all``);
    ``now`` is what ``now()`` means in this query."""
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
        self.schema: dict[str, Any] = {}

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

    def parse(self) -> list[Select]:
        selects = [self.part()]
        while self.accept("union"):
            if not self.accept("all"):
                raise HogQLError("Only UNION ALL is supported")
            selects.append(self.part())
        if self.at != len(self.tokens):
            raise HogQLError(f"Unexpected '{self.tokens[self.at][1]}'")
        widths = {len(s.items) for s in selects}
        if len(widths) > 1:
            raise HogQLError(
                "Different number of columns in UNION ALL elements: "
                + ", ".join(str(len(s.items)) for s in selects)
            )
        return selects

    def part(self) -> Select:
        if not self.accept("("):
            return self.select()
        select = self.select()
        self.expect(")")
        return select

    def table_ahead(self) -> str:
        """The table of the select starting here (fields resolve against it)."""
        for at in range(self.at, len(self.tokens) - 1):
            if self.tokens[at][1].lower() == "from":
                return self.tokens[at + 1][1]
        raise HogQLError("Expected 'from'")

    def select(self) -> Select:
        self.expect("select")
        table = self.table_ahead()
        if table not in TABLES:
            raise HogQLError(f"Unknown table `{table}`.")
        self.schema = TABLES[table]
        items = [self.item()]
        while self.accept(","):
            items.append(self.item())
        self.expect("from")
        self.take("name")
        query = Select(table=table, items=items, where=[])
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
        return query

    def field(self) -> Field:
        path = [self.take("name")]
        while self.accept("."):
            path.append(self.take("name"))
        return resolve(tuple(path), self.schema)

    def item(self) -> Item:
        kind, text = self.tokens[self.at] if self.at < len(self.tokens) else ("", "")
        if kind == "string":
            return Constant(_unquote(self.take()))
        if self.accept("null"):
            return Constant(None)
        func = text.lower()
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
