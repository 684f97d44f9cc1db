"""The one Relay connection every list of the schema is served as.

``Edge[Note]`` is named ``NoteEdge`` by Strawberry; a list keeps its own
description (and adds fields such as ``totalCount``) in a subclass::

    @strawberry.type(description="A page of notes, newest first.")
    class NoteConnection(Connection[Note]):
        pass

    NoteConnection.build(page.items, note_cursor, Note.from_row, has_next=...)

An edge whose name is not ``<Node>Edge`` is a named subclass of ``Edge``, and
its connection overrides ``edges`` with it (``ActivityEdge``, ``TimelineEdge``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Self, TypeVar

import strawberry
from strawberry import relay

T = TypeVar("T")
Item = TypeVar("Item")


@strawberry.type(description="One item of a page and its cursor.")
class Edge(Generic[T]):
    item: strawberry.Private[Any]
    """The page's item the edge shows: its cursor is made of it when asked for
    (most queries ask for ``pageInfo.endCursor`` only)."""
    cursor_of: strawberry.Private[Callable[[Any], str]]
    shown: strawberry.Private[T]

    @strawberry.field(description="Opaque; pass as `after`.")
    def cursor(self) -> str:
        return self.cursor_of(self.item)

    @strawberry.field(description="The item.")
    def node(self) -> T:
        return self.shown


@strawberry.type(description="A page of items.")
class Connection(Generic[T]):
    edges: Sequence[Edge[T]] = strawberry.field(description="The page's items.")
    page_info: relay.PageInfo = strawberry.field(description="Where the page is.")

    @classmethod
    def build(
        cls,
        items: Iterable[Item],
        cursor: Callable[[Item], str],
        node: Callable[[Item], T],
        *,
        has_next: bool,
        has_previous: bool = False,
        edge: type[Edge[T]] = Edge,
        **fields: object,
    ) -> Self:
        """The page of ``items`` with their cursors and its ``pageInfo``;
        ``fields`` are those a subclass adds (``total_count=...``)."""
        rows = list(items)
        return cls(
            edges=[edge(item=i, cursor_of=cursor, shown=node(i)) for i in rows],
            page_info=relay.PageInfo(
                has_next_page=has_next,
                has_previous_page=has_previous,
                start_cursor=cursor(rows[0]) if rows else None,
                end_cursor=cursor(rows[-1]) if rows else None,
            ),
            **fields,
        )
