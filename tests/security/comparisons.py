"""The schema's arguments, walked from the schema itself, and documents that use
the ones ``gateway.auth.policy.COMPARED`` declares.

``schema_coordinates`` names every argument, input field, enum value an
argument can take, and federation entity key of a schema, independently of
the gateway's own walk (``gateway.admission.arguments``). Each must be declared in
``COMPARED`` (it compares with personal data) or in ``NOT_COMPARED`` here with
why it compares with none: a new argument, filter field, order value or key
fails ``test_comparisons`` until someone decides which it is.

``usages`` turns a ``COMPARED`` coordinate into documents that use it (found
from the schema: the root fields taking that argument, input type or enum),
each with the value that finds the stage's subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
)
from strawberry.federation.schema_directives import Key

from gateway.auth.policy import COMPARED, PiiKind

PAGE = "a page size or a cursor"
GLOBAL_ID = "a global id, not personal data"
HOLDER = "holds the fields or values below it, each declared on its own"
TRAIT = "a computed fact (traits, RFM: docs/segments.md), not personal data"
WRITE = (
    "a write sets the value and compares with nothing a writer does not see "
    "(writers see every kind in full; marketing's mutations are listed apart)"
)
PRODUCT = "a product's SKU or category, from the store's catalogue"
OWN_LIST = (
    "narrows one customer's own list by kind, source, state or time: the caller "
    "reads that customer already"
)

AUTOMATION = "an automation's id, name, kinds, counts or actions' settings"

NOT_COMPARED: dict[str, str] = {
    "(first:)": PAGE,
    "(last:)": PAGE,
    "(after:)": PAGE,
    "(before:)": PAGE,
    "(id:)": GLOBAL_ID,
    "(customerId:)": GLOBAL_ID,
    "(survivorId:)": GLOBAL_ID,
    "(mergedId:)": GLOBAL_ID,
    "(duplicateId:)": GLOBAL_ID,
    **dict.fromkeys(
        ("(survivorship:)", "(fields:)", "FieldChoice", "ProfileField", "Survivorship"),
        "which record's value a merge keeps for a field: compares nothing",
    ),
    "Customer.id": "federation key: " + GLOBAL_ID,
    "Query._entities(representations:)": HOLDER,
    "Query.customers(filter:)": HOLDER,
    "Query.customers(orderBy:)": HOLDER,
    "Query.segmentPreview(filter:)": HOLDER,
    "Mutation.createSegment(filter:)": HOLDER,
    "Mutation.createSegment(name:)": "a segment's name, chosen by staff",
    "Mutation.updateSegment(filter:)": HOLDER,
    "Mutation.updateSegment(name:)": "a segment's name, chosen by staff",
    "Mutation.updateSegment(newName:)": "a segment's name, chosen by staff",
    "Mutation.deleteSegment(name:)": "a segment's name, chosen by staff",
    "Mutation.connectSegmentToList(segment:)": "a segment's name, chosen by staff",
    "Mutation.connectSegmentToList(listId:)": "a Klaviyo list's id",
    "Mutation.disconnectSegmentFromList(segment:)": (
        "a segment's name, chosen by staff"
    ),
    "Mutation.disconnectSegmentFromList(listId:)": "a Klaviyo list's id",
    "Mutation.setProductReplenishment": PRODUCT,
    "Mutation.setCategoryReplenishment": PRODUCT,
    "Mutation.setConsent": "a consent: channel, state and its source",
    "Mutation.createPromoCode": "a promo code's percentage, days and the store's"
    " category or collection it applies to",
    "Query.segment(name:)": "a segment's name, chosen by staff",
    "(automationId:)": GLOBAL_ID,
    "Query.automationRuns(status:)": AUTOMATION,
    "AutomationRunStatus": "a run's state, not personal data",
    "Mutation.createAutomation(name:)": AUTOMATION,
    "Mutation.createAutomation(trigger:)": HOLDER,
    "Mutation.createAutomation(conditions:)": HOLDER,
    "Mutation.createAutomation(actions:)": AUTOMATION,
    "Mutation.updateAutomation(name:)": AUTOMATION,
    "Mutation.updateAutomation(trigger:)": HOLDER,
    "Mutation.updateAutomation(conditions:)": HOLDER,
    "Mutation.updateAutomation(actions:)": AUTOMATION,
    "Mutation.updateAutomation(clearConditions:)": AUTOMATION,
    "Query.dryRunAutomation(definition:)": HOLDER,
    "AutomationDefinition": HOLDER,
    "AutomationTrigger": HOLDER,
    "SegmentTrigger": "a segment's name, chosen by staff",
    "ReplenishmentTrigger": PRODUCT + "; days until it runs out (computed)",
    "CheckoutAbandonedTrigger": "hours since a checkout was left (a store fact)",
    "NoOrderTrigger": "days since the last order (a store fact)",
    **dict.fromkeys(
        (
            "AutomationAction",
            "CreateTaskAction",
            "TagAction",
            "WebhookAction",
            "AddToListAction",
            "CreateDiscountCodeAction",
        ),
        "what an action does: its settings compare with nothing",
    ),
    "Mutation.createWebhookEndpoint": "an outbound webhook endpoint's URL, event"
    " types and description, chosen by an admin",
    "Query.webhookDeliveries(endpointId:)": GLOBAL_ID,
    "Query.webhookDeliveries(status:)": HOLDER,
    "WebhookDeliveryStatus": "a delivery's state, not personal data",
    "CustomerOrderBy.CREATED_AT_DESC": "when we recorded the customer",
    "CustomerOrderBy.CREATED_AT_ASC": "when we recorded the customer",
    "CustomerFilter.tagsAny": "our tags",
    "CustomerFilter.consent": HOLDER,
    "CustomerFilter.createdAfter": "when we recorded the customer",
    "CustomerFilter.createdBefore": "when we recorded the customer",
    "ConsentFilter": "a consent's channel and state",
    "SegmentConsent": "a consent's channel and state",
    "SegmentFilter.and": HOLDER,
    "SegmentFilter.or": HOLDER,
    "SegmentFilter.not": HOLDER,
    "SegmentFilter.consent": HOLDER,
    "SegmentFilter.tagsAny": "our tags",
    "SegmentFilter.tagsAll": "our tags",
    "SegmentFilter.birthday": HOLDER,
    "SegmentFilter.purchased": HOLDER,
    "SegmentFilter.replenishmentDue": HOLDER,
    "SegmentFilter.abandonedCheckout": HOLDER,
    "SegmentFilter.viewedProduct": HOLDER,
    "PurchasedRule": PRODUCT + "; days and units bought",
    "DateTimeRange": "when an order was placed",
    "ReplenishmentDueRule": PRODUCT + "; days until it runs out (computed)",
    "AbandonedCheckoutRule": "days since a checkout was left (a store fact)",
    "ViewedProductRule": PRODUCT + " a web event names in its sku or category"
    " property (never its other properties, which may hold any text); days",
    **dict.fromkeys(
        (
            "SegmentFilter.lifetimeValue",
            "SegmentFilter.orderCount",
            "SegmentFilter.averageOrderValue",
            "SegmentFilter.averageDaysBetweenOrders",
            "SegmentFilter.returnRate",
            "SegmentFilter.satisfaction",
            "SegmentFilter.openTickets",
            "SegmentFilter.ticketCount",
            "SegmentFilter.firstOrderAt",
            "SegmentFilter.lastOrderAt",
            "SegmentFilter.predictedNextOrderAt",
            "SegmentFilter.lastSeenAt",
            "SegmentFilter.rfmSegmentIn",
            "SegmentFilter.categoriesAny",
            "SegmentFilter.categoriesAll",
            "SegmentFilter.favouriteCategory",
            "SegmentFilter.favouriteCategoryBySpend",
            "NumberRange",
            "TimeRange",
        ),
        TRAIT,
    ),
    **dict.fromkeys(
        (
            "TicketStatus",
            "TaskStatus",
            "ActivityKind",
            "TimelineKind",
            "TimelineSource",
            "ConsentChannel",
            "ConsentState",
            "AddressKind",
        ),
        "a kind, source or state, not personal data",
    ),
    **dict.fromkeys(
        (
            "Customer.tickets",
            "Customer.activity",
            "Customer.timeline",
            "Customer.tasks",
            "EmbedQuery.timeline",
        ),
        OWN_LIST,
    ),
    **dict.fromkeys(
        (
            "Mutation.createCustomer",
            "Mutation.updateCustomer",
            "Mutation.addNote",
            "Mutation.tagCustomer",
            "Mutation.untagCustomer",
            "Mutation.addLoyaltyPoints",
            "Mutation.createTask",
            "Mutation.createEmbedToken",
            "CreateCustomerInput",
            "UpdateCustomerInput",
            "AddressInput",
        ),
        WRITE,
    ),
}
"""Coordinates that compare with no personal data, each with why. A key is a
coordinate, ``Type.field`` (all its arguments), ``Type`` (all its input fields
or enum values) or ``(name:)`` (every argument so named)."""

_ARGUMENT = re.compile(r"^(\w+)\.(\w+)\((\w+):\)$")


def not_compared(coordinate: str) -> str | None:
    """Why ``coordinate`` compares with no personal data; ``None``: undeclared."""
    argument = _ARGUMENT.match(coordinate)
    keys = [coordinate, coordinate.split(".")[0]]
    if argument:
        type_name, field, name = argument.groups()
        keys += [f"{type_name}.{field}", f"({name}:)"]
    return next((NOT_COMPARED[k] for k in keys if k in NOT_COMPARED), None)


def entity_keys(named: GraphQLNamedType) -> list[str]:
    definition = (named.extensions or {}).get("strawberry-definition")
    return [
        field
        for directive in getattr(definition, "directives", None) or ()
        if isinstance(directive, Key)
        for field in str(directive.fields).split()
    ]


def schema_coordinates(schema: GraphQLSchema) -> set[str]:
    """Every argument, input field, argument enum value and entity key."""
    found: set[str] = set()
    inputs: list[GraphQLNamedType] = []
    for name, named in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            found.update(f"{name}.{key}" for key in entity_keys(named))
            for field_name, field in named.fields.items():
                for arg_name, arg in field.args.items():
                    found.add(f"{name}.{field_name}({arg_name}:)")
                    inputs.append(get_named_type(arg.type))
    seen: set[str] = set()
    while inputs:
        named = inputs.pop()
        if named.name in seen:
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLInputObjectType):
            for field_name, field in named.fields.items():
                found.add(f"{named.name}.{field_name}")
                inputs.append(get_named_type(field.type))
        elif isinstance(named, GraphQLEnumType):
            found.update(f"{named.name}.{value}" for value in named.values)
    return found


@dataclass(frozen=True)
class Usage:
    """A document using one ``COMPARED`` coordinate, its value a variable."""

    coordinate: str
    kind: PiiKind
    """The kind of the value sent (``search`` is sent one value per kind)."""
    root: str
    """``Query`` or ``Mutation``."""
    field: str
    document: str
    variables: Callable[[Facts, str], dict[str, Any]]
    """From the subject's facts and a string unique to the request (names)."""
    finds: bool = True
    """Whether the answer lists customers (an automation's does not: an
    allowed one is then only admitted)."""

    def __str__(self) -> str:
        return f"{self.coordinate}[{self.kind}]@{self.field}"


