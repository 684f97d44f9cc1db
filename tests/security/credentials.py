"""Credentials, good and bad: a JWT issuer with a JWKS endpoint, and the table of
bad credentials each surface must refuse (401, a WebSocket close in the 44xx
range, or the surface's own refusal) without a 500 and without data.

A row says what the bad credential looks like on each kind of surface: as the
``Authorization`` header of ``/graphql``, ``/segments/…/export`` and a
WebSocket's ``connection_init``; as the token of ``/embed/graphql`` (header
``Embed <token>`` or ``?token=``); as the ingest's Basic write key; as a
webhook's signature header.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.simulator_server import serve_app
from gateway.auth.policy import Role

if TYPE_CHECKING:
    from tests.security.conftest import Stage

JWT_SECRET = "sec-suite-hs256-secret-0123456789abcdef"
JWT_AUDIENCE = "customer-graph"
JWT_ISSUER = "https://id.sec-suite.example"
RSA_KID = "sec-suite-rsa-1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def claims(**override: Any) -> dict[str, Any]:
    base = {
        "sub": "sec-suite-user",
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
        "exp": int(time.time()) + 600,
        "roles": ["admin"],
    }
    return {**base, **override}


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    """A JWT assembled by hand, so its header can lie."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(payload).encode())
    return f"{head}.{body}.{signature}"


