"""What no one may send: hostile documents are refused before execution with
their own codes; production hides what helps an attacker; persisted queries and
the GraphQL-over-HTTP conventions."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gateway.admission.persisted import register
from gateway.app import create_app
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN, row_counts


@asynccontextmanager
async def gateway_with(
    db: Services, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An app over ``db``'s database with some settings changed."""
    async with open_services(db.settings.model_copy(update=settings)) as services:
        transport = httpx.ASGITransport(app=create_app(services=services))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=ADMIN
        ) as http:
            yield http


@pytest.fixture
async def production(db: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_with(db, env="production") as http:
        yield http


async def post(http: httpx.AsyncClient, query: str, **extra: Any) -> httpx.Response:
    return await http.post("/graphql", json={"query": query, **extra})


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


ALIASES_1000 = "{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }"
HOSTILE = [
    ("deep nesting", "{ " + "a { " * 40 + "b" + " }" * 40 + " }", "QUERY_TOO_DEEP"),
    ("1,000 aliases", ALIASES_1000, "QUERY_TOO_MANY_TOKENS"),
    (
        "31 aliases",
        "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }",
        "TOO_MANY_ALIASES",
    ),
    (
        "circular fragments",
        "{ customers { ...A } } fragment A on CustomerConnection { ...B } "
        "fragment B on CustomerConnection { ...A }",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    (
        "a costly page of pages",
        "{ customers(first: 100) { edges { node { orders(first: 100) "
        "{ edges { node { id } } } } } } }",
        "QUERY_TOO_COSTLY",
    ),
    ("a 150 KB document", "{ __typename }" + " " * 150_000, "QUERY_TOO_LARGE"),
]


async def test_a_2_mb_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, "{ __typename }" + " " * 2_000_000)
    assert response.status_code == 413
    assert code(response) == "REQUEST_TOO_LARGE"


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    client: httpx.AsyncClient,
) -> None:
    """No ``Content-Length`` to refuse up front: reading stops at the limit."""
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "padding": "'
        while sent < 10_000_000:
            sent += 65_536
            yield b" " * 65_536

    response = await client.post(
        "/graphql", content=endless(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert code(response) == "REQUEST_TOO_LARGE"
    assert sent <= 1_000_000 + 65_536  # CG_MAX_BODY_BYTES, and not a chunk more


@pytest.mark.parametrize(("name", "query", "expected"), HOSTILE)
async def test_hostile_documents_are_refused_with_400_and_their_code(
    client: httpx.AsyncClient, name: str, query: str, expected: str
) -> None:
    response = await post(client, query)
    assert response.status_code == 400, name
    assert code(response) == expected


async def test_introspection_is_refused_in_production(
    production: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    query = "{ __schema { types { name } } }"
    assert (await post(client, query)).status_code == 200  # development allows it
    response = await post(production, query)
    assert response.status_code == 400
    assert code(response) == "INTROSPECTION_DISABLED"


async def test_production_errors_suggest_no_field_names(
    production: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    probe = "{ custmer { id } }"
    assert "Did you mean" in (await post(client, probe)).text
    response = await post(production, probe)
    assert "Did you mean" not in response.text
    assert "customer" not in response.text.replace("custmer", "")


async def test_graphiql_is_off_in_production(production: httpx.AsyncClient) -> None:
    response = await production.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404


async def test_batches_are_refused_unless_enabled_and_then_bounded(
    db: Services,
) -> None:
    batch = [{"query": "{ __typename }"}] * 100
    async with gateway_with(db) as http:
        refused = await http.post("/graphql", json=batch)
        assert refused.status_code == 400
        assert code(refused) == "BATCHING_DISABLED"
    async with gateway_with(db, batching_enabled=True) as http:
        too_many = await http.post("/graphql", json=batch)
        assert code(too_many) == "BATCH_TOO_LARGE"
        three = await http.post("/graphql", json=batch[:3])
        assert three.status_code == 200
        assert three.json() == [{"data": {"__typename": "Query"}}] * 3


async def test_a_mutation_over_get_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": 'mutation { addNote(customerId: "x", body: "y") { id } }'},
    )
    assert response.status_code == 405
    assert code(response) == "METHOD_NOT_ALLOWED"
    query = await client.get("/graphql", params={"query": "{ __typename }"})
    assert query.status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "text/plain",
            '{"query": "mutation { createCustomer(input: {email: \\"a@b.co\\"}) { id } }"}',
        ),
        ("application/x-www-form-urlencoded", "query=%7B__typename%7D"),
        ("multipart/form-data; boundary=x", "--x--"),
    ],
)
async def test_simple_cross_site_posts_are_refused_with_415(
    client: httpx.AsyncClient, db: Services, content_type: str, body: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 415
    assert code(response) == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    "content_type",
    [
        b"\xa0application/json",  # a no-break space: not a header's whitespace
        b"application/json\x1f",
        b"application/json\x0b; charset=utf-8",
        b"application/json; charset=utf-16",
        b"application/json; charset=iso-8859-1",
        b'application/json; charset="latin1"',
    ],
)
async def test_json_with_odd_bytes_around_it_or_not_in_utf_8_is_refused_with_415(
    client: httpx.AsyncClient, content_type: bytes
) -> None:
    """Only spaces and tabs may surround a media type (RFC 9110, 5.6.3), and
    JSON is UTF-8 (RFC 8259, 8.1): both were accepted before, by our check
    and Strawberry's (``str.strip``), and a UTF-16 charset read as UTF-8."""
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 415, response.text
    assert code(response) == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON",
        "Application/Json; charset=UTF-8",
        "application/JSON;charset=utf-8",
        '\tapplication/json ; charset="utf-8"',
        "application/json; charset=utf8",
    ],
)
async def test_a_json_post_is_answered_whatever_the_media_types_case(
    client: httpx.AsyncClient, content_type: str
) -> None:
    """Media types are case-insensitive (RFC 9110, 8.3.1)."""
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "codings",
    [["gzip"], ["br"], ["deflate"], ["GZIP"], ["gzip, identity"], ["identity", "br"]],
    ids=str,
)
async def test_a_compressed_body_is_refused_with_415_and_what_is_accepted(
    client: httpx.AsyncClient, db: Services, codings: list[str]
) -> None:
    """A gzipped body was read as JSON and answered "not JSON" (400), and a
    plain one declared ``br`` was executed: neither is what was sent. Every
    ``Content-Encoding`` line counts, not only the first."""
    body = (
        b'{"query": "mutation { createCustomer(input: {email: \\"z@b.co\\"}) { id } }"}'
    )
    before = await row_counts(db)
    for content in (gzip.compress(body), body):
        response = await client.post(
            "/graphql",
            content=content,
            headers=[
                ("Content-Type", "application/json"),
                *(("Content-Encoding", coding) for coding in codings),
            ],
        )
        assert response.status_code == 415, response.text
        assert code(response) == "UNSUPPORTED_MEDIA_TYPE"
        assert response.headers["accept-encoding"] == "identity"
    assert await row_counts(db) == before


