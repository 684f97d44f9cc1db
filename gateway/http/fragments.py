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
request when no field ends up using it. A customer asked for by ``id`` at the
root (``customer(id:)``) has that read begin with the resolver's own read of
the customer, not after it, and its fields' first upstream reads with it
(``upstream_field(starts=)``): they leave as soon as the links are in, and
the customer's fields execute once their calls have left
(``connectors.scope.departures``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    Undefined,
    VariableNode,
    get_nullable_type,
    print_ast,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
)
from graphql.execution.values import get_argument_values
from graphql.language import Visitor, visit
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info

from gateway.auth.audit import shown_by_fields
from gateway.cache.fragments import FragmentReader, Slot
from gateway.http.field_plans import (
    CACHED_TYPE,
    PLANS,
    ByConsent,
    FieldSetPlan,
    LeafPlan,
    ObjectPlan,
    leaf_plan,
    object_plan,
)
from gateway.relay.ids import decode_global_id
from gateway.schema.upstream_scope import (
    Begun,
    FirstRead,
    begin,
    calls_sent,
    upstream_fields,
    upstream_starts,
)


class FragmentExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core's resolver helpers hold two bound methods of this
        # executor: a reference cycle, through which the request's context —
        # its loaders and every value they read, ~1,000 objects a 360 view —
        # was freed only by the garbage collector (5 ms a young collection,
        # every ~10 views). The same helpers, holding the executor weakly:
        self.async_helpers = self.async_helpers._replace(
            gather=_gather, track=functools.partial(_track, weakref.ref(self))
        )
        reader = getattr(self.context_value, "fragments", None)
        self._reader = (
            reader
            if isinstance(reader, FragmentReader)
            and self.operation.operation is OperationType.QUERY
            else None
        )
        self._selections: dict[int, tuple[FieldDetailsList, str]] = {}
        self._begun: dict[str | int, Begun] = {}
        """The reads begun for a root field's customer (``_start_reads``),
        by the field's response key, until the customer completes."""
        self._upstream: dict[int, tuple[FieldDetailsList, bool]] = {}
        middleware = self.middleware_manager
        self._wrapped = bool(middleware and middleware.middlewares)
        """Resolvers pass through middleware: no field is read directly."""
        self._leaves = PLANS.setdefault(self.schema, {})
        """This schema's ``leaf_plan``s and ``object_plan``s, looked up once
        per request."""
        self._field_sets: dict[int, tuple[GroupedFieldSet, FieldSetPlan | None]] = {}
        self._subfields: dict[
            tuple[GraphQLObjectType, int],
            tuple[FieldDetailsList, GroupedFieldSet | None],
        ] = {}
        """Per object type and field list: the list (kept alive, so its id is
        not reused) and its collected field set, when it defers nothing."""
        self._shared = (
            None if self._wrapped else _shared(self.operation, self.fragments)
        )
        """What the requests running this operation share: its field sets
        and their plans (``_Shared``), when it uses no directive."""

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, without its two calls per object when nothing is
        deferred (no ``@defer`` under the list, none around it): the field
        set graphql-core collects, remembered per (type, list) as it
        memoizes it, goes to ``execute_fields`` at once."""
        fields = self._collected(return_type, field_details_list)[1]
        if fields is None or position_context is not None:
            return super().collect_and_execute_subfields(
                return_type, field_details_list, path, result, position_context
            )
        return self.execute_fields(return_type, result, path, fields, None)

    def _collected(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> tuple[FieldDetailsList, GroupedFieldSet | None]:
        """The field set graphql-core collects of ``field_details_list`` for
        ``return_type``, ``None`` when it defers some, memoized per list."""
        key = (return_type, id(field_details_list))
        known = self._subfields.get(key)
        if known is None:
            shared = self._shared
            if shared is not None:  # a field set another request collected
                nodes = (return_type, *[id(d.node) for d in field_details_list])
                found = shared.subfields.get(nodes)
                if found is not None:  # this request's list kept, as below
                    known = self._subfields[key] = (field_details_list, found[1])
                    return known
            collected, deferred, _ = self.collect_subfields(
                return_type, field_details_list
            )
            known = self._subfields[key] = (
                field_details_list,
                None if deferred else collected,
            )
            if (
                shared is not None
                and not deferred
                and shared.room(len(nodes) + sum(map(len, collected.values())))
            ):
                shared.subfields[nodes] = known
                shared.plans[id(collected)] = (
                    collected,
                    self._field_set_plan(return_type, collected),
                )
        return known

    def build_per_event_executor(self, payload: Any) -> FragmentExecutor:
        """A subscription event's executor: graphql-core's copy of this one,
        with memos of its own (the copy's would be this one's dicts, one
        entry more every event of a long-lived subscription)."""
        executor = cast(FragmentExecutor, super().build_per_event_executor(payload))
        executor._selections = {}
        executor._begun = {}
        executor._upstream = {}
        executor._field_sets = {}
        executor._subfields = {}
        return executor

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """An object's fields, as graphql-core's ``execute_fields`` executes
        them but for the plain ones (Strawberry fields without resolver,
        extension or argument): a scalar or enum is read and serialized here,
        with no path, resolve info or call of its own (``leaf_plan``), and
        so is one whose only extension is ``Pii``, shown as the extension
        shows it (``Pii.shown``) unless the customer's consents
        decide, which goes graphql-core's way; an
        object, or a list of them, is read here and completed graphql-core's
        way, without the resolver chain and argument handling
        (``object_plan``). A plain value that is missing where required or
        does not serialize goes graphql-core's way, so its error is
        graphql-core's. The fields' plan is made once per field set
        (graphql-core memoizes the sets, so a list's items share one)."""
        known = self._field_sets.get(id(grouped_field_set))
        if known is None:
            shared = self._shared.plans if self._shared is not None else None
            known = shared.get(id(grouped_field_set)) if shared is not None else None
            if known is None or known[0] is not grouped_field_set:
                plan = self._field_set_plan(parent_type, grouped_field_set)
                known = (grouped_field_set, plan)
            self._field_sets[id(grouped_field_set)] = known
        plan = known[1]
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        context = self.context_value
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for key, details, leaf, plain in plan:
                if leaf is not None:
                    read, name, serialize, required, pii = leaf
                    value = None
                    try:
                        value = read(source_value, name)
                        if pii is not None:
                            if not pii.at_once(value, context):
                                raise ByConsent
                            value = pii.shown(
                                value,
                                source_value,
                                context,
                                details[0].node.name.value,
                                Path(path, key, parent_type.name),
                            )
                        result = None if value is None else serialize(value)
                    except Exception:  # noqa: BLE001 - graphql-core reports it
                        result = Undefined
                    if result is not Undefined and (
                        result is not None or (value is None and not required)
                    ):
                        results[key] = result
                        continue
                field_path = Path(path, key, parent_type.name)
                if plain is not None:
                    result = self._complete_plain(
                        plain,
                        parent_type,
                        source_value,
                        details,
                        field_path,
                        position_context,
                    )
                else:
                    result = self.execute_field(
                        parent_type, source_value, details, field_path, position_context
                    )
                if result is not Undefined:
                    results[key] = result
                    if is_awaitable(result):
                        awaitable_fields.append(key)
        except Exception:
            if awaitable_fields:  # settled, as they may fail too
                self.settle_in_background([results[f] for f in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gathered(results, awaitable_fields)

    def _complete_plain(
        self,
        plan: ObjectPlan,
        parent_type: GraphQLObjectType,
        source: Any,
        details: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """A plain object field: read off ``source`` and completed as
        graphql-core's ``execute_field`` completes a resolver's value, its
        errors handled the same way. An object of an object type that has no
        ``is_type_of`` (``Money``, an edge's ``node``, ``pageInfo``) has its
        fields executed at once: what ``complete_value`` would do, without the
        resolve info it would not read."""
        read, name, field_def, nodes = plan
        return_type = field_def.type
        kind = (
            return_type.of_type if type(return_type) is GraphQLNonNull else return_type
        )
        try:
            value = read(source, name)
            if (
                type(kind) is GraphQLObjectType
                and kind.is_type_of is None
                and kind.name != CACHED_TYPE
                and value is not None
                and value is not Undefined
                and not isinstance(value, Exception)
            ):
                completed = self.collect_and_execute_subfields(
                    kind, details, path, value, position_context
                )
            else:
                info = self.build_resolve_info(field_def, nodes, parent_type, path)
                completed = self.complete_value(
                    return_type, details, info, path, value, position_context
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None
        if self.is_awaitable(completed):
            return self._settled(completed, return_type, details, path)
        return completed

    async def _settled(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        details: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    def _field_set_plan(
        self, parent_type: GraphQLObjectType, fields: GroupedFieldSet
    ) -> FieldSetPlan | None:
        """Per field of ``fields`` in order: its key and details, and how it
        is read when it is plain (``leaf_plan``, ``object_plan``); ``None``
        when none is, or resolvers pass through middleware."""
        if self._wrapped:
            return None
        plan: list[tuple[str, FieldDetailsList, LeafPlan | None, ObjectPlan | None]]
        plan = []
        for key, details in fields.items():
            node = details[0].node
            leaf = plain = None
            if not node.arguments and not node.directives:
                name = node.name.value
                leaf = leaf_plan(self._leaves, parent_type, name)
                if leaf is None:
                    plain = object_plan(self._leaves, parent_type, name, details)
            plan.append((key, details, leaf, plain))
        if all(leaf is None and plain is None for _, _, leaf, plain in plan):
            return None
        return tuple(plan)

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """An object's value, as graphql-core completes it, with its
        dispatch skipped where the answer is known: an object of an object
        type (not a ``Customer``, served by ``complete_object_value``), its
        ``is_type_of``, when it has one, true of it: its fields, collected
        and executed. Any other value, type or answer goes graphql-core's way
        (its checks and errors)."""
        kind = (
            return_type.of_type if type(return_type) is GraphQLNonNull else return_type
        )
        if (
            type(kind) is GraphQLObjectType
            and kind.name != CACHED_TYPE
            and result is not None
            and result is not Undefined
            and not isinstance(result, Exception)
            and (kind.is_type_of is None or kind.is_type_of(result, info) is True)
        ):
            return self.collect_and_execute_subfields(
                kind, field_details_list, path, result, position_context
            )
        if (
            type(kind) is GraphQLList
            and type(result) in _SEQUENCES
            and not field_details_list[0].node.directives  # ``@stream``: its way
        ):
            item_type = kind.of_type
            item_kind = (
                item_type.of_type if type(item_type) is GraphQLNonNull else item_type
            )
            if type(item_kind) is GraphQLObjectType and item_kind.name != CACHED_TYPE:
                return self._complete_objects(
                    item_type,
                    item_kind,
                    field_details_list,
                    info,
                    path,
                    result,
                    position_context,
                )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _complete_objects(
        self,
        item_type: GraphQLOutputType,
        item_kind: GraphQLObjectType,
        details: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: list[Any] | tuple[Any, ...],
        position_context: Any,
    ) -> Any:
        """A list of objects of an object type, as graphql-core's
        ``complete_iterable_value`` completes it, each plain item's fields
        collected and executed at once (``complete_value``'s shortcut without
        its dispatch, twice per item: the list's, then the item's). An item
        that is not plain (``None``, awaitable, an error, or one its type's
        ``is_type_of`` refuses) and every error go graphql-core's way."""
        is_awaitable = self.is_awaitable
        is_type_of = item_kind.is_type_of
        completed: list[Any] = []
        awaited: list[int] = []
        try:
            for index, item in enumerate(items):
                item_path = path.add_key(index, None)
                if (
                    item is None
                    or isinstance(item, Exception)
                    or is_awaitable(item)
                    or (is_type_of is not None and is_type_of(item, info) is not True)
                ):  # not plain: graphql-core's way
                    how = (item_type, details, info, item_path, position_context)
                    if is_awaitable(item):
                        later = self.complete_awaitable_list_item_value(item, *how)
                        completed.append(later)
                        awaited.append(index)
                    elif self.complete_list_item_value(item, completed, *how):
                        awaited.append(index)
                    continue
                try:
                    value = self.collect_and_execute_subfields(
                        item_kind, details, item_path, item, position_context
                    )
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, details, item_path)
                    value = None
                if is_awaitable(value):
                    value = self._settled(value, item_type, details, item_path)
                    awaited.append(index)
                completed.append(value)
        except Exception:  # settled, as graphql-core settles them, unread items too
            pending = [completed[i] for i in awaited]
            pending += [item for item in items[len(completed) :] if is_awaitable(item)]
            if pending:
                self.settle_in_background(pending)
            raise
        if not awaited:
            return completed
        return _gathered(completed, awaited)

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
        begun = self._begun.pop(path.key, None) if path.prev is None else None
        if begun:
            complete = super().complete_object_value
            return self._once_departed(
                begun,
                functools.partial(
                    complete,
                    return_type,
                    field_details_list,
                    info,
                    path,
                    result,
                    position_context,
                ),
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

    async def _once_departed(self, begun: Begun, complete: Callable[[], Any]) -> Any:
        """The customer ``complete``d once the reads begun for its fields have
        sent their calls (or are over), ``DEPARTURE_WAIT`` at most: its
        fields' execution (a few milliseconds of the event loop) would
        otherwise hold back the cache's answers and budgets on their way,
        and the calls would leave after it, not before."""
        await calls_sent(begun, DEPARTURE_WAIT)
        value = complete()
        return await value if self.is_awaitable(value) else value

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
            audit.replay(hit.shown)
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
                slot,
                read,
                result.updated_at,
                shown_by_fields(capture.reads),
                orjson.dumps(value),
            )
        return value

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any = None,
    ) -> Any:
        """graphql-core's, and for a root query field asking for a customer
        by ``id`` (``customer(id:)``), the customer's links read along with
        the customer's own read (``_prefetch_by_id``)."""
        result = super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
        if (
            path.prev is not None
            or result is Undefined
            or self.operation.operation is not OperationType.QUERY
        ):
            return result
        reads = self._prefetch_by_id(parent_type, field_details_list, path)
        return self._settled_with(result, reads) if reads else result

    def _prefetch_by_id(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList, path: Path
    ) -> list[asyncio.Future[Any]]:
        """A root field returning a customer by its ``id``, whose selection
        reads an upstream: the customer's links, read in the same turn as the
        resolver's read of the customer (first: it is urgent), not once the
        customer is in (a cold 360 view's calls leave ~0.5 ms sooner, its
        links ~1.8 ms); and its fields' first upstream reads, begun to go
        as soon as the links are in (``_start_reads``). None for any other
        field, or an ``id`` that is not a customer's (the resolver reports
        it)."""
        node = details[0].node
        if [argument.name.value for argument in node.arguments or ()] != ["id"]:
            return []  # by id only: given an email too, the resolver refuses
        field = parent_type.fields.get(node.name.value)
        if field is None:
            return []
        return_type = get_nullable_type(field.type)
        if (
            not isinstance(return_type, GraphQLObjectType)
            or return_type.name != CACHED_TYPE
            or "id" not in field.args
        ):
            return []
        try:
            value = get_argument_values(field, node, self.variable_values).get("id")
            pk = decode_global_id(value, CACHED_TYPE)[1] if value is not None else None
        except Exception:  # noqa: BLE001 - the resolver reports a bad id
            return []
        if pk is None or not self._asks_upstream(return_type, details):
            return []
        links = self.context_value.loaders.upstream.links.prefetch(pk)
        if links is None:
            return []
        begun = self._start_reads(return_type, details, pk, path, links)
        if begun:
            self._begun[path.key] = begun
        return [links, *(read for _, read in begun)]

    def _start_reads(
        self,
        return_type: GraphQLObjectType,
        details: FieldDetailsList,
        pk: int,
        path: Path,
        links: asyncio.Future[Any],
    ) -> Begun:
        """The first upstream read of each field of the customer that says
        which it makes (``upstream_field(starts=)``), begun now, with its
        source: each waits for the customer's links, then goes, while the
        customer's own row is still being read; a field's resolver then
        finds its read begun (the same loader and key), and the customer's
        fields execute once the calls have left (``complete_object_value``).
        Only fields collected as the executor collects them (``@skip`` and
        ``@include`` applied; nothing deferred), with arguments their
        resolvers accept, of a source the customer's stored links name
        (``begin``). None when the operation asks for more than this one
        root field (another's reads of the same source, begun later, would
        go in a batch of their own), nor where the customer may come from a
        cached fragment (its fields may not execute at all)."""
        starts = upstream_starts(return_type)
        if (
            not starts
            or self._reader is not None
            or len(self.operation.selection_set.selections) != 1
        ):
            return []
        fields = self._collected(return_type, details)[1]
        if fields is None:
            return []
        reading = upstream_fields(return_type)
        names = [details[0].node.name.value for details in fields.values()]
        if any(name in reading and name not in starts for name in names):
            return []  # its reads and theirs would go in two batches, not one
        begun: Begun = []
        plain: set[FirstRead] = set()
        """Reads of no argument begun: another field's same one is not."""
        for key, field_details in fields.items():
            node = field_details[0].node
            first = starts.get(node.name.value)
            if first is None or first in plain:
                continue
            field_def = return_type.fields[node.name.value]
            field_path = Path(path, key, return_type.name)
            raw = self.build_resolve_info(
                field_def, [d.node for d in field_details], return_type, field_path
            )
            info = Info(raw, field_def.extensions[_DEFINITION])
            try:
                arguments = get_argument_values(field_def, node, self.variable_values)
            except Exception:  # noqa: BLE001 - the resolver refuses them too
                logger.debug("no read begun for %s: arguments refused", key)
                continue
            if not field_def.args:
                plain.add(first)
            where = tuple(field_path.as_list())
            begun.append(
                (first.source, begin(first, info, pk, arguments, where, links))
            )
        return begun

    def _prefetch_links(
        self, return_type: GraphQLObjectType, details: FieldDetailsList, customer: Any
    ) -> asyncio.Future[Any] | None:
        """About to execute a customer whose selection reads an upstream: its
        links are read now, before the fields that need them run (unless
        ``_prefetch_by_id`` began it already); the read, or ``None``."""
        if not self._asks_upstream(return_type, details):
            return None
        links: asyncio.Future[Any] | None
        links = self.context_value.loaders.upstream.links.prefetch(customer.id)
        return links

    def _asks_upstream(
        self, return_type: GraphQLObjectType, details: FieldDetailsList
    ) -> bool:
        """Whether the selection of a customer reads an upstream (memoized by
        the list's identity, as ``_selection``)."""
        known = self._upstream.get(id(details))
        if known is None:
            names = upstream_fields(return_type)
            asks = any(
                d.node.selection_set is not None
                and self._asks_for(names, d.node.selection_set.selections)
                for d in details
            )
            known = self._upstream[id(details)] = (details, asks)
        return known[1]

    async def _settled_with(
        self, value: Any, reads: list[asyncio.Future[Any]] | asyncio.Future[Any]
    ) -> Any:
        """The customer's completed ``value``, once the reads begun for it
        (its links, then its fields' first reads) are over too: the fields
        that use them await them anyway, and no read outlives its request
        when none does (a field refused, or failed). A request cancelled
        waits for the links' statement only, not for upstream calls."""
        reads = reads if isinstance(reads, list) else [reads]
        try:
            completed = await value if self.is_awaitable(value) else value
        except asyncio.CancelledError:
            await asyncio.wait(reads[:1])
            raise
        except BaseException:
            await asyncio.wait(reads)
            raise
        await asyncio.wait(reads)
        return completed

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


@dataclass(slots=True)
class _Shared:
    """An operation's field sets, collected once for every request running
    it: a document is parsed once (Strawberry's ``ParserCache``), and without
    a directive (``@skip``, ``@include``, ``@defer``) nothing the variables
    hold changes what a selection collects. Collecting and planning them was
    ~3 % of an executed 360 view."""

    subfields: dict[tuple[Any, ...], tuple[FieldDetailsList, GroupedFieldSet | None]]
    """By object type and the field nodes' identities: as ``_subfields``."""
    plans: dict[int, tuple[GroupedFieldSet, FieldSetPlan | None]]
    """By a shared field set's identity: its plan (``_field_set_plan``)."""
    fields: int = 0
    """The field details the sets hold, with their keys'."""

    def room(self, fields: int) -> bool:
        """Whether a set of ``fields`` details more is held: at most
        ``SHARED_FIELDS`` an operation (a 360 view holds 119) and
        ``SHARED_TOTAL`` a process, so the parser cache's 1,024 documents,
        crafted to repeat fields and spread fragments wide, hold little: past
        either, a request collects its own sets, as it did before sharing."""
        if self.fields + fields > SHARED_FIELDS or _HELD[0] + fields > SHARED_TOTAL:
            return False
        self.fields += fields
        _HELD[0] += fields
        return True


SHARED_FIELDS = 1_000
"""The most field details an operation's shared sets hold (``_Shared.room``)."""
SHARED_TOTAL = 50_000
"""The most every operation's shared sets hold together, in a process (~15 MB
at most: ~0.3 KB a detail with its set's and plan's share)."""
_HELD = [0]
"""The field details held now, every operation's (``_forget`` gives back)."""


_SHARED: dict[int, _Shared | None] = {}
"""Per operation, by identity (graphql-core hashes a node by its whole tree),
forgotten with it: what its requests share, ``None`` when it uses a
directive."""


class _Directives(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, *_: object) -> Any:
        self.found = True
        return self.BREAK


def _shared(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDetails]
) -> _Shared | None:
    """What the requests running ``operation`` share; ``None`` when it or a
    fragment of its document uses a directive, or a fragment takes
    arguments (the variables may decide what is collected, and how)."""
    key = id(operation)
    if key in _SHARED:
        return _SHARED[key]
    directives = _Directives()
    for node in (operation, *[f.definition for f in fragments.values()]):
        visit(node, directives)
    plain = not directives.found and not any(
        f.variable_signatures for f in fragments.values()
    )
    shared = _Shared({}, {}) if plain else None
    _SHARED[key] = shared
    weakref.finalize(operation, _forget, key)
    return shared


def _forget(key: int) -> None:
    """An operation gone (out of the parser cache): its sets, and their share
    of ``SHARED_TOTAL``."""
    shared = _SHARED.pop(key, None)
    if shared is not None:
        _HELD[0] -= shared.fields


DEPARTURE_WAIT = 0.01
"""Seconds a customer's fields wait at most for the calls of the reads
begun for them to leave (``FragmentExecutor._once_departed``): ~3 ms in
a cold 360 view; a read held up longer (Redis slow to answer) lets them
execute."""

_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
logger = logging.getLogger(__name__)
"""Where a graphql-core field keeps its Strawberry field."""

_SEQUENCES = (list, tuple)
"""What ``_complete_objects`` completes: graphql-core's other iterables
(generators, async iterables) go its way."""

_Results = TypeVar("_Results", dict[str, Any], list[Any])


async def _gathered(results: _Results, awaited: list[Any]) -> _Results:
    """``results`` with its awaitable values (at ``awaited``: an object's keys
    or a list's indexes) awaited together, as graphql-core gathers them."""
    if len(awaited) == 1:
        results[awaited[0]] = await results[awaited[0]]
    else:
        values = await gather_with_cancel(*(results[key] for key in awaited))
        for key, value in zip(awaited, values, strict=True):
            results[key] = value
    return results


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


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    """``Executor.gather_async_work``, which reads nothing of its executor."""
    return gather_with_cancel(*values)


def _track(executor: weakref.ref[FragmentExecutor], values: Sequence[Any]) -> None:
    """``Executor.track_async_work`` of ``executor``: settled in its
    background. It exists while anything of its execution runs; were it gone,
    the awaitables are settled here, so none is left unawaited."""
    found = executor()
    if found is not None:
        found.track_async_work(values)
        return
    for value in values:
        if inspect.isawaitable(value):
            asyncio.ensure_future(value).add_done_callback(_observed)


def _observed(done: asyncio.Future[Any]) -> None:
    """Its error retrieved: a settled awaitable's failure is not logged as
    never retrieved (graphql-core's background settling does the same)."""
    if not done.cancelled():
        done.exception()