@dataclass
class Issuer:
    """An identity provider of our own: an RSA key served as a JWKS."""

    key: rsa.RSAPrivateKey
    jwks_url: str

    def rs256(self, **override: Any) -> str:
        return jwt.encode(
            claims(**override), self.key, algorithm="RS256", headers={"kid": RSA_KID}
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def serving(cls) -> AsyncIterator[Issuer]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": RSA_KID, "use": "sig", "alg": "RS256"})

        async def jwks(request: Request) -> JSONResponse:
            return JSONResponse({"keys": [jwk]})

        app = Starlette(routes=[Route("/jwks.json", jwks)])
        async with serve_app(app) as base_url:
            yield cls(key=key, jwks_url=f"{base_url}/jwks.json")


def hs256(secret: str = JWT_SECRET, **override: Any) -> str:
    return jwt.encode(claims(**override), secret, algorithm="HS256")


Value = Callable[["Stage"], "str | bytes | None"]


@dataclass(frozen=True)
class BadCredential:
    name: str
    bearer: Value
    """The ``Authorization`` header of the API surfaces (``None``: not sent)."""
    embed: Value
    """The embed token (``None``: not sent)."""
    basic: Value
    """The ingest's ``Authorization`` header."""
    signature: Value
    """A webhook's signature header."""


def _same(value: str | bytes | None) -> Value:
    return lambda stage: value


def _basic(user: str | bytes) -> str | bytes:
    raw = user.encode("latin-1") if isinstance(user, str) else user
    encoded = base64.b64encode(raw + b":").decode()
    return f"Basic {encoded}"


HUGE = "A" * 20_000
NON_ASCII = b"Bearer cg_\xff\xfe-not-ascii"
ALG_NONE = unsigned({"alg": "none", "typ": "JWT"}, claims(), "")
WRONG_SECRET = hs256("not-the-secret-of-this-gateway-0123456789")
ES256_WITH_RSA_KID = unsigned(
    {"alg": "ES256", "typ": "JWT", "kid": RSA_KID}, claims(), _b64(b"\x01" * 64)
)
EXPIRED_JWT = hs256(exp=int(time.time()) - 3600)

JWT_SUB_NUL = hs256(sub="sec\x00user")
JWT_SUB_LONG = hs256(sub="s" * 500)
"""Under the 8 KB header limit, past the 200-character columns ``jwt:<sub>``
is stored in."""
JWT_EXP_FLOAT = hs256(exp=1e30)
JWT_EXP_INT = hs256(exp=10**30)


def signed_embed(claims: dict[str, Any]) -> Value:
    """An embed token with any claims, signed with the stage's secret: the
    signature proves who minted it, not that its claims are sane."""

    def make(stage: Stage) -> str:
        from gateway.auth.embed_tokens import _b64, _sign

        secret = stage.services.settings.secret_key.get_secret_value()
        payload = _b64(json.dumps(claims).encode())
        return f"{payload}.{_sign(secret, payload)}"

    return make


FAR = 4102444800
"""2100-01-01: a current token's expiry."""

BAD_CREDENTIALS: list[BadCredential] = [
    BadCredential("none", _same(None), _same(None), _same(None), _same(None)),
    BadCredential(
        "malformed",
        _same("Bearer cg_!!not-a-key"),
        _same("not.a-token"),
        _same("Basic !!!not-base64"),
        _same("!!!not-base64"),
    ),
    BadCredential(
        "non_ascii_byte",
        _same(NON_ASCII),
        _same(b"\xff\xfe.\xff"),
        _same(b"Basic \xff\xfe"),
        _same(b"\xff\xfe=="),
    ),
    BadCredential(
        "huge",
        _same(f"Bearer cg_{HUGE}"),
        _same(f"{HUGE}.{HUGE}"),
        _same(_basic(HUGE)),
        _same(HUGE),
    ),
    BadCredential(
        "wrong_scheme",
        lambda stage: _basic(stage.raw_key(Role.ADMIN)),
        lambda stage: stage.raw_key(Role.ADMIN),
        _same("Bearer wk_security_suite"),
        _same("sha256=" + "0" * 64),
    ),
    BadCredential(
        "jwt_alg_none",
        _same(f"Bearer {ALG_NONE}"),
        _same(ALG_NONE),
        _same(f"Bearer {ALG_NONE}"),
        _same(ALG_NONE),
    ),
    BadCredential(
        "jwt_hs256_wrong_secret",
        _same(f"Bearer {WRONG_SECRET}"),
        _same(WRONG_SECRET),
        _same(f"Bearer {WRONG_SECRET}"),
        _same(WRONG_SECRET),
    ),
    BadCredential(
        "jwt_es256_header_rsa_kid",
        _same(f"Bearer {ES256_WITH_RSA_KID}"),
        _same(ES256_WITH_RSA_KID),
        _same(f"Bearer {ES256_WITH_RSA_KID}"),
        _same(ES256_WITH_RSA_KID),
    ),
    BadCredential(
        "jwt_expired",
        _same(f"Bearer {EXPIRED_JWT}"),
        _same(EXPIRED_JWT),
        _same(f"Bearer {EXPIRED_JWT}"),
        _same(EXPIRED_JWT),
    ),
    BadCredential(
        "jwt_sub_with_nul_embed_id_past_bigint",
        _same(f"Bearer {JWT_SUB_NUL}"),
        signed_embed({"c": 2**63, "s": None, "e": FAR}),
        _same(_basic(JWT_SUB_NUL)),
        _same(JWT_SUB_NUL),
    ),
    BadCredential(
        "jwt_sub_of_500_chars_embed_sources_not_a_list",
        _same(f"Bearer {JWT_SUB_LONG}"),
        signed_embed({"c": 1, "s": 5, "e": FAR}),
        _same(_basic(JWT_SUB_LONG)),
        _same(JWT_SUB_LONG),
    ),
    BadCredential(
        "jwt_exp_1e30",
        _same(f"Bearer {JWT_EXP_FLOAT}"),
        signed_embed({"c": 1, "s": None, "e": 1e30}),
        _same(_basic(JWT_EXP_FLOAT)),
        _same(JWT_EXP_FLOAT),
    ),
    BadCredential(
        "jwt_exp_10_to_the_30",
        _same(f"Bearer {JWT_EXP_INT}"),
        signed_embed({"c": 1, "s": None, "e": 10**30}),
        _same(_basic(JWT_EXP_INT)),
        _same(JWT_EXP_INT),
    ),
    BadCredential(
        "revoked_api_key",
        lambda stage: stage.revoked_key,
        lambda stage: stage.revoked_key.removeprefix("Bearer "),
        lambda stage: _basic(stage.revoked_key.removeprefix("Bearer ")),
        lambda stage: stage.revoked_key.removeprefix("Bearer "),
    ),
    BadCredential(
        "expired_api_key",
        lambda stage: stage.expired_key,
        lambda stage: stage.expired_key.removeprefix("Bearer "),
        lambda stage: _basic(stage.expired_key.removeprefix("Bearer ")),
        lambda stage: stage.expired_key.removeprefix("Bearer "),
    ),
    BadCredential(
        "expired_embed_token",
        lambda stage: f"Embed {stage.expired_embed_token}",
        lambda stage: stage.expired_embed_token,
        lambda stage: _basic(stage.expired_embed_token),
        lambda stage: stage.expired_embed_token,
    ),
    BadCredential(
        "embed_token_of_another_customer",
        lambda stage: f"Embed {stage.foreign_embed_token}",
        lambda stage: stage.foreign_embed_token,
        lambda stage: _basic(stage.foreign_embed_token),
        lambda stage: stage.foreign_embed_token,
    ),
    BadCredential(
        "valid_embed_token_as_bearer",
        lambda stage: f"Bearer {stage.embed_token}",
        lambda stage: None,
        lambda stage: f"Bearer {stage.embed_token}",
        lambda stage: stage.embed_token,
    ),
]