@dataclass(frozen=True)
class Facts:
    """The subject's values, one per kind a comparison is sent with."""

    email: str
    phone: str
    full_name: str
    address: dict[str, str]
    birth_month: int
    tag: str
    birth_date: date
    subject: str = ""
    """The subject's global id (a dry run's ``customerId``)."""

    def value(self, kind: PiiKind, field: str) -> object:
        today = datetime.now(UTC).date()
        if kind is PiiKind.ADDRESS:
            return self.address[field]
        if field == "inBirthdayMonth":
            return True
        if kind is PiiKind.BIRTH_MONTH and field in ("monthsAhead", "monthAhead"):
            return (self.birth_month - today.month) % 12
        if kind is PiiKind.BIRTH_MONTH:
            return self.birth_month
        if kind is PiiKind.BIRTH_DATE:  # ``withinDays``: until the next birthday
            born = self.birth_date
            next_one = born.replace(year=today.year)
            if next_one < today:
                next_one = born.replace(year=today.year + 1)
            return (next_one - today).days
        if kind is PiiKind.PHONE and field == "hasPhone":
            return True
        by_kind = {
            PiiKind.EMAIL: self.email,
            PiiKind.PHONE: self.phone,
            PiiKind.NAME: self.full_name,
        }
        return by_kind[kind]


