"""Hostile documents × transports: each is refused on ``/graphql`` over HTTP
and WebSocket and on ``/embed/graphql`` over both with exactly one error, the
code of the first check it fails on that surface — its size, its tokens, then
the limit it is built to pass (``gateway.admission.limits``'s order, the same on both
surfaces) — computed from that surface's own limits, with no 5xx and nothing
internal in the answer. In production, introspection is refused and no answer
suggests field names ("Did you mean"), on every transport.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql.language import Lexer, Source, TokenKind
from pydantic import SecretStr

from connectors.simulator_server import serve_app
from gateway.admission.limits import Limits
from gateway.app import create_app
from gateway.auth.embed_tokens import create_token
from gateway.auth.policy import Role
from gateway.runtime.services import open_services
from tests.security.conftest import Stage
from tests.security.entries import embed_schema
from tests.security.leaks import internals
from tests.security.surfaces import Surface, send

pytestmark = pytest.mark.storage_independent

INTROSPECTION_CODE = "INTROSPECTION_DISABLED"
DIRECTIVES_CODE = "TOO_MANY_DIRECTIVES"
"""The code of "too many directives on one field": one error for the pile."""
PRODUCTION_SECRET = "sec-suite-production-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
TRANSPORTS = [Surface.HTTP_POST, Surface.WS, Surface.EMBED_HTTP, Surface.EMBED_WS]


def _tokens(document: str) -> int:
    """graphql-core's count (comments are no tokens), not the gateway's."""
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


@dataclass(frozen=True)
class Hostile:
    name: str
    api: str
    embed: str
    code: str
    """The code of the limit the document is built to pass; a check before
    it (size, then tokens) may refuse it first on a surface."""
    variables: dict[str, Any] = dataclasses.field(default_factory=dict)

    def expected(self, document: str, limits: Limits) -> str:
        if len(document.encode()) > limits.max_document_bytes:
            return "QUERY_TOO_LARGE"
        if _tokens(document) > limits.max_tokens:
            return "QUERY_TOO_MANY_TOKENS"
        return self.code


def _nest(field: str, depth: int) -> str:
    return "{ " + f"{field} {{ " * depth + "__typename" + " }" * depth + " }"


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


DIRECTIVES = "{ __typename " + "@include(if: true) " * 100 + "}"
DIGITS = "1" + "0" * 5000
EVENTS = "edges { cursor node { __typename id occurredAt source kind summary actor } }"
EMBED_COST = (
    "query($n: Int!, $c: ID!) {"
    f" a: timeline(customerId: $c, first: $n) {{ {EVENTS} }}"
    f" b: timeline(customerId: $c, first: $n) {{ {EVENTS} }} }}"
)
"""Within every embed limit but the cost, and past that only through ``$n``:
2,002 at 100 events a page, 202 at 10."""
API_COST = (
    "query($n: Int!) { customers(first: $n) { edges { node {"
    " timeline(first: $n) { edges { node { __typename } } }"
    " tickets(first: $n) { edges { cursor } } } } } }"
)
LARGE = "# " + "x" * 150_000 + "\n{ __typename }"


def _cycle(root: str) -> str:
    return (
        f"{{ ...A }} fragment A on {root} {{ ...B __typename }}"
        f" fragment B on {root} {{ ...A __typename }}"
    )


HOSTILE = [
    Hostile(
        "deep nesting", _nest("customer", 40), _nest("timeline", 40), "QUERY_TOO_DEEP"
    ),
    Hostile("1000 aliases", _aliases(1000), _aliases(1000), "TOO_MANY_ALIASES"),
    Hostile("100 directives on one field", DIRECTIVES, DIRECTIVES, DIRECTIVES_CODE),
    Hostile(
        "cost via a float variable",
        API_COST,
        EMBED_COST,
        "QUERY_TOO_COSTLY",
        {"n": 100.0},
    ),
    Hostile(
        "cost via an int variable", API_COST, EMBED_COST, "QUERY_TOO_COSTLY", {"n": 100}
    ),
    Hostile(
        "first with thousands of digits",
        f"{{ customers(first: {DIGITS}) {{ totalCount }} }}",
        f"query($c: ID!) {{ timeline(customerId: $c, first: {DIGITS}) {{ edges {{ cursor }} }} }}",
        "BAD_USER_INPUT",
    ),
    Hostile(
        "fragment cycle",
        _cycle("Query"),
        _cycle(embed_schema().query_type.name),  # type: ignore[union-attr]
        "GRAPHQL_VALIDATION_FAILED",
    ),
    Hostile("150 KB document", LARGE, LARGE, "QUERY_TOO_LARGE"),
]


def _credential(stage: Stage, surface: Surface) -> str:
    return stage.embed_token if surface.is_embed else stage.keys[Role.ADMIN]


def _limits(stage: Stage, surface: Surface) -> Limits:
    settings = stage.services.settings
    if surface.is_embed:
        return Limits.for_embed(settings)
    return Limits.from_settings(settings)


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h.name)
@pytest.mark.parametrize("surface", TRANSPORTS, ids=str)
async def test_a_hostile_document_is_refused_with_one_code_on_every_transport(
    stage: Stage, surface: Surface, hostile: Hostile
) -> None:
    document = hostile.embed if surface.is_embed else hostile.api
    variables = dict(hostile.variables)
    if surface.is_embed and "$c" in document:
        variables["c"] = stage.subject.gid
    answer = await send(
        stage, surface, _credential(stage, surface), document, variables
    )
    assert answer.status in (400, None), answer.text[:500]
    assert answer.close_code is None, f"socket closed: {answer.close_code}"
    assert not internals(answer.text), answer.text[:500]
    assert not answer.data, "executed"
    expected = hostile.expected(document, _limits(stage, surface))
    assert answer.codes == [expected], answer.text[:500]


SUBSCRIPTION = (
    "subscription($c: ID!) { customerTimeline(customerId: $c) { __typename } }"
)
SUBSCRIPTION_OVER_HTTP = (400, "SUBSCRIPTION_OVER_HTTP")
"""Subscriptions run over WebSocket only; over plain HTTP they executed as a
query and failed inside (an internal error)."""


@pytest.mark.parametrize(
    "surface", [Surface.HTTP_POST, Surface.HTTP_GET, Surface.EMBED_HTTP], ids=str
)
async def test_a_subscription_over_plain_http_is_refused_with_a_code(
    stage: Stage, surface: Surface
) -> None:
    credential = _credential(stage, surface)
    if surface.is_embed:  # a token of its own: the module's spent its bucket
        secret = stage.services.settings.secret_key.get_secret_value()
        credential, _ = create_token(secret, stage.subject.pk, 600)
    answer = await send(
        stage, surface, credential, SUBSCRIPTION, {"c": stage.subject.gid}
    )
    assert (answer.status, answer.codes) == (
        SUBSCRIPTION_OVER_HTTP[0],
        [SUBSCRIPTION_OVER_HTTP[1]],
    ), answer.text[:500]
    assert not internals(answer.text), answer.text[:500]


@pytest.fixture(scope="module")
async def production(stage: Stage) -> AsyncIterator[Stage]:
    """The stage's data behind a gateway in production mode: the one place
    to add a setting production comes to require."""
    settings = stage.services.settings.model_copy(
        update={
            "env": "production",
            "secret_key": SecretStr(PRODUCTION_SECRET),
            "demo_api_key": None,
        }
    )
    async with open_services(settings) as services:
        app = create_app(services=services)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://gw") as http,
            serve_app(app) as base_url,
        ):
            token, _ = create_token(PRODUCTION_SECRET, stage.subject.pk, 600)
            yield dataclasses.replace(
                stage,
                services=services,
                http=http,
                base_url=base_url,
                embed_token=token,
            )


INTROSPECTION = "{ __schema { queryType { name } types { name } } }"
MISSPELLED = {
    False: "{ customerz(first: 1) { totalCount } }",
    True: "query($c: ID!) { timelin(customerId: $c) { edges { cursor } } }",
}


@pytest.mark.parametrize("surface", TRANSPORTS, ids=str)
async def test_production_refuses_introspection_on_every_transport(
    production: Stage, surface: Surface
) -> None:
    answer = await send(
        production, surface, _credential(production, surface), INTROSPECTION
    )
    assert answer.status is None or answer.status < 500, answer.text[:500]
    assert INTROSPECTION_CODE in answer.codes, answer.text[:500]
    assert not answer.data


@pytest.mark.parametrize("surface", TRANSPORTS, ids=str)
async def test_production_suggests_no_field_names_on_any_transport(
    production: Stage, surface: Surface
) -> None:
    document = MISSPELLED[surface.is_embed]
    variables = {"c": production.subject.gid} if surface.is_embed else {}
    answer = await send(
        production, surface, _credential(production, surface), document, variables
    )
    assert answer.errors, answer.text[:500]
    assert "Did you mean" not in answer.text, answer.text[:500]
