"""What the schema says about personal data, and documents that reach it.

The ``Pii`` field extension (``gateway.auth.pii``) is the source of truth for
which fields carry personal data and of which kind. A leaf field whose *name*
looks personal but carries no ``Pii`` is counted too (its kind guessed from
the name), so a forgotten marking is still tested by every table — and
``test_pii_fields`` fails on it.

``reach(schema, start)`` finds, from a type an entry point returns, the
shortest path to every personal-data leaf (through lists, connections and
``... on`` fragments for interfaces); ``render`` turns those paths into one
selection set; ``walk``/``expect`` read a response along them, the second
applying ``gateway.auth.policy`` to the admin's answer to say what a role must
get.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)

from gateway.auth import policy
from gateway.auth.pii import Pii
from gateway.auth.policy import PiiKind, Role

PERSONAL_NAMES: list[tuple[re.Pattern[str], PiiKind]] = [
    (re.compile(r"email", re.I), PiiKind.EMAIL),
    (re.compile(r"phone", re.I), PiiKind.PHONE),
    (re.compile(r"birth_?month", re.I), PiiKind.BIRTH_MONTH),
    (re.compile(r"birth", re.I), PiiKind.BIRTH_DATE),
    (re.compile(r"line_?[12]|postcode", re.I), PiiKind.STREET),
    (re.compile(r"body|comment", re.I), PiiKind.NOTE),
    (re.compile(r"path", re.I), PiiKind.URL),
    (re.compile(r"external_?id", re.I), PiiKind.EXTERNAL_ID),
]
"""Names that look personal, and the kind of data they would hold."""

PERSONAL_FIELDS: dict[str, PiiKind] = {
    "WebEvent.name": PiiKind.TEXT,
    "ActivityEvent.name": PiiKind.TEXT,
}
"""Fields whose name alone does not say they hold personal data (``Order.name``
does not), as ``Type.field``; an interface's entry covers its types. An event's
name is the sender's text: a page's title, a custom event's name."""


def redacted(field: GraphQLField) -> bool:
    """A non-null field whose hidden value is a stand-in that reveals nothing
    (``Ticket #<id>``, "Note added"), not null."""
    definition = (field.extensions or {}).get("strawberry-definition")
    return any(
        isinstance(e, Pii) and e.redacted is not None
        for e in getattr(definition, "extensions", None) or ()
    )


def declared_kind(field: GraphQLField) -> PiiKind | None:
    definition = (field.extensions or {}).get("strawberry-definition")
    for extension in getattr(definition, "extensions", None) or ():
        if isinstance(extension, Pii):
            return extension.kind
    return None


def kind_by_name(name: str) -> PiiKind | None:
    return next(
        (kind for pattern, kind in PERSONAL_NAMES if pattern.search(name)), None
    )


def kind_by_field(named: GraphQLObjectType, name: str) -> PiiKind | None:
    """``PERSONAL_FIELDS``' kind for the field (or an interface's), else the
    name's."""
    for owner in [named.name, *(i.name for i in named.interfaces)]:
        if f"{owner}.{name}" in PERSONAL_FIELDS:
            return PERSONAL_FIELDS[f"{owner}.{name}"]
    return kind_by_name(name)


def object_types(schema: GraphQLSchema) -> Iterator[GraphQLObjectType]:
    for name, named in sorted(schema.type_map.items()):
        if isinstance(named, GraphQLObjectType) and not name.startswith("__"):
            if named in (schema.mutation_type, schema.subscription_type):
                continue
            yield named


@dataclass(frozen=True)
class PiiLeaf:
    type_name: str
    field_name: str
    kind: PiiKind
    declared: bool
    stand_in: bool = False

    @property
    def key(self) -> str:
        return f"{self.type_name}.{self.field_name}"


def pii_leaves(schema: GraphQLSchema) -> dict[str, PiiLeaf]:
    """Every leaf field holding personal data: marked ``Pii``, or named so."""
    found: dict[str, PiiLeaf] = {}
    for named in object_types(schema):
        for name, field in named.fields.items():
            if not is_leaf_type(get_named_type(field.type)):
                continue
            declared = declared_kind(field)
            kind = declared or kind_by_field(named, name)
            if kind is not None:
                leaf = PiiLeaf(
                    named.name, name, kind, declared is not None, redacted(field)
                )
                found[leaf.key] = leaf
    return found


@dataclass(frozen=True)
class Step:
    field: str
    on: str | None = None
    """The ``... on`` type condition this field sits in (interfaces)."""
    container: PiiKind | None = None
    """A ``Pii`` marking on a field that holds an object or a list."""

    @property
    def key(self) -> str:
        """The response key: fields inside ``... on`` are aliased by their
        type, so two types' same-named fields of different types never clash."""
        return self.field if self.on is None else f"{self.field}_{self.on}"

    @property
    def selection(self) -> str:
        return self.field if self.on is None else f"{self.key}: {self.field}"


