"""Hostile text in every String argument of every mutation, generated from the
schema: each is refused with BAD_USER_INPUT and nothing is stored. Plus the
bounds of single fields: column lengths, ``search``, ``first``, loyalty."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from gateway.app import create_app
from gateway.db.models import LoyaltyEntry
from gateway.insights.product_tables import Product
from gateway.relay.ids import customer_pk
from gateway.runtime.services import Services
from gateway.schema import build_schema
from gateway.schema.text_inputs import MAX_TEXT_LENGTH
from tests.conftest import ADMIN, ANSWER_WAIT, GraphQL, row_counts

SCHEMA = build_schema()._schema
MUTATIONS = SCHEMA.mutation_type
assert MUTATIONS is not None
HOSTILE = {
    "over-length": "x" * (MAX_TEXT_LENGTH + 1),
    "nul": "a\x00b",
    "lone-surrogate": "a\ud800b",
    "escape": "a\x1b[31mb",
}
PLAUSIBLE: dict[str, Any] = {
    "rfmSegmentIn": "Champions",
    "birthMonth": 4,
    "monthsAhead": 1,
    "sku": "NW-301",  # in the catalogue (``customer`` below)
    "category": "Skincare",
    "points": 5,
    "email": "hostile@example.com",
    "phone": "+14155550123",
    "country": "US",
    "locale": "en-US",
    "timezone": "UTC",
    "url": "http://127.0.0.1:9000/hooks",  # the tests allow local receivers
}
SCALARS: dict[str, Any] = {
    "Int": 60,
    "Float": 1.5,
    "Boolean": False,
    "Date": "1990-04-12",
    "DateTime": "2030-01-01T00:00:00+00:00",
}


def plausible(name: str, kind: GraphQLInputType, customer: str, depth: int) -> Any:
    """A valid value for an argument or input field of type ``kind``."""
    if isinstance(kind, GraphQLNonNull):
        return plausible(name, kind.of_type, customer, depth)
    if isinstance(kind, GraphQLList):
        return [plausible(name, kind.of_type, customer, depth)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        if depth > 1:
            return {}
        fields = [
            (field, sub)
            for field, sub in kind.fields.items()
            if field not in ("and", "or", "not") and not field.endswith("At")
        ]
        definition = kind.extensions.get("strawberry-definition")
        if getattr(definition, "is_one_of", False):  # @oneOf: one field, the first
            fields = fields[:1]
        return {
            field: plausible(field, sub.type, customer, depth + 1)
            for field, sub in fields
        }
    assert isinstance(kind, GraphQLScalarType)
    if kind.name == "ID":
        return customer
    default = "x" if kind.name == "String" else SCALARS[kind.name]
    return PLAUSIBLE.get(name, default)


def string_paths(value: Any, kind: GraphQLInputType) -> Iterator[tuple[Any, ...]]:
    """Where ``value`` holds a String of the schema (not an ID)."""
    if isinstance(kind, GraphQLNonNull):
        yield from string_paths(value, kind.of_type)
    elif isinstance(kind, GraphQLList):
        yield from ((0, *p) for p in string_paths(value[0], kind.of_type))
    elif isinstance(kind, GraphQLInputObjectType):
        for field, sub in kind.fields.items():
            if field in value:
                yield from ((field, *p) for p in string_paths(value[field], sub.type))
    elif isinstance(kind, GraphQLScalarType) and kind.name == "String":
        yield ()


def replaced(value: Any, path: tuple[Any, ...], new: str) -> Any:
    if not path:
        return new
    head, *rest = path
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[head] = replaced(value[head], tuple(rest), new)
    return copy


def cases() -> Iterator[tuple[str, str, tuple[Any, ...]]]:
    for name, field in MUTATIONS.fields.items():
        for arg, definition in field.args.items():
            sample = plausible(arg, definition.type, "", 0)
            for path in string_paths(sample, definition.type):
                yield name, arg, path


def document(name: str) -> str:
    field = MUTATIONS.fields[name]
    declared = ", ".join(f"${a}: {d.type}" for a, d in field.args.items())
    passed = ", ".join(f"{a}: ${a}" for a in field.args)
    returned = (
        field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    )
    selection = " { __typename }" if isinstance(returned, GraphQLObjectType) else ""
    return f"mutation({declared}) {{ {name}({passed}){selection} }}"


async def ask(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """Posted as ASCII JSON: a lone surrogate travels as its ``\\ud800`` escape."""
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


async def rows(db: Services) -> int:
    """Rows in every table the gateway writes on a client's behalf."""
    return sum((await row_counts(db)).values())