def ids_selection(schema: GraphQLSchema, named: Any, depth: int = 0) -> str | None:
    """A selection reaching ``Customer.id`` from ``named`` (fields without
    required arguments), so an answer says whom it found."""
    if getattr(named, "name", None) == "Customer":
        return "{ id }"
    if isinstance(named, GraphQLUnionType):
        customer = any(t.name == "Customer" for t in named.types)
        return "{ ... on Customer { id } }" if customer else None
    if depth > 3 or not isinstance(named, GraphQLObjectType):
        return None
    for name, field in named.fields.items():
        if any(_required(a) for a in field.args.values()):
            continue
        inner = ids_selection(schema, get_named_type(field.type), depth + 1)
        if inner is not None:
            return f"{{ {name} {inner} }}"
    return None


def _required(arg: Any) -> bool:
    return isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined


def usages(schema: GraphQLSchema) -> Iterator[Usage]:
    for coordinate, kinds in sorted(COMPARED.items()):
        found = list(_usages_of(schema, coordinate, sorted(kinds)))
        assert found, f"no root field uses {coordinate}: add a way to send it"
        yield from found


def _usages_of(
    schema: GraphQLSchema, coordinate: str, kinds: list[PiiKind]
) -> Iterator[Usage]:
    argument = _ARGUMENT.match(coordinate)
    owner, _, member = coordinate.partition(".")
    named = schema.get_type(owner)
    for root in ("Query", "Mutation"):
        root_type = schema.get_type(root)
        assert isinstance(root_type, GraphQLObjectType)
        for field_name, field in root_type.fields.items():
            if field_name in NOT_GENERATED:
                continue
            for arg_name, arg in field.args.items():
                wrap: Wrap
                if argument:
                    if argument.groups() != (root, field_name, arg_name):
                        continue
                    leaf, wrap = arg_name, _same
                elif isinstance(named, GraphQLObjectType):
                    if (field_name, arg_name) != ("_entities", "representations"):
                        continue
                    leaf, wrap = member, _entity(owner, member)
                elif get_named_type(arg.type) is named:
                    leaf, wrap = member, _input(named, member)
                elif holder := _holder(get_named_type(arg.type), named):
                    outer = get_named_type(arg.type)
                    leaf, wrap = member, _nested(outer, holder, member)
                else:
                    continue
                for kind in kinds:
                    yield _usage(
                        schema,
                        (coordinate, kind),
                        (root, field_name, arg_name),
                        leaf,
                        wrap,
                    )


