"""The simulator's form of a HogQL query (``hogql_parse`` reads PostHog's own
parse tree into it), the errors PostHog answers for a refused query, and the
tables the simulator reads: ``events``, and ``person_distinct_ids`` joined to its
``person``.

A ``Field`` is resolved against its table when parsed, so ``hogql_eval`` only
follows row keys: ``person.properties.email`` reads ``row["person"]
["properties"]["email"]``. JSON columns hand out strings, as ClickHouse does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = "JSON"
"""A column holding a JSON object (ClickHouse stores it as a ``String``)."""
DATETIME = "DateTime64(6, 'UTC')"
_PERSON: dict[str, Any] = {"id": "UUID", "created_at": DATETIME, "properties": JSON}
TABLES: dict[str, dict[str, Any]] = {
    "events": {
        "uuid": "UUID",
        "event": "String",
        "distinct_id": "String",
        "timestamp": DATETIME,
        "person_id": "UUID",
        "properties": JSON,
    },
    "person_distinct_ids": {
        "distinct_id": "String",
        "person_id": "UUID",
        "person": _PERSON,
    },
}

Row = Mapping[str, Any]


class HogQLError(ValueError):
    """A query PostHog refuses: 400 ``validation_error`` with the error's
    ``code_name`` as ``code`` (posthog/api/query.py; posthog/hogql/errors.py,
    posthog/errors.py). A valid query the simulator does not run says so."""

    def __init__(self, message: str, code: str = "hogql_query_error") -> None:
        super().__init__(message)
        self.code = code


class HogQLSyntaxError(HogQLError):
    """Text PostHog's parser refuses (``SyntaxError``: ``hogql_syntax_error``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "hogql_syntax_error")


@dataclass(frozen=True, slots=True)
class Field:
    path: tuple[str, ...]
    columns: tuple[str, ...]
    """The keys that lead to the value in a row (``person``, ``properties``)."""
    key: str | None
    """The key read inside a JSON column, if any."""
    type: str

    @property
    def text(self) -> str:
        return ".".join(self.path)

    def get(self, row: Row) -> Any:
        value: Any = row
        for column in self.columns:
            value = value[column]
        if self.type == JSON:
            return json.dumps(value)
        if self.key is not None:
            found = value.get(self.key)
            return (
                found if found is None or isinstance(found, str) else json.dumps(found)
            )
        return value


@dataclass(frozen=True, slots=True)
class Constant:
    value: str | None

    @property
    def text(self) -> str:
        return "NULL" if self.value is None else "'" + self.value + "'"


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


Item = Field | Constant | Aggregate


@dataclass(frozen=True, slots=True)
class Condition:
    field: Field
    op: str
    values: tuple[Any, ...]


@dataclass(slots=True)
class Select:
    table: str
    items: list[Item]
    where: list[Condition]
    group_by: Field | None = None
    order_by: Field | None = None
    descending: bool = False
    limit_by: tuple[int, Field] | None = None
    limit: int | None = None


def resolve(path: tuple[str, ...], schema: dict[str, Any]) -> Field:
    """``person.properties.email`` → the row keys to follow and the JSON key."""
    node: Any = schema
    for depth, name in enumerate(path):
        if isinstance(node, dict) and name in node:
            node = node[name]
            continue
        if node == JSON and depth == len(path) - 1:
            return Field(path, path[:depth], name, "Nullable(String)")
        break
    else:
        if isinstance(node, str):
            return Field(path, path, None, node)
    raise HogQLError(f"Unable to resolve field: {'.'.join(path)}")
