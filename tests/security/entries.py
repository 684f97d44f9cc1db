"""Entry points: every way a query can reach a type that carries personal data.

An entry is a document with a ``SELECTION`` placeholder where the reached
object's selection goes, the type found there, and the path to it from
``data``. ``node(id:)`` entries are made for every type implementing ``Node``
(a new Node type without an id in ``NODE_IDS`` fails, asking for one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from graphql import GraphQLSchema

from gateway.auth.policy import Role, may_compare
from gateway.schema import build_schema
from gateway.schema.embed import build_embed_schema
from tests.security.schema_walk import PiiLeaf, Step, pii_leaves, reach, render

if TYPE_CHECKING:
    from tests.security.conftest import Stage

SELECTION = "SELECTION"

NODE_IDS: dict[str, Callable[[Stage], str]] = {
    "Customer": lambda stage: stage.subject.gid,
    "Note": lambda stage: stage.subject.note_gid,
    "Task": lambda stage: stage.subject.task_gid,
}
"""A global id of the subject's own object, per Node type."""


@dataclass(frozen=True)
class Entry:
    name: str
    document: str
    start: str
    """The type at ``SELECTION``."""
    prefix: tuple[str, ...]
    """Field names from ``data`` down to the reached object(s)."""
    variables: Callable[[Stage], dict[str, Any]]
    embed: bool = False
    reference: Entry | None = None
    """Where the admin reads the same objects on ``/graphql``, when not here."""
    compares: tuple[str, ...] = ()
    """``policy.COMPARED`` coordinates the entry uses: only roles that may
    compare by them read through it (the others: ``test_comparisons``)."""

    def open_to(self, role: Role) -> bool:
        return all(may_compare(role, c) for c in self.compares)

    def __str__(self) -> str:
        return self.name


@cache
def api_schema() -> GraphQLSchema:
    return build_schema(introspection=True)._schema


@cache
def embed_schema() -> GraphQLSchema:
    return build_embed_schema()._schema


def _id(stage: Stage) -> dict[str, Any]:
    return {"id": stage.subject.gid}


def _email(stage: Stage) -> dict[str, Any]:
    return {"email": stage.subject.email}


def node_types(schema: GraphQLSchema) -> list[str]:
    node = schema.type_map["Node"]
    return sorted(t.name for t in schema.get_possible_types(node))  # type: ignore[arg-type]


def api_entries() -> list[Entry]:
    from tests.security.conftest import SEGMENT, TAG

    entries = [
        Entry(
            "customer(id:)",
            "query($id: ID!) { customer(id: $id) SELECTION }",
            "Customer",
            ("customer",),
            _id,
        ),
        Entry(
            "customer(email:)",
            "query($email: String!) { customer(email: $email) SELECTION }",
            "Customer",
            ("customer",),
            _email,
            compares=("Query.customer(email:)",),
        ),
        Entry(
            "customers",
            "query($tag: String!) { customers(filter: {tagsAny: [$tag]}, first: 3)"
            " { edges { node SELECTION } } }",
            "Customer",
            ("customers", "edges", "node"),
            lambda stage: {"tag": TAG},
        ),
        Entry(
            "segment.members",
            "query($name: String!) { segment(name: $name) { members(first: 3)"
            " { edges { node SELECTION } } } }",
            "Customer",
            ("segment", "members", "edges", "node"),
            lambda stage: {"name": SEGMENT},
        ),
        Entry(
            "segmentPreview",
            "query($tag: String!) { segmentPreview(filter: {tagsAny: [$tag]},"
            " first: 3) { edges { node SELECTION } } }",
            "Customer",
            ("segmentPreview", "edges", "node"),
            lambda stage: {"tag": TAG},
        ),
        _timeline_items(TIMELINE_PAGE),
    ]
    for type_name in node_types(api_schema()):
        entries.append(
            Entry(
                f"node(id:) of {type_name}",
                f"query($id: ID!) {{ node(id: $id) {{ ... on {type_name} SELECTION }} }}",
                type_name,
                ("node",),
                lambda stage, t=type_name: {"id": NODE_IDS[t](stage)},
            )
        )
    return entries


TIMELINE_PAGE = 50
EMBED_TIMELINE_PAGE = 20
"""The embed page's own page size. With every event type's personal fields,
50 events cost 2,651, past the embed's cost limit (``CG_EMBED_MAX_COST``,
1,500); 20 cost 1,061."""


def _timeline_items(page: int) -> Entry:
    return Entry(
        "timeline items",
        f"query($id: ID!) {{ customer(id: $id) {{ timeline(first: {page})"
        " { edges { node SELECTION } } } }",
        "TimelineEvent",
        ("customer", "timeline", "edges", "node"),
        _id,
    )


def embed_entries() -> list[Entry]:
    return [
        Entry(
            "embed timeline items",
            f"query($id: ID!) {{ timeline(customerId: $id, first: {EMBED_TIMELINE_PAGE})"
            " { edges { node SELECTION } } }",
            "TimelineEvent",
            ("timeline", "edges", "node"),
            _id,
            embed=True,
            reference=_timeline_items(EMBED_TIMELINE_PAGE),
        )
    ]


@dataclass(frozen=True)
class Built:
    document: str
    paths: dict[str, list[Step]]
    leaves: dict[str, PiiLeaf]


def build(entry: Entry) -> Built:
    schema = embed_schema() if entry.embed else api_schema()
    leaves = pii_leaves(schema)
    paths = reach(schema, entry.start, leaves)
    selection = render(list(paths.values()))
    return Built(entry.document.replace(SELECTION, selection), paths, leaves)


def reached(data: Any, prefix: tuple[str, ...]) -> Any:
    """The object(s) at ``prefix`` (a list when the prefix crosses lists)."""
    values = [data]
    for name in prefix:
        nxt: list[Any] = []
        for value in values:
            if value is None:
                nxt.append(None)
                continue
            inner = value.get(name)
            nxt.extend(inner if isinstance(inner, list) else [inner])
        values = nxt
    return values