@pytest.mark.parametrize("codings", [["identity"], [""], ["identity", " Identity "]])
async def test_a_body_declared_identity_or_no_coding_is_answered(
    client: httpx.AsyncClient, codings: list[str]
) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers=[
            ("Content-Type", "application/json"),
            *(("Content-Encoding", coding) for coding in codings),
        ],
    )
    assert response.status_code == 200, response.text


async def test_graphql_response_json_is_served_when_asked_for(
    client: httpx.AsyncClient,
) -> None:
    accept = {"Accept": "application/graphql-response+json"}
    ok = await client.post("/graphql", json={"query": "{ __typename }"}, headers=accept)
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    assert ok.status_code == 200
    broken = await client.post("/graphql", json={"query": "{ nope }"}, headers=accept)
    assert broken.status_code == 400
    plain = await client.post("/graphql", json={"query": "{ nope }"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/json")


def apq(document: str | None, digest: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    }
    if document is not None:
        body["query"] = document
    return body


async def test_automatic_persisted_queries(client: httpx.AsyncClient) -> None:
    document = "{ customers { totalCount } }"
    digest = hashlib.sha256(document.encode()).hexdigest()
    missing = await client.post("/graphql", json=apq(None, digest))
    assert code(missing) == "PERSISTED_QUERY_NOT_FOUND"
    stored = await client.post("/graphql", json=apq(document, digest))
    assert stored.json() == {"data": {"customers": {"totalCount": 0}}}
    by_hash = await client.post("/graphql", json=apq(None, digest))
    assert by_hash.json() == {"data": {"customers": {"totalCount": 0}}}
    wrong = await client.post("/graphql", json=apq("{ __typename }", digest))
    assert wrong.status_code == 400
    assert code(wrong) == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_allowlist_mode_runs_only_registered_documents(db: Services) -> None:
    allowed = "{ customers { totalCount } }"
    digest = await register(db.sessions, allowed, "count")
    async with gateway_with(db, persisted_queries_only=True) as http:
        assert (await post(http, allowed)).status_code == 200
        assert (await http.post("/graphql", json=apq(None, digest))).status_code == 200
        other = await post(http, "{ __typename }")
        assert other.status_code == 400
        assert code(other) == "PERSISTED_QUERY_NOT_ALLOWED"
