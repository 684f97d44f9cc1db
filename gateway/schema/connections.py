"""What every Relay connection of the schema shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from strawberry import relay


class Edge(Protocol):
    cursor: str


def page_info(
    edges: Sequence[Edge], *, has_next: bool, has_previous: bool = False
) -> relay.PageInfo:
    return relay.PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