PREPARED = {
    "updateSegment": "createSegment(name: $o_name, filter: {}) { name } ",
}
"""What a root field needs to exist first, run before it in the same document
(mutations run in order): the segment ``updateSegment`` changes."""

_ACTIONS = '[{tag: {tags: ["sec-compared"]}}]'
FILLED = {
    ("createAutomation", "trigger"): "{orderPlaced: true}",
    ("createAutomation", "actions"): _ACTIONS,
    ("dryRunAutomation", "customerId"): "$subject",
}
"""Required arguments that are not strings, as literals (``$subject``: the
subject's global id)."""
INPUT_FILLED: dict[str, dict[str, object]] = {
    "AutomationDefinition": {
        "trigger": {"orderPlaced": True},
        "actions": [{"tag": {"tags": ["sec-compared"]}}],
    },
}
"""The required fields of an input type holding a compared one."""
NOT_GENERATED = {
    "updateAutomation": "needs an automation's id; its trigger and conditions"
    " are the same input types as createAutomation's, held by the same gate"
    " (tests/integration/automations/test_roles.py)",
}
"""Root fields no usage is generated for, and why."""
AUTOMATION_FIELDS = ("createAutomation", "dryRunAutomation")
"""Root fields that compare but answer no customer (an automation, a dry
run): a use by an allowed role is admitted, and that is what is checked."""

