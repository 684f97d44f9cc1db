"""Keyset pagination: opaque cursors and the page-window arithmetic.

A cursor is url-safe base64 of a small JSON array ``[kind, *sort values, id]``.
It names what it was made for (``kind``, e.g. the sort order), so a cursor from
one ordering cannot be replayed against another. Pages are read by comparing the
sort key with the cursor's, never by offset, so a page stays stable while rows
are inserted before or after it. Every list declares its cursor once as a
:class:`Cursor` (kind and key shape) and reads ``after`` through it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

import orjson

from gateway.errors import BadUserInput
from gateway.relay.ids import MAX_KEY, strict_b64decode

T = TypeVar("T")

Key = tuple[object, ...]
K = TypeVar("K", bound=Key)


def encode_cursor(kind: str, key: Key) -> str:
    raw = orjson.dumps([kind, *key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, argument: str = "after") -> Key:
    """The key inside ``cursor``, of any shape; BAD_USER_INPUT when it is not
    one of ours. Lists read their cursors through :class:`Cursor` instead."""
    try:
        # only as written (padding optional): the decoder reads junk around
        # a cursor, a ``+`` or other spellings of its bits as the same row
        value = orjson.loads(strict_b64decode(cursor, url_safe=True))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadUserInput("The cursor is not valid.", argument=argument) from exc
    if not isinstance(value, list) or len(value) < 2 or value[0] != kind:
        raise BadUserInput(
            "The cursor does not belong to this list or ordering.", argument=argument
        )
    if not all(_comparable(v) for v in value[1:]):
        raise BadUserInput("The cursor is not valid.", argument=argument)
    return tuple(value[1:])


def _comparable(value: object) -> bool:
    """Not a number the database cannot compare with a ``BIGINT`` column (a
    forged ``2**63`` was an OverflowError, a 500), nor a boolean posing as one."""
    if isinstance(value, bool):
        return False
    return not isinstance(value, int) or -MAX_KEY - 1 <= value <= MAX_KEY


@dataclass(frozen=True, slots=True)
class Cursor(Generic[K]):
    """The cursor of one list: its kind and the JSON types of its key.

    ``TASKS: Cursor[tuple[str, int]] = Cursor("tasks", (str, int))`` then
    ``TASKS.encode((created_at, id))`` and ``TASKS.decode(after)``, which
    refuses a key of another length or with another type in any place (a
    ``true`` is not an int). ``optional`` are trailing places that cursors of
    an older release may lack.
    """

    kind: str
    shape: tuple[type[object], ...]
    optional: tuple[type[object], ...] = ()

    def encode(self, key: K) -> str:
        return encode_cursor(self.kind, key)

    def decode(self, cursor: str, argument: str = "after") -> K:
        """The key inside ``cursor``; BAD_USER_INPUT for anything else."""
        key = decode_cursor(self.kind, cursor, argument)
        if not self._fits(key):
            raise BadUserInput("The cursor is not valid.", argument=argument)
        return cast(K, key)

    def _fits(self, key: Key) -> bool:
        types = (*self.shape, *self.optional)
        return len(self.shape) <= len(key) <= len(types) and all(
            type(value) is kind for value, kind in zip(key, types, strict=False)
        )


PositionedKey = tuple[str, str] | tuple[str, str, int]
"""A windowed list's cursor: the item's sort key, then its position."""


def window_cursor(kind: str) -> Cursor[PositionedKey]:
    """The cursor of a list read in windows (``gateway.loaders.windows``):
    the item's sort key (time, id) and its position, a hint of how big a
    window the next page needs (a hint only: new items shift positions)."""
    return Cursor(kind, (str, str), optional=(int,))


def after_position(
    cursor: Cursor[PositionedKey], after: str
) -> tuple[tuple[str, str], int]:
    """The sort key in ``after`` and the position after it (0 when a cursor
    of an older release carries no position)."""
    key = cursor.decode(after)
    position = key[2] if len(key) == 3 else -1
    if position < -1:
        raise BadUserInput("The cursor is not valid.", argument="after")
    return (key[0], key[1]), position + 1


def check_first(first: int, maximum: int) -> int:
    if first < 0:
        raise BadUserInput("`first` must not be negative.", argument="first")
    if first > maximum:
        raise BadUserInput(f"`first` must be at most {maximum}.", argument="first")
    return first


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page read with ``limit + 1`` rows: the extra row only says more exist."""

    items: Sequence[T]
    has_next: bool

    @classmethod
    def from_rows(cls, rows: Sequence[T], first: int) -> Page[T]:
        return cls(items=rows[:first], has_next=len(rows) > first)
