"""JSON values of every class that broke a parser or a column when it came from
outside: NUL and lone surrogates in text, numbers past 64 bits or a double's
range, and nesting deeper than any parser should follow. ``encode`` writes
them: ``json.dumps`` cannot write a value nested 100,000 deep (it recurses), so
``Deep`` stands for one and is spliced into the text afterwards::

    body = {"id": "a\\x00", "detail": Deep(100_000), "total": 2**64}
    raw = encode(body)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Deep:
    """An array (or object) nested ``depth`` levels deep."""

    depth: int
    objects: bool = False

    def text(self) -> str:
        if self.objects:
            return '{"d":' * self.depth + "null" + "}" * self.depth
        return "[" * self.depth + "]" * self.depth


def encode(body: Any) -> bytes:
    """``body`` as JSON bytes, ``Deep`` values spliced in; lone surrogates and
    NUL are written as ``\\u`` escapes, as a sender's JSON library does."""
    deep: dict[str, str] = {}

    def placeholder(value: object) -> str:
        if not isinstance(value, Deep):
            raise TypeError(type(value).__name__)
        token = f"\ue000{len(deep)}\ue000"
        deep[json.dumps(token)] = value.text()
        return token

    text = json.dumps(body, default=placeholder)
    for token, nested in deep.items():
        text = text.replace(token, nested)
    return text.encode()


def sometimes(common: Any, rare: Any, one_in: int) -> Any:
    """``rare`` for one example in ``one_in``, else ``common``: a hostile value
    in every leaf would make every body fail at its first check."""
    return st.integers(1, one_in).flatmap(lambda n: rare if n == 1 else common)


BAD_CHARACTERS = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff"]
BAD_TEXT = st.builds(
    lambda before, bad, after: before + bad + after,
    st.text(max_size=6),
    st.sampled_from(BAD_CHARACTERS),
    st.text(max_size=6),
)
"""Text with a NUL (PostgreSQL's text refuses it) or a lone surrogate (not
encodable as UTF-8)."""
TEXT = sometimes(st.text(max_size=40), BAD_TEXT, 12)
HUGE_NUMBERS = st.one_of(
    st.sampled_from([2**31, 2**63, -(2**63) - 1, 2**64, 10**30, 1e308, -1e308]),
    st.integers(min_value=2**63, max_value=2**80),
    st.floats(min_value=1e19, max_value=1e308),
)
"""Past a 64-bit integer (PostgreSQL's ``bigint``) or far past any money column."""
NUMBERS = sometimes(
    st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    HUGE_NUMBERS,
    6,
)
DEEP = st.builds(Deep, st.sampled_from([33, 300, 1_100, 100_000]), st.booleans())
LEAVES = st.none() | st.booleans() | NUMBERS | TEXT | sometimes(st.none(), DEEP, 30)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4)
    ),
    max_leaves=20,
)
"""Any JSON value, with every hostile class among its leaves and keys."""
