"""Query parameters as Klaviyo reads them: ``filter`` (the subset of its
filter syntax the simulator serves: one ``equals`` or ``any`` over a field
the endpoint allows), ``page[size]`` within the endpoint's bounds and an
opaque ``page[cursor]``; collections carry ``links.self``/``next``/``prev``.

The filter syntax (developers.klaviyo.com/en/reference/api-overview#filtering):
``equals(email,"a@b.example")``, ``any(id,["01H…","01J…"])``; strings in
double or single quotes. Anything else the simulator answers 400 ``invalid``
naming the parameter — a filter Klaviyo accepts but the simulator does not
serve included (``and(…)``, other operators) [unverified: Klaviyo's own
wording of a bad filter].
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request

from connectors.klaviyo.simulator.account import Profile
from connectors.klaviyo.simulator.answers import bad_parameter

T = TypeVar("T")

_CALL = re.compile(r"^(equals|any)\(([a-z_.]+),(.*)\)$", re.DOTALL)
_STRING = re.compile(r"\s*(?:\"([^\"\\]*)\"|'([^'\\]*)')\s*")


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    values: frozenset[str]

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and value in self.values


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


def read_filter(request: Request, allowed: Sequence[str]) -> Filter | None:
    raw = request.query_params.get("filter")
    if raw is None:
        return None
    call = _CALL.match(raw.strip())
    if call is None:
        raise bad_parameter(f"Invalid filter provided: '{raw}'.", "filter")
    operator, field, argument = call.groups()
    if field not in allowed:
        raise bad_parameter(
            f"'{field}' is not a valid field for this filter.", "filter"
        )
    try:
        values = _strings(argument)
    except ValueError:
        raise bad_parameter(f"Invalid filter provided: '{raw}'.", "filter") from None
    if operator == "equals" and len(values) != 1:
        raise bad_parameter("'equals' takes one value.", "filter")
    return Filter(field, frozenset(values))


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