def _concrete(
    schema: GraphQLSchema, named: Any
) -> list[tuple[GraphQLObjectType, bool]]:
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        return [(t, True) for t in schema.get_possible_types(named)]
    return [(named, False)] if isinstance(named, GraphQLObjectType) else []


def reach(
    schema: GraphQLSchema, start: str, leaves: dict[str, PiiLeaf], max_depth: int = 6
) -> dict[str, list[Step]]:
    """The shortest path from type ``start`` to each personal-data leaf,
    following fields whose arguments all have defaults."""
    paths: dict[str, list[Step]] = {}
    queue: deque[tuple[str, list[Step]]] = deque([(start, [])])
    seen = {start}
    while queue:
        type_name, path = queue.popleft()
        for obj, abstract in _concrete(schema, schema.type_map[type_name]):
            on = obj.name if abstract else None
            for name, field in obj.fields.items():
                if _needs_arguments(field):
                    continue
                named = get_named_type(field.type)
                key = f"{obj.name}.{name}"
                if is_leaf_type(named):
                    if key in leaves and key not in paths:
                        paths[key] = [*path, Step(name, on)]
                    continue
                if named.name in seen or len(path) >= max_depth:
                    continue
                seen.add(named.name)
                queue.append(
                    (named.name, [*path, Step(name, on, declared_kind(field))])
                )
    return paths


def _needs_arguments(field: GraphQLField) -> bool:
    return any(
        is_non_null_type(arg.type) and arg.default_value is Undefined
        for arg in field.args.values()
    )


def render(paths: list[list[Step]]) -> str:
    """One selection set holding every path (``__typename`` at each level, so a
    response can be read back along ``... on`` fragments)."""
    tree: dict[tuple[str | None, str], Any] = {}
    for path in paths:
        level = tree
        for step in path:
            level = level.setdefault((step.on, step.selection), {})
    return _render(tree)


def _render(tree: dict[tuple[str | None, str], Any]) -> str:
    plain = [_one(field, sub) for (on, field), sub in tree.items() if on is None]
    by_type: dict[str, list[str]] = {}
    for (on, field), sub in tree.items():
        if on is not None:
            by_type.setdefault(on, []).append(_one(field, sub))
    fragments = [
        f"... on {on} {{ {' '.join(fields)} }}" for on, fields in by_type.items()
    ]
    return "{ __typename " + " ".join(plain + fragments) + " }"


def _one(field: str, sub: dict[tuple[str | None, str], Any]) -> str:
    return field if not sub else f"{field} {_render(sub)}"


def walk(value: Any, steps: list[Step], at: str = "") -> Iterator[tuple[str, Any]]:
    """``(where, value)`` for every leaf the path reaches; a null on the way is
    one ``(where, None)``; an empty list reaches nothing."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, steps, f"{at}[{index}]")
        return
    if not steps or value is None:
        yield at, value
        return
    step = steps[0]
    if step.on is not None and value.get("__typename") != step.on:
        return
    yield from walk(value.get(step.key), steps[1:], f"{at}.{step.key}")


def expect(
    role: Role,
    kind: PiiKind,
    admin_value: Any,
    steps: list[Step],
    at: str = "",
    granted: Mapping[Any, Collection[str]] | None = None,
) -> Iterator[tuple[str, Any]]:
    """What ``role`` must see along ``steps``, from what the admin saw: a
    container whose treatment hides it is null; a leaf is ``policy.apply``'d,
    with the consent channels ``granted`` gives its value (a contact value →
    its customer's granted channels, ``Stage.granted_by_contact``)."""
    if isinstance(admin_value, list):
        for index, item in enumerate(admin_value):
            yield from expect(role, kind, item, steps, f"{at}[{index}]", granted)
        return
    if not steps:
        channels: Collection[str] = ()
        if granted is not None and isinstance(admin_value, str):
            channels = granted.get(admin_value, ())
        yield at, policy.apply(role, kind, admin_value, channels)
        return
    if admin_value is None:
        yield at, None
        return
    step = steps[0]
    if step.on is not None and admin_value.get("__typename") != step.on:
        return
    inner = admin_value.get(step.key)
    hidden = (
        step.container is not None
        and inner is not None
        and policy.apply(role, step.container, inner) is None
    )
    if hidden:
        yield f"{at}.{step.key}", None
        return
    yield from expect(role, kind, inner, steps[1:], f"{at}.{step.key}", granted)