@pytest.fixture
async def customer(gql: GraphQL, db: Services) -> str:
    """A customer, and the product the plausible SKU and category name."""
    created = await gql(
        'mutation { createCustomer(input: {email: "owner@example.com"}) { id } }'
    )
    async with db.sessions() as session, session.begin():
        session.add(Product(sku="NW-301", title="Face cream", category="Skincare"))
    return str(created["data"]["createCustomer"]["id"])


EXISTING = {"updateSegment", "deleteSegment", "createAutomation"}
"""Mutations of (or triggered by) a saved segment: the plausible name ``x`` is
created first."""
NEEDS_KLAVIYO = {"connectSegmentToList", "disconnectSegmentFromList"}
"""Mutations that reach Klaviyo, which these services have no key for: their
plausible call answers NOT_CONFIGURED (test_audience_sync.py runs them)."""


CASES = list(cases())


def test_the_table_covers_every_string_argument_of_the_crm_mutations() -> None:
    covered = {(name, path[0] if path else arg) for name, arg, path in CASES}
    covered |= {(name, path[-1]) for name, _, path in CASES if path}
    assert {
        ("createCustomer", "postcode"),
        ("createCustomer", "tags"),
        ("updateCustomer", "firstName"),
        ("addNote", "body"),
        ("setConsent", "source"),
        ("createSegment", "name"),
        ("createSegment", "city"),
        ("createTask", "title"),
    } <= covered


ACCEPTED_ELSEWHERE = {
    "createPromoCode": "makes a Shopify discount, and this gateway has no Shopify:"
    " its accepted input is tested against the simulator in test_promo_codes.py",
    "updateAutomation": "changes an automation that exists: its accepted input is"
    " tested in tests/integration/automations (test_runs.py, test_roles.py)",
}


@pytest.mark.parametrize(
    "mutation", sorted({name for name, _, _ in CASES} - set(ACCEPTED_ELSEWHERE))
)
async def test_the_plausible_arguments_the_table_starts_from_are_accepted(
    gql: GraphQL, customer: str, mutation: str
) -> None:
    field = MUTATIONS.fields[mutation]
    variables = {a: plausible(a, d.type, customer, 0) for a, d in field.args.items()}
    if mutation in EXISTING:
        await gql('mutation { createSegment(name: "x", filter: {}) { name } }')
    answer = await gql(document(mutation), variables)
    if mutation in NEEDS_KLAVIYO:
        codes = [e["extensions"]["code"] for e in answer["errors"]]
        assert codes == ["NOT_CONFIGURED"], answer
        return
    assert "errors" not in answer, answer


