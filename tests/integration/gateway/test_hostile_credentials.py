"""Whatever arrives as credentials — non-ASCII bytes, 9 KB, a JWT with
``alg: none``, an algorithm that does not fit its key, an unreachable JWKS, a
forged embed token — the answer is 401 ``UNAUTHENTICATED`` (WebSocket: closed
with 4403) on every transport, with no traceback in the log; failed logins are
throttled per client address, embed tokens each have their own rate limit."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.auth.keys import create_key
from gateway.auth.policy import Role
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN
from tests.integration.gateway.transports import API, EMBED, Served, served

pytestmark = pytest.mark.storage_independent

ISSUER, AUDIENCE = "https://id.example", "customer-graph"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def claims(**extra: Any) -> dict[str, Any]:
    return {
        "sub": "u-1",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "exp": int(time.time()) + 600,
        "roles": ["support"],
        **extra,
    }


def signed(key: Any, algorithm: str, kid: str = "rsa-1") -> str:
    return jwt.encode(claims(), key, algorithm=algorithm, headers={"kid": kid})


HOSTILE_BEARERS = [
    ("a latin-1 byte in an API key", "Bearer cg_caf\xe9"),
    ("a latin-1 byte in a JWT", "Bearer caf\xe9.e30.e30"),
    ("9 KB", "Bearer " + "a" * 9000),
    ("alg none", "Bearer " + jwt.encode(claims(), None, algorithm="none")),
    ("a header that is not JSON", "Bearer " + b64(b"not json") + ".e30.sig"),
    ("a header that is an array", "Bearer " + b64(b"[1]") + ".e30.sig"),
    ("a header without alg", "Bearer " + b64(b"{}") + ".e30.sig"),
    ("two segments", "Bearer eyJhbGciOiJIUzI1NiJ9.e30"),
    ("ES256 naming an RSA key", "Bearer " + signed(EC_KEY, "ES256")),
    ("RS256 with an unknown kid", "Bearer " + signed(RSA_KEY, "RS256", "nope")),
    ("no scheme", "cg_test_admin_key"),
    ("another scheme", "Basic dXNlcjpwYXNz"),
]


@pytest.fixture(scope="module")
async def jwks_url() -> AsyncIterator[str]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    keys = {"keys": [{**jwk, "kid": "rsa-1", "use": "sig"}]}

    async def jwks(request: Any) -> JSONResponse:
        return JSONResponse(keys)

    async with serve_app(Starlette(routes=[Route("/jwks", jwks)])) as base_url:
        yield base_url + "/jwks"


@pytest.fixture
async def gateway(db: Services, jwks_url: str) -> AsyncIterator[Served]:
    jwt_settings = {"jwt_jwks_url": jwks_url, "jwt_audience": AUDIENCE}
    async with served(db, jwt_issuer=ISSUER, **jwt_settings) as running:
        yield running


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    leaked = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not leaked, [r.getMessage() for r in leaked]


async def test_a_jwt_signed_by_the_identity_provider_is_accepted(
    gateway: Served,
) -> None:
    bearer = "Bearer " + signed(RSA_KEY, "RS256")
    for name, send in API.items():
        answer = await send(gateway, {"query": "{ __typename }"}, bearer)
        assert answer.codes == [], (name, answer)


@pytest.mark.parametrize(("case", "authorization"), HOSTILE_BEARERS)
async def test_hostile_credentials_are_401_on_every_transport_without_a_traceback(
    gateway: Served,
    caplog: pytest.LogCaptureFixture,
    case: str,
    authorization: str,
) -> None:
    caplog.set_level(logging.INFO)
    raw = authorization.encode("latin-1")
    for name, send in API.items():
        auth: Any = authorization if name == "WebSocket" else raw
        answer = await send(gateway, {"query": "{ __typename }"}, auth)
        if name == "WebSocket":
            assert answer.closed == 4403, (case, answer)
        else:
            assert answer.status == 401, (case, name, answer)
            assert answer.codes == ["UNAUTHENTICATED"], (case, name)
    no_traceback(caplog)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "caf\xe9.sig",
        "x" * 1500,
        b64(b'{"c": 1, "s": null, "e": 9e99}') + ".s",
    ],
)
async def test_hostile_embed_tokens_are_401_on_both_embed_transports(
    gateway: Served, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    for name, send in EMBED.items():
        answer = await send(gateway, {"query": "{ __typename }"}, token)
        if name == "embed WebSocket":
            assert answer.closed == 4403, answer
        else:
            assert answer.status == 401, answer
            assert answer.codes == ["UNAUTHENTICATED"]
    no_traceback(caplog)


async def test_an_unreachable_jwks_is_401_with_one_log_line(
    db: Services, caplog: pytest.LogCaptureFixture
) -> None:
    bearer = "Bearer " + signed(RSA_KEY, "RS256")
    settings = {"jwt_jwks_url": "http://127.0.0.1:9/jwks", "jwt_audience": AUDIENCE}
    async with served(db, **settings) as running:
        answer = await API["HTTP POST"](running, {"query": "{ __typename }"}, bearer)
    assert answer.status == 401
    no_traceback(caplog)


def client(app: Any, address: str, headers: dict[str, str]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers)


async def statuses(http: httpx.AsyncClient, count: int) -> list[int]:
    query = {"query": "{ __typename }"}
    return [(await http.post("/graphql", json=query)).status_code for _ in range(count)]


async def test_failed_logins_are_throttled_per_client_address(db: Services) -> None:
    settings = db.settings.model_copy(
        update={"auth_failures_per_minute": 6, "auth_failures_burst": 3}
    )
    bad = {"Authorization": "Bearer cg_guess"}
    async with open_services(settings) as services:
        app = create_app(services=services)
        async with (
            client(app, "203.0.113.9", bad) as guesser,
            client(app, "203.0.113.9", ADMIN) as neighbour,
            client(app, "198.51.100.7", ADMIN) as elsewhere,
        ):
            assert await statuses(guesser, 4) == [401, 401, 401, 429]
            refused = await guesser.post("/graphql", json={"query": "{ __typename }"})
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            # The address is throttled, whatever the credentials: so is an
            # export from it, and a valid key from it (see docs/security.md).
            export = await guesser.get("/segments/any/export")
            assert export.status_code == 429
            assert await statuses(neighbour, 1) == [429]
            assert await statuses(elsewhere, 1) == [200]


async def test_failed_ingest_write_keys_are_throttled_like_failed_logins(
    db: Services,
) -> None:
    """Guessing write keys on ``/v1/*`` (as the Basic user or ``writeKey`` in
    the body) takes from the same bucket per address as a guessed API key."""
    settings = db.settings.model_copy(
        update={
            "auth_failures_per_minute": 6,
            "auth_failures_burst": 3,
            "ingest_write_key": SecretStr("wk_throttle_test_0123456789abcdef"),
        }
    )
    event = {"userId": "u-1", "event": "Clicked"}
    async with open_services(settings) as services:
        app = create_app(services=services)
        async with (
            client(app, "203.0.113.9", {}) as guesser,
            client(app, "198.51.100.7", {}) as elsewhere,
        ):
            seen = [
                (await guesser.post("/v1/track", json=event, auth=(f"wk_{n}", "")))
                for n in range(2)
            ]
            seen.append(
                await guesser.post("/v1/track", json={**event, "writeKey": "wk_x"})
            )
            seen.append(await guesser.post("/v1/track", json=event, auth=("wk_3", "")))
            assert [r.status_code for r in seen] == [401, 401, 401, 429]
            assert seen[-1].json()["code"] == "rate_limited"
            assert int(seen[-1].headers["retry-after"]) >= 1
            # one bucket per address: GraphQL from it is refused too
            assert await statuses(guesser, 1) == [429]
            valid = await elsewhere.post(
                "/v1/track", json=event, auth=("wk_throttle_test_0123456789abcdef", "")
            )
            assert valid.status_code == 200, valid.text


async def test_the_failed_login_throttle_is_shared_through_redis(
    db: Services, redis_url: str, cache_prefix: str
) -> None:
    settings = db.settings.model_copy(
        update={
            "auth_failures_per_minute": 6,
            "auth_failures_burst": 2,
            "redis_url": redis_url,
            "cache_prefix": cache_prefix,
        }
    )
    bad = {"Authorization": "Bearer cg_guess"}
    async with open_services(settings) as first, open_services(settings) as second:
        seen = []
        for services in (first, second, first):
            async with client(
                create_app(services=services), "203.0.113.9", bad
            ) as http:
                seen += await statuses(http, 1)
    assert seen == [401, 401, 429]


async def test_each_embed_token_has_its_own_rate_limit(db: Services) -> None:
    from gateway.auth.embed_tokens import create_token

    settings = db.settings.model_copy(
        update={"embed_rate_limit_per_minute": 1, "embed_rate_limit_burst": 2}
    )
    async with open_services(settings) as services:
        secret = services.settings.secret_key.get_secret_value()
        app = create_app(services=services)
        codes = {}
        for name in ("first", "second"):
            token, _ = create_token(secret, 1, 600, sources=[name])
            async with client(
                app, "192.0.2.1", {"Authorization": f"Embed {token}"}
            ) as http:
                codes[name] = [
                    (
                        await http.post(
                            "/embed/graphql", json={"query": "{ __typename }"}
                        )
                    ).status_code
                    for _ in range(3)
                ]
    assert codes == {"first": [200, 200, 429], "second": [200, 200, 429]}


async def test_an_api_key_that_was_revoked_is_refused_within_key_memory(
    db: Services,
) -> None:
    """The socket watcher's reads are no older than they may be."""
    from gateway.auth.keys import revoke_key

    key, _ = await create_key(db.sessions, "memory", Role.SUPPORT)
    header = f"Bearer {key}"
    assert await db.auth.authenticate(header) is not None
    await revoke_key(db.sessions, "memory")
    assert await db.auth.authenticate(header) is not None  # remembered ≤ 10 s
    assert await db.auth.authenticate(header, max_age=0) is None
