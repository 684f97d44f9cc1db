"""Query parameters as Klaviyo reads them: ``filter`` (the subset of its
filter syntax the simulator serves: ``equals``/``any`` over strings and
``greater-than``/``greater-or-equal``/``less-than``/``less-or-equal`` over
date-times, on the fields and operators the endpoint allows, several joined
by commas — all must hold), ``page[size]`` within the endpoint's bounds and
an opaque ``page[cursor]``; collections carry ``links.self``/``next``/``prev``.

The filter syntax (developers.klaviyo.com/en/reference/api-overview#filtering):
``equals(email,"a@b.example")``, ``any(id,["01H…","01J…"])`` (strings in
double or single quotes), ``greater-than(updated,2023-04-19T00:00:00Z)``
(an unquoted date-time), ``less-than(updated,…),greater-than(updated,…)``
(both). Anything else the simulator answers 400 ``invalid`` naming the
parameter — a filter Klaviyo accepts but the simulator does not serve
included (``and(…)``, ``or(…)``, other operators) [unverified: Klaviyo's own
wording of a bad filter].
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.requests import Request

from connectors.klaviyo.simulator.account import Profile
from connectors.klaviyo.simulator.answers import bad_parameter

T = TypeVar("T")

EQUALITY = ("any", "equals")
COMPARISONS = ("greater-than", "greater-or-equal", "less-than", "less-or-equal")
_CALL = re.compile(r"\s*([a-z-]+)\(([a-z_.]+),")
_STRING = re.compile(r"\s*(?:\"([^\"\\]*)\"|'([^'\\]*)')\s*")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    operator: str
    values: frozenset[str] = frozenset()
    """What ``equals``/``any`` accept."""
    bound: datetime | None = None
    """What a comparison compares with."""

    def matches(self, found: Iterable[object]) -> bool:
        """Whether one of the resource's values for ``field`` satisfies it."""
        return any(self._holds(value) for value in found)

    def _holds(self, value: object) -> bool:
        if self.bound is None:
            return isinstance(value, str) and value in self.values
        if not isinstance(value, datetime):
            return False
        if self.operator == "greater-than":
            return value > self.bound
        if self.operator == "greater-or-equal":
            return value >= self.bound
        if self.operator == "less-than":
            return value < self.bound
        return value <= self.bound


def _strings(text: str) -> list[str]:
    """A quoted string, or a bracketed list of them."""
    text = text.strip()
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    values: list[str] = []
    position = 0
    while position < len(inner):
        found = _STRING.match(inner, position)
        if found is None:
            raise ValueError(text)
        values.append(found.group(1) if found.group(1) is not None else found.group(2))
        position = found.end()
        if position < len(inner):
            if inner[position] != ",":
                raise ValueError(text)
            position += 1
    if not values:
        raise ValueError(text)
    return values


def _date_time(text: str) -> datetime:
    found = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found


def _argument_end(raw: str, position: int) -> int:
    """The index of the ``)`` closing the call whose argument starts at
    ``position``, quotes and brackets skipped."""
    quote: str | None = None
    for index in range(position, len(raw)):
        char = raw[index]
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == ")":
            return index
    raise ValueError(raw)


def _calls(raw: str) -> list[tuple[str, str, str]]:
    """``(operator, field, argument)`` of each comma-joined call."""
    calls: list[tuple[str, str, str]] = []
    position = 0
    while True:
        call = _CALL.match(raw, position)
        if call is None:
            raise ValueError(raw)
        end = _argument_end(raw, call.end())
        calls.append((call.group(1), call.group(2), raw[call.end() : end]))
        position = end + 1
        rest = raw[position:].lstrip()
        if not rest:
            return calls
        if not rest.startswith(","):
            raise ValueError(raw)
        position = len(raw) - len(rest) + 1


def read_filter(
    request: Request, allowed: Mapping[str, Sequence[str]]
) -> list[Condition]:
    """The conditions of ``filter`` (none without one); ``allowed``: each
    field the endpoint filters on, with its operators."""
    raw = request.query_params.get("filter")
    if raw is None:
        return []
    try:
        calls = _calls(raw)
    except ValueError:
        raise bad_parameter(f"Invalid filter provided: '{raw}'.", "filter") from None
    conditions: list[Condition] = []
    for operator, field, argument in calls:
        if field not in allowed:
            raise bad_parameter(
                f"'{field}' is not a valid field for this filter.", "filter"
            )
        if operator not in allowed[field]:
            raise bad_parameter(
                f"'{operator}' is not a valid operator for '{field}'.", "filter"
            )
        try:
            if operator in COMPARISONS:
                conditions.append(
                    Condition(field, operator, bound=_date_time(argument))
                )
                continue
            values = _strings(argument)
        except ValueError:
            raise bad_parameter(
                f"Invalid filter provided: '{raw}'.", "filter"
            ) from None
        if operator == "equals" and len(values) != 1:
            raise bad_parameter("'equals' takes one value.", "filter")
        conditions.append(Condition(field, operator, frozenset(values)))
    return conditions


def page_size(request: Request, default: int, most: int) -> int:
    raw = request.query_params.get("page[size]")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise bad_parameter(
            f"Page size must be an integer between 1 and {most}.", "page[size]"
        )
    return int(raw)


def _offset(request: Request) -> int:
    raw = request.query_params.get("page[cursor]")
    if raw is None:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(raw.encode()).decode().partition(":")
        if kind != "offset" or not number.isdigit():
            raise ValueError(raw)
    except ValueError:
        raise bad_parameter("Invalid page cursor.", "page[cursor]") from None
    return int(number)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def page(
    request: Request, items: Sequence[T], size: int
) -> tuple[Sequence[T], dict[str, Any]]:
    """One page of ``items`` and the document's ``links``."""
    start = _offset(request)
    chunk = items[start : start + size]
    links: dict[str, Any] = {"self": str(request.url)}
    if start + size < len(items):
        links["next"] = str(
            request.url.include_query_params(**{"page[cursor]": _cursor(start + size)})
        )
    if start > 0:
        links["prev"] = str(
            request.url.include_query_params(
                **{"page[cursor]": _cursor(max(0, start - size))}
            )
        )
    return chunk, links


PROFILE_SORTS = ("id", "created", "updated", "email")


def sort_profiles(profiles: list[Profile], sort: str | None) -> list[Profile]:
    if sort is None:
        return profiles
    key = sort.removeprefix("-")
    if key not in PROFILE_SORTS:
        raise bad_parameter(f"'{sort}' is not a valid sort field.", "sort")

    def value(profile: Profile) -> str:
        if key == "id":
            return profile.id
        if key == "email":
            return profile.email or ""
        when = profile.updated if key == "updated" else None
        return (when or profile.created).isoformat()

    return sorted(profiles, key=value, reverse=sort.startswith("-"))