@pytest.mark.parametrize(
    ("mutation", "arg", "path"), CASES, ids=[f"{m}.{a}{list(p)}" for m, a, p in CASES]
)
async def test_hostile_text_in_any_mutation_string_is_refused_and_nothing_stored(
    client: httpx.AsyncClient,
    db: Services,
    customer: str,
    mutation: str,
    arg: str,
    path: tuple[Any, ...],
) -> None:
    """Each of ``HOSTILE`` in turn, in the one place ``path`` names."""
    field = MUTATIONS.fields[mutation]
    before = await rows(db)
    for hostile, text in HOSTILE.items():
        variables = {
            a: plausible(a, d.type, customer, 0) for a, d in field.args.items()
        }
        variables[arg] = replaced(variables[arg], path, text)
        answer = await ask(client, document(mutation), variables)
        # A lone surrogate, escaped in the JSON body, is refused by the JSON
        # parser (orjson) with the whole body; every other string by the text
        # check.
        code = "BAD_REQUEST" if hostile == "lone-surrogate" else "BAD_USER_INPUT"
        assert answer["errors"][0]["extensions"]["code"] == code, (hostile, answer)
        if code == "BAD_USER_INPUT":  # named, whichever argument or input field
            assert answer["errors"][0]["extensions"].get("field"), (hostile, answer)
        assert await rows(db) == before, hostile


