"""The order the query limits are checked in (``gateway.admission.limits``): the
document's size, then its tokens, then one walk over the operation in document
order that stops at the first limit it passes — the same on every surface, so
a document breaking two limits gets the first one's code, and a hostile
document costs the walk no more than the limits allow."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from graphql import GraphQLSchema

from gateway.admission.limits import LimitExceeded, Limits, analyse
from gateway.admission.walk import Walker
from gateway.schema import build_schema

LIMITS = Limits()
WALKED_AT_MOST = 20_000
"""Selection sets a refused fan-out may walk (7,278 and 9,926 today): expanded,
these documents hold millions (4 ** 11 fields; 3 ** 10, each behind 200 spreads)."""


@cache
def schema() -> GraphQLSchema:
    return build_schema()._schema


def aliases(count: int) -> str:
    return " ".join(f"a{i}: __typename" for i in range(count))


def directives(count: int) -> str:
    return "__typename" + " @include(if: true)" * count


def deep(levels: int) -> str:
    return "a { " * levels + "b" + " }" * levels


COSTLY = (
    "customers(first: 100) { edges { node { orders(first: 100)"
    " { edges { node { id } } } } } }"
)

# (case, document, the code: the first limit passed, in the documented order)
TWO_LIMITS = [
    ("too large and too many tokens", f"{{ {aliases(9000)} }}", "QUERY_TOO_LARGE"),
    (
        "too many tokens and aliases",
        f"{{ {aliases(1000)} }}",
        "QUERY_TOO_MANY_TOKENS",
    ),
    (
        "too deep, then too many aliases",
        f"{{ {deep(20)} {aliases(40)} }}",
        "QUERY_TOO_DEEP",
    ),
    (
        "too many aliases, then too deep",
        f"{{ {aliases(40)} {deep(20)} }}",
        "TOO_MANY_ALIASES",
    ),
    ("too costly, then too deep", f"{{ {COSTLY} {deep(20)} }}", "QUERY_TOO_COSTLY"),
    ("too deep, then too costly", f"{{ {deep(20)} {COSTLY} }}", "QUERY_TOO_DEEP"),
    (
        "too many directives, then aliases",
        f"{{ {directives(60)} {aliases(40)} }}",
        "TOO_MANY_DIRECTIVES",
    ),
    (
        "too many aliases, then directives",
        f"{{ {aliases(40)} {directives(60)} }}",
        "TOO_MANY_ALIASES",
    ),
]


def refusal(document: str, limits: Limits = LIMITS) -> str | None:
    try:
        analyse(schema(), document, None, None, limits)
    except LimitExceeded as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("document", "code"), [pytest.param(d, c, id=n) for n, d, c in TWO_LIMITS]
)
def test_a_document_past_two_limits_gets_the_first_ones_code(
    document: str, code: str
) -> None:
    assert refusal(document) == code


def test_the_order_is_the_same_with_tighter_limits() -> None:
    """The embed surface's limits are tighter, not differently ordered: a
    document may pass an earlier limit there first, never a later one."""
    tight = Limits(max_tokens=400, max_document_bytes=8_000, max_directives=10)
    assert refusal(f"{{ {directives(100)} }}") == "TOO_MANY_DIRECTIVES"
    assert refusal(f"{{ {directives(100)} }}", tight) == "QUERY_TOO_MANY_TOKENS"
    assert refusal(f"{{ {directives(20)} }}", tight) == "TOO_MANY_DIRECTIVES"


def fan_out(width: int, levels: int, chain: int = 0) -> str:
    """``levels`` fragments, each holding ``width`` fields that spread the
    next: ``width ** levels`` fields once expanded, from a kilobyte. With a
    ``chain``, each field also spreads the first of that many fragments that
    each spread the next."""
    behind = "...C0 " if chain else ""
    fragments = [
        f"fragment L{i} on Query {{ " + f"a {{ {behind}...L{i + 1} }} " * width + "}"
        for i in range(levels)
    ]
    fragments.append(f"fragment L{levels} on Query {{ __typename }}")
    fragments += [f"fragment C{i} on Query {{ ...C{i + 1} }}" for i in range(chain)]
    if chain:
        fragments.append(f"fragment C{chain} on Query {{ __typename }}")
    return "{ ...L0 } " + " ".join(fragments)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(fan_out(4, 11), id="4 ** 11 fields from 900 bytes"),
        pytest.param(fan_out(3, 10, 200), id="200 spreads behind every field"),
    ],
)
def test_a_fan_out_of_fragments_is_refused_without_expanding_it(
    document: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused once the count passes the cost limit, not after expanding
    millions of fields or spreads (8 s and 2 s before; milliseconds now):
    counted in selection sets walked, not timed (a loaded machine is slow)."""
    walked = 0
    walk = Walker.walk

    def counted(self: Walker, *args: Any, **kwargs: Any) -> None:
        nonlocal walked
        walked += 1
        walk(self, *args, **kwargs)

    monkeypatch.setattr(Walker, "walk", counted)
    assert refusal(document) == "QUERY_TOO_COSTLY"
    assert 0 < walked <= WALKED_AT_MOST


def _spreads(times: int, levels: int = 12) -> str:
    spreads = " ".join(["...S{}"] * times)
    fragments = [
        f"fragment S{i} on Query {{ {spreads.format(*[i + 1] * times)} }}"
        for i in range(levels)
    ]
    fragments.append(f"fragment S{levels} on Query {{ __typename }}")
    return "{ ...S0 } " + " ".join(fragments)


def test_a_fragment_spread_twice_in_one_selection_counts_once() -> None:
    """graphql-core collects a fragment once per selection set however often
    it is spread there, and so does the walk: ``...A ...A ...A`` costs what
    ``...A`` does, and a chain of such spreads (3 ** 12 once expanded) is not
    a fan-out."""
    thrice = analyse(schema(), _spreads(3), None, None, LIMITS)
    once = analyse(schema(), _spreads(1), None, None, LIMITS)
    assert thrice.cost == once.cost == 14  # 13 fragments expanded, 1 field