Wrap = Callable[[object, str], object]
"""The argument's value from the compared value and the subject's tag."""


def _same(value: object, tag: str) -> object:
    return value


def _entity(type_name: str, key: str) -> Wrap:
    return lambda value, tag: [{"__typename": type_name, key: value}]


def _holder(outer: Any, named: Any) -> str | None:
    """The field of the input type ``outer`` whose type is the input type
    ``named`` (``SegmentFilter.birthday`` for ``BirthdayRule``)."""
    if not isinstance(named, GraphQLInputObjectType):
        return None
    if not isinstance(outer, GraphQLInputObjectType) or outer is named:
        return None
    return next(
        (n for n, f in outer.fields.items() if get_named_type(f.type) is named), None
    )


def _nested(outer: Any, holder: str, member: str) -> Wrap:
    tagged = "tagsAny" in outer.fields  # only the subject: it has the stage's tag
    return lambda value, tag: {
        **INPUT_FILLED.get(outer.name, {}),
        holder: {member: value},
        **({"tagsAny": [tag]} if tagged else {}),
    }


def _input(named: Any, member: str) -> Wrap:
    if isinstance(named, GraphQLEnumType):
        return lambda value, tag: member
    if "tagsAny" in named.fields:  # only the subject: it has the stage's tag
        return lambda value, tag: {member: value, "tagsAny": [tag]}
    return lambda value, tag: {member: value}


def _usage(
    schema: GraphQLSchema,
    compared: tuple[str, PiiKind],
    where: tuple[str, str, str],
    leaf: str,
    wrap: Wrap,
) -> Usage:
    root, field_name, arg_name = where
    field = schema.get_type(root).fields[field_name]  # type: ignore[union-attr]
    declared = [f"$v: {field.args[arg_name].type}"]
    passed = [f"{arg_name}: $v"]
    for other, arg in field.args.items():
        named = get_named_type(arg.type)
        if other == arg_name:
            continue
        if (field_name, other) in FILLED:
            filled = FILLED[field_name, other]
            if filled == "$subject":
                declared.append("$subject: ID!")
            passed.append(f"{other}: {filled}")
        elif other == "first":
            passed.append("first: 100")
        elif isinstance(named, GraphQLInputObjectType) and "tagsAny" in named.fields:
            declared.append("$tag: String!")
            passed.append(f"{other}: {{tagsAny: [$tag]}}")
        elif _required(arg):
            assert named.name == "String", f"{root}.{field_name}({other}:)"
            declared.append(f"$o_{other}: String!")
            passed.append(f"{other}: $o_{other}")
    selection = ids_selection(schema, get_named_type(field.type))
    finds = selection is not None
    if not finds:
        assert field_name in AUTOMATION_FIELDS, f"{root}.{field_name} reaches no id"
        selection = "{ __typename }"
    document = (
        f"{root.lower()}({', '.join(declared)}) "
        f"{{ {PREPARED.get(field_name, '')}"
        f"{field_name}({', '.join(passed)}) {selection} }}"
    )
    coordinate, kind = compared

    def variables(facts: Facts, unique: str) -> dict[str, Any]:
        found: dict[str, Any] = {"v": wrap(facts.value(kind, leaf), facts.tag)}
        if "$tag" in document:
            found["tag"] = facts.tag
        for other in field.args:
            if f"$o_{other}" in document:
                found[f"o_{other}"] = f"sec-compared-{unique}"
        if "$subject" in document:
            found["subject"] = facts.subject
        return found

    return Usage(coordinate, kind, root, field_name, document, variables, finds)