@pytest.mark.parametrize(
    ("literal", "code"),
    [
        ("a\\u0000b", "BAD_USER_INPUT"),
        ("a\x00b", "BAD_USER_INPUT"),
        ("a\x01b", "BAD_USER_INPUT"),
        ("a\x7fb", "BAD_USER_INPUT"),  # DEL
        ("a\\u009bb", "BAD_USER_INPUT"),  # CSI, a C1 control: an escape to terminals
        ("a\x85b", "BAD_USER_INPUT"),  # NEL
        ("a\\ud800b", "GRAPHQL_PARSE_FAILED"),  # graphql-core's lexer refuses it
    ],
)
async def test_a_control_character_in_a_literal_raw_or_escaped_is_refused_too(
    client: httpx.AsyncClient, db: Services, customer: str, literal: str, code: str
) -> None:
    before = await rows(db)
    answer = await ask(
        client,
        f'mutation($c: ID!) {{ addNote(customerId: $c, body: "{literal}") {{ id }} }}',
        {"c": customer},
    )
    assert answer["errors"][0]["extensions"]["code"] == code
    assert await rows(db) == before


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (  # a literal: the argument holding it
            'mutation($c: ID!) { addNote(customerId: $c, body: "a\\u0001b") { id } }',
            {},
            "body",
        ),
        (  # a variable: where the document uses it
            "mutation($c: ID!, $b: String!) { addNote(customerId: $c, body: $b) { id } }",
            {"b": "x" * 10_001},
            "body",
        ),
        (  # inside an input object sent as a variable: its field
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
            {"i": {"email": "named@example.com", "firstName": "a\x07b"}},
            "firstName",
        ),
        (  # inside an input object written in the document
            "mutation($n: String) { createCustomer(input: "
            '{email: "named@example.com", lastName: $n}) { id } }',
            {"n": "a\x00b"},
            "lastName",
        ),
    ],
)
async def test_a_refused_text_names_the_argument_or_input_field_holding_it(
    client: httpx.AsyncClient,
    db: Services,
    customer: str,
    document: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    before = await rows(db)
    answer = await ask(client, document, {"c": customer, **variables})
    assert answer["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": field,
    }, answer
    assert await rows(db) == before


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (  # a variable's own name is text the client sent: checked, not named
            "query($c: ID!) { customer(id: $c) { id } }",
            {"a\x00b": "fine"},
            None,
        ),
        (  # a long name under a refused value: not echoed
            "query($c: ID!) { customer(id: $c) { id } }",
            {"N" * 20_000: "\x00"},
            None,
        ),
        (  # a key no input type could define: not echoed, its argument named
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
            {"i": {"email": "k@example.com", "<img src=x onerror=alert(1)>": "\x00"}},
            "input",
        ),
        (  # a key like a variable is a key: its argument named
            "mutation($i: CreateCustomerInput!, $n: String) {"
            " createCustomer(input: $i) { id } addNote(customerId: 1, body: $n) { id } }",
            {"i": {"email": "k@example.com", "$n": "\x00"}},
            "input",
        ),
        (  # a GraphQL name the input type does not define is the client's too
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
            {"i": {"email": "k@example.com", "__proto__": {"constructor": "\x01"}}},
            "input",
        ),
        (  # a variable the operation does not declare names nothing
            "query($c: ID!) { customer(id: $c) { id } }",
            {"t": {"search": "\x01"}},
            None,
        ),
        (  # a variable's default: the argument it is used as
            'query($x: String = "a\\u0001b") { customers(search: $x) { totalCount } }',
            {},
            "search",
        ),
    ],
)
async def test_a_refusal_names_only_what_the_schema_could_define(
    client: httpx.AsyncClient,
    db: Services,
    customer: str,
    document: str,
    variables: dict[str, Any],
    field: str | None,
) -> None:
    """A refused text's ``field`` is an argument or input field, never a
    client's own key or variable name echoed back."""
    before = await rows(db)
    answer = await ask(client, document, {"c": customer, **variables})
    refusals = [
        e["extensions"] for e in answer["errors"] if "Text inputs" in e["message"]
    ]
    expected = {"code": "BAD_USER_INPUT"} | ({"field": field} if field else {})
    assert refusals == [expected], answer
    assert await rows(db) == before


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (  # a variable of another type: the argument it is used as
            "query($c: ID!, $n: Int!) { customer(id: $c) { notes(first: $n) { "
            "edges { node { id } } } } }",
            {"n": "many"},
            "first",
        ),
        (  # a required variable left out
            "query($c: ID!, $n: Int!) { customer(id: $c) { notes(first: $n) { "
            "edges { node { id } } } } }",
            {},
            "first",
        ),
        (  # deep in an input object: the innermost input field the type defines
            "query($f: CustomerFilter) { customers(first: 2, filter: $f) { "
            "edges { node { id } } } }",
            {"f": {"tagsAny": [5]}},
            "tagsAny",
        ),
        (  # a key of the client's own: not echoed, the argument named
            "query($f: CustomerFilter) { customers(first: 2, filter: $f) { "
            "edges { node { id } } } }",
            {"f": {"__proto__": 1}},
            "filter",
        ),
        (  # an enum value that does not exist, as a variable
            "query($o: CustomerOrderBy) { customers(first: 2, orderBy: $o) { "
            "edges { node { id } } } }",
            {"o": "NOPE"},
            "orderBy",
        ),
        (  # … and as a literal
            "{ customers(first: 2, orderBy: NOPE) { edges { node { id } } } }",
            {},
            "orderBy",
        ),
        (  # inside an input object written in the document
            'mutation { createCustomer(input: {email: "enum@example.com", '
            'addresses: [{kind: NOPE, country: "US"}]}) { id } }',
            {},
            "kind",
        ),
    ],
)
async def test_a_value_graphql_core_refuses_names_its_argument_or_input_field(
    client: httpx.AsyncClient,
    db: Services,
    customer: str,
    document: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    """graphql-core's own refusals of a variable or an enum literal name
    where it is (``extensions.field``), as the gateway's own refusals do."""
    before = await rows(db)
    answer = await ask(client, document, {"c": customer, **variables})
    assert [e["extensions"] for e in answer["errors"]] == [
        {"code": "BAD_USER_INPUT", "field": field}
    ], answer
    assert await rows(db) == before


TWO_OPERATIONS = (
    "query A($v: String, $f: CustomerFilter) { customers(search: $v, filter: $f) "
    "{ totalCount } } "
    "query B($v: Int!, $f: String) { ...Seen customers(first: $v) { totalCount } } "
    "fragment Seen on Query { customer(email: $f) { id } }"
)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"v": "many"}, "first"),  # B declares $v an Int, used as first
        ({"v": 1, "f": 5}, "email"),  # B's $f is a String, used as email
        ({"v": 1, "f": "a\x00b"}, "email"),  # the gateway's own text check
    ],
)
async def test_a_refusal_names_the_field_of_the_operation_run(
    client: httpx.AsyncClient, variables: dict[str, Any], field: str
) -> None:
    """A document of several operations: the one named by ``operationName``
    says what a variable is and where it is used, its fragments included."""
    response = await client.post(
        "/graphql",
        json={"query": TWO_OPERATIONS, "operationName": "B", "variables": variables},
    )
    answer = response.json()
    assert [e["extensions"] for e in answer["errors"]] == [
        {"code": "BAD_USER_INPUT", "field": field}
    ], answer


