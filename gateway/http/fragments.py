"""The executor that serves customers from their cached fragments
(``gateway.cache.fragments``).

``FragmentExecutor`` is graphql-core's executor (Strawberry's flavour) with one
change: when the request carries a ``FragmentReader`` (``Context.fragments``,
set by ``/graphql`` for queries the whole-response cache does not hold), each
``Customer`` object it completes is first looked up there. A current fragment
is placed into the result as its stored bytes (``orjson.Fragment``: the final
encoding copies them as they are) and its recorded reads go to the audit
trail; nothing under it executes. Otherwise the customer executes as usual,
its reads captured (``AuditTrail.capturing``), and the encoded result is kept
unless an error, a stale upstream value or another customer showed inside it.

The customers of one list are completed in the same event-loop turn, so their
look-ups share one ``MGET``.

A customer that executes, and whose selection asks for a field that reads an
upstream (``ReadsUpstream``), has its links read first
(``ExternalIdByCustomerLoader.prefetch``: one statement for the customers of
a level), so its sources' first calls leave without waiting for the links'
cache; its completion also waits for that read, so no read outlives the
request when no field ends up using it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast
from weakref import WeakKeyDictionary

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionNode,
    Undefined,
    VariableNode,
    print_ast,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.language import Visitor, visit
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from gateway.cache.fragments import FragmentReader, Slot
from gateway.schema.upstream_scope import upstream_fields

CACHED_TYPE = "Customer"


class FragmentExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reader = getattr(self.context_value, "fragments", None)
        self._reader = (
            reader
            if isinstance(reader, FragmentReader)
            and self.operation.operation is OperationType.QUERY
            else None
        )
        self._selections: dict[int, tuple[FieldDetailsList, str]] = {}
        self._upstream: dict[int, tuple[FieldDetailsList, bool]] = {}
        middleware = self.middleware_manager
        self._wrapped = bool(middleware and middleware.middlewares)
        """Resolvers pass through middleware: no field is read directly."""
        self._leaves = _LEAVES.setdefault(self.schema, {})
        """This schema's ``_leaf_plan``s, looked up once per request."""
        self._field_sets: dict[int, tuple[GroupedFieldSet, _FieldSetPlan]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """An object's fields, its plain scalar and enum fields (``_leaf_plan``)
        read here in one loop, without a path or a call per field — the items
        of a list of orders, tickets or events are mostly those; the others,
        and every field of an object any of whose plain values is missing
        where required or does not serialize, graphql-core's way. The fields'
        plan is made once per field set (graphql-core memoizes the sets, so a
        list's items share one)."""
        known = self._field_sets.get(id(grouped_field_set))
        if known is None:
            plan = self._field_set_plan(parent_type, grouped_field_set)
            self._field_sets[id(grouped_field_set)] = (grouped_field_set, plan)
        else:
            plan = known[1]
        leaves, rest, order = plan
        if not leaves:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        for key, (read, name, serialize, required) in leaves:
            try:
                value = read(source_value, name)
                serialized = None if value is None else serialize(value)
            except Exception:  # noqa: BLE001 - graphql-core reports it
                break
            if serialized is None:
                if value is not None or required:
                    break
            elif serialized is Undefined:
                break
            results[key] = serialized
        else:
            if rest is None:
                return results
            others = super().execute_fields(
                parent_type, source_value, path, rest, position_context
            )
            if self.is_awaitable(others):
                return _in_order(results, others, order)
            return _ordered(results, cast(dict[str, Any], others), order)
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def _field_set_plan(
        self, parent_type: GraphQLObjectType, fields: GroupedFieldSet
    ) -> _FieldSetPlan:
        """Which of ``fields`` are read directly (``_leaf_plan``), the set of
        the others (``None`` if none) and every response key in order."""
        if self._wrapped:
            return (), fields, tuple(fields)
        leaves: list[tuple[str, _LeafPlan]] = []
        rest: GroupedFieldSet = {}
        for key, details in fields.items():
            node = details[0].node
            plan = _leaf_plan(self._leaves, parent_type, node.name.value)
            if plan is None or node.arguments:
                rest[key] = details
            else:
                leaves.append((key, plan))
        return tuple(leaves), rest or None, tuple(fields)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """A scalar or enum field read off its object as it is (a Strawberry
        field without resolver, extension or argument) is read and serialized
        here, without the resolve info, resolver wrappers and value
        completion graphql-core builds for every field: a 360 view has ~900
        of them. Anything else, and any value that is missing where required
        or does not serialize, takes graphql-core's way, errors included."""
        node = field_details_list[0].node
        plan = _leaf_plan(self._leaves, parent_type, node.name.value)
        if plan is None or node.arguments or self._wrapped:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        read, name, serialize, required = plan
        try:
            value = read(source, name)
            if value is None and not required:
                return None
            serialized = None if value is None else serialize(value)
        except Exception:  # noqa: BLE001 - graphql-core reports it below
            serialized = None
        if serialized is not None and serialized is not Undefined:
            return serialized
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if return_type.name != CACHED_TYPE:
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        reader = self._reader
        outer = (
            None if reader is None else self.context_value.audit.capture_around(path)
        )
        if reader is None or outer is not None:
            if outer is not None:  # a customer inside a customer: executed, and
                outer.whole = False  # the outer one is not kept
            links = self._prefetch_links(return_type, field_details_list, result)
            value = super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
            return value if links is None else self._settled_with(value, links)
        return self._through_fragment(
            reader,
            return_type,
            field_details_list,
            info,
            path,
            result,
            position_context,
        )

    async def _through_fragment(
        self,
        reader: FragmentReader,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        slot = Slot(result.id, self._selection(reader, field_details_list))
        read = await reader.read(slot)
        audit = self.context_value.audit
        hit = read.current(result.updated_at)
        if hit is not None:
            audit.replay(hit.reads)
            return orjson.Fragment(hit.body)
        links = self._prefetch_links(return_type, field_details_list, result)
        failures = len(self.context_value.errors)
        with audit.capturing(path) as capture:
            value = super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if links is not None:
                value = self._settled_with(value, links)
            if self.is_awaitable(value):
                value = await value
        if (
            capture.whole
            and failures == len(self.context_value.errors)
            and not self._failed_under(path)
            and not self.context_value.answered_stale()
        ):
            reader.store(
                slot, read, result.updated_at, capture.reads, orjson.dumps(value)
            )
        return value

    def _prefetch_links(
        self, return_type: GraphQLObjectType, details: FieldDetailsList, customer: Any
    ) -> asyncio.Future[Any] | None:
        """About to execute a customer whose selection reads an upstream: its
        links are read now, before the fields that need them run (whether it
        does is memoized by the list's identity, as ``_selection``); the read,
        or ``None``."""
        known = self._upstream.get(id(details))
        if known is None:
            names = upstream_fields(return_type)
            asks = any(
                d.node.selection_set is not None
                and self._asks_for(names, d.node.selection_set.selections)
                for d in details
            )
            known = self._upstream[id(details)] = (details, asks)
        if not known[1]:
            return None
        links: asyncio.Future[Any] | None
        links = self.context_value.loaders.upstream.links.prefetch(customer.id)
        return links

    async def _settled_with(self, value: Any, links: asyncio.Future[Any]) -> Any:
        """The customer's completed ``value``, once its links' read is over
        too: the fields that use the links await it anyway, and no read
        outlives its request when none does (a field refused, or failed)."""
        try:
            return await value if self.is_awaitable(value) else value
        finally:
            await asyncio.wait([links])

    def _asks_for(
        self, names: frozenset[str], selections: Iterable[SelectionNode]
    ) -> bool:
        """Whether ``selections`` ask for a field of ``names``, themselves or
        through their fragments."""
        for selection in selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in names:
                    return True
                continue
            fragment: InlineFragmentNode | FragmentDefinitionNode | None = (
                self.fragment_definitions.get(selection.name.value)
                if isinstance(selection, FragmentSpreadNode)
                else cast(InlineFragmentNode, selection)
            )
            if fragment is not None and self._asks_for(
                names, fragment.selection_set.selections
            ):
                return True
        return False

    def _failed_under(self, path: Path) -> bool:
        errors = self.collected_errors.errors
        if not errors:
            return False
        prefix = path.as_list()
        return any((e.path or [])[: len(prefix)] == prefix for e in errors)

    def _selection(self, reader: FragmentReader, details: FieldDetailsList) -> str:
        """The digest of what ``details`` asks of an object (memoized by the
        list's identity, as graphql-core memoizes the collected subfields)."""
        known = self._selections.get(id(details))
        if known is not None:
            return known[1]
        digest = reader.digest(self._signature(details))
        self._selections[id(details)] = (details, digest)
        return digest

    def _signature(self, details: FieldDetailsList) -> bytes:
        """The selection sets as printed, the fragment definitions they use and
        the values of the variables they use."""
        used = _Used()
        printed: list[str] = []
        for detail in details:
            selection_set = detail.node.selection_set
            if selection_set is not None:
                printed.append(print_ast(selection_set))
                visit(selection_set, used)
        seen: set[str] = set()
        while used.fragments - seen:
            name = min(used.fragments - seen)
            seen.add(name)
            definition: FragmentDefinitionNode | None = self.fragment_definitions.get(
                name
            )
            if definition is not None:
                printed.append(print_ast(definition))
                visit(definition, used)
        values = self.variable_values.coerced
        variables = {name: values.get(name) for name in sorted(used.variables)}
        return orjson.dumps([printed, variables], default=repr)


def _ordered(
    leaves: dict[str, Any], others: dict[str, Any], order: tuple[str, ...]
) -> dict[str, Any]:
    """Both parts of an object's fields in the order asked (a field graphql-core
    left out, ``Undefined``, stays out)."""
    return {
        key: leaves[key] if key in leaves else others[key]
        for key in order
        if key in leaves or key in others
    }


async def _in_order(
    leaves: dict[str, Any], others: Awaitable[dict[str, Any]], order: tuple[str, ...]
) -> dict[str, Any]:
    return _ordered(leaves, await others, order)


class _Used(Visitor):
    """Collects the variables and fragments a selection refers to."""

    def __init__(self) -> None:
        super().__init__()
        self.variables: set[str] = set()
        self.fragments: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.variables.add(node.name.value)

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.fragments.add(node.name.value)


_LeafPlan = tuple[Callable[[Any, str], Any], str, Callable[[Any], Any], bool]
_FieldSetPlan = tuple[
    tuple[tuple[str, _LeafPlan], ...], "GroupedFieldSet | None", tuple[str, ...]
]
_LEAVES: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], _LeafPlan | None]]
_LEAVES = WeakKeyDictionary()


def _leaf_plan(
    plans: dict[tuple[str, str], _LeafPlan | None],
    parent_type: GraphQLObjectType,
    name: str,
) -> _LeafPlan | None:
    """How to read ``parent_type.name`` as a plain attribute: Strawberry's
    default resolver and the attribute's name, the type's ``serialize`` and
    whether a value is required; ``None`` for any other field. Remembered in
    ``plans``, the schema's (``_LEAVES``)."""
    key = (parent_type.name, name)
    if key in plans:
        return plans[key]
    plan = None
    field = parent_type.fields.get(name)
    definition = (
        field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
    )
    if (
        field is not None
        and isinstance(definition, StrawberryField)
        and getattr(field.resolve, "_is_default", False)
        and definition.is_basic_field
        and not field.args
    ):
        required = isinstance(field.type, GraphQLNonNull)
        leaf = field.type.of_type if required else field.type
        if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
            read = definition.default_resolver
            plan = (read, definition.python_name, leaf.serialize, required)
    plans[key] = plan
    return plan