@pytest.mark.parametrize(
    ("field", "length"),
    [("line1", 201), ("line2", 201), ("city", 101), ("region", 101), ("postcode", 21)],
)
async def test_an_address_field_longer_than_its_column_is_refused_on_every_backend(
    gql: GraphQL, db: Services, field: str, length: int
) -> None:
    address = {"kind": "SHIPPING", "country": "US", field: "9" * length}
    # not 0: the migrations' defaults stand in a worker's first test
    before = await rows(db)
    answer = await gql(
        "mutation($a: AddressInput!) { createCustomer(input: "
        '{email: "long@example.com", addresses: [$a]}) { id } }',
        {"a": address},
    )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", answer
    assert answer["errors"][0]["extensions"]["field"] == field
    assert await rows(db) == before


async def test_a_95_kb_search_is_refused(gql: GraphQL) -> None:
    answer = await gql(
        "query($s: String) { customers(search: $s, first: 1) { edges { cursor } } }",
        {"s": "x" * 95_000},
    )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("first", ["-1", "2147483647", "9" * 5000])
@pytest.mark.parametrize(
    "connection",
    ["orders", "tickets", "activity", "tasks", "notes", "timeline"],
)
async def test_a_negative_or_huge_first_on_any_connection_is_a_coded_refusal(
    client: httpx.AsyncClient, customer: str, connection: str, first: str
) -> None:
    answer = await ask(
        client,
        f"query($c: ID!) {{ node(id: $c) {{ ... on Customer {{ "
        f"{connection}(first: {first}) {{ __typename }} }} }} }}",
        {"c": customer},
    )
    codes = {e["extensions"]["code"] for e in answer.get("errors", [])}
    assert codes, answer
    assert "INTERNAL_SERVER_ERROR" not in codes
    for error in answer["errors"]:  # `first` named as every argument is
        if error["extensions"]["code"] == "BAD_USER_INPUT":
            assert error["extensions"]["field"] == "first", answer


async def test_loyalty_grants_cannot_overflow_the_balance(
    gql: GraphQL, db: Services, customer: str
) -> None:
    grant = (
        "mutation($c: ID!, $p: Int!) { addLoyaltyPoints(customerId: $c, points: $p,"
        ' reason: "r") { __typename } }'
    )
    huge = await gql(grant, {"c": customer, "p": 2**31 - 1})
    assert huge["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    async with db.sessions() as session, session.begin():
        session.add(
            LoyaltyEntry(
                customer_id=customer_pk(customer), points=2**31 - 10, reason="r"
            )
        )
    over = await gql(grant, {"c": customer, "p": 10})
    assert over["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "errors" not in await gql(grant, {"c": customer, "p": 9})
    read = await gql(
        "query($c: ID!) { node(id: $c) { ... on Customer { loyaltyBalance } } }",
        {"c": customer},
    )
    assert read["data"]["node"]["loyaltyBalance"] == 2**31 - 1


async def test_hostile_text_sent_over_a_websocket_is_refused_and_nothing_stored(
    db: Services, customer: str
) -> None:
    import websockets

    from connectors.simulator_server import serve_app

    before = await rows(db)
    async with serve_app(create_app(services=db)) as base_url:
        url = base_url.replace("http", "ws") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": ADMIN}))
            assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
            query = document("addNote")
            variables = {"customerId": customer, "body": "a\x00b"}
            payload = {"query": query, "variables": variables}
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": payload})
            )
            answer = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))
    errors = (
        answer["payload"]["errors"] if answer["type"] == "next" else answer["payload"]
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", answer
    assert await rows(db) == before


@pytest.mark.parametrize(
    ("digits", "status", "code"),
    [(12, 200, "BAD_USER_INPUT"), (5000, 400, "BAD_REQUEST")],
)
async def test_a_first_variable_of_many_digits_is_refused_before_execution(
    client: httpx.AsyncClient, digits: int, status: int, code: str
) -> None:
    """12 digits: JSON, but no Int (graphql-core's coercion, a request error);
    5,000: past a double, so not a JSON body the gateway reads."""
    query = "query($n: Int) { customers(first: $n) { edges { cursor } } }"
    number = "9" * digits  # raw: json.dumps cannot write 5,000 digits either
    body = json.dumps({"query": query, "variables": {"n": 0}}).replace(
        '"n": 0', f'"n": {number}'
    )
    response = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer.get("data") is None
    assert answer["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize(
    ("bottom", "code"), [("fine", None), ("x" * 10_001, "BAD_USER_INPUT")]
)
async def test_variables_nested_as_deep_as_json_allows_are_checked_not_failed(
    client: httpx.AsyncClient, bottom: str, code: str | None
) -> None:
    """orjson reads 1,024 levels; the walk over every string reaches the
    bottom of 1,000 (a recursion had been an internal error there)."""
    deep = "[" * 1000 + json.dumps(bottom) + "]" * 1000
    response = await client.post(
        "/graphql",
        content='{"query": "{ __typename }", "variables": {"unused": ' + deep + "}}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    answer = response.json()
    if code is None:
        assert answer == {"data": {"__typename": "Query"}}
    else:
        assert answer["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("not a date", '"not a date"'),
        ("2026-13-45T99:00:00Z", '"2026-13-45T99:00:00Z"'),
        (5, "not a string"),
    ],
)
async def test_a_datetime_refused_says_what_is_expected_not_pythons_words(
    client: httpx.AsyncClient, given: object, shown: str
) -> None:
    answer = await ask(
        client,
        "query($f: CustomerFilter) { customers(first: 1, filter: $f) { totalCount } }",
        {"f": {"createdAfter": given}},
    )
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "createdAfter"}
    assert error["message"] == (
        "Variable '$f' has invalid value at .createdAfter: Value cannot represent a"
        f" DateTime: {shown}. Expected an ISO 8601 date and time, e.g."
        " 2026-12-07T10:00:00Z."
    )


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ('{ customers(first: "x") { totalCount } }', "first"),
        ("{ customers(first: 1, filter: {tagsAny: [1]}) { totalCount } }", "tagsAny"),
        # a key of the client's own: its argument named
        ("{ customers(first: 1, filter: {__proto__: 1}) { totalCount } }", "filter"),
        (
            '{ customers(first: 1, filter: {consent: {channel: "email"}}) { totalCount } }',
            "channel",
        ),
        (
            "mutation { createCustomer(input: "
            '{email: "lit@example.com", addresses: [{kind: SHIPPING}]}) { id } }',
            "addresses",
        ),
        # a variable's default: where the variable is used
        (
            "query($o: CustomerOrderBy = NOPE) { customers(first: 1, orderBy: $o) "
            "{ totalCount } }",
            "orderBy",
        ),
    ],
)
async def test_a_literal_graphql_core_refuses_names_its_argument_or_input_field(
    client: httpx.AsyncClient, db: Services, document: str, field: str
) -> None:
    """A document whose literal is not of its type fails validation, and the
    error names the argument or input field holding the literal."""
    before = await rows(db)
    answer = await ask(client, document, {})
    assert answer["errors"], answer
    for error in answer["errors"]:
        assert error["extensions"]["field"] == field, answer
    assert await rows(db) == before
