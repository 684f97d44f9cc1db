"""Embed tokens: signed, expiring, scoped to one customer and some sources."""

from __future__ import annotations

import pytest

from gateway.auth.embed_tokens import (
    EmbedTokenError,
    create_token,
    embed_scope,
    token_from_header,
)

SECRET = "s3cret"


def test_a_token_grants_its_customer_and_sources_until_it_expires():
    token, expires = create_token(SECRET, 42, 60, ["crm", "shopify"], now=1000)
    scope = embed_scope(SECRET, token, now=1059)
    assert scope.customer_id == 42
    assert scope.sources == {"crm", "shopify"}
    assert scope.allows(42)
    assert not scope.allows(43)
    assert expires == scope.expires_at
    with pytest.raises(EmbedTokenError, match="expired"):
        embed_scope(SECRET, token, now=1060)


def test_a_token_without_sources_grants_every_source():
    token, _ = create_token(SECRET, 7, 60)
    assert embed_scope(SECRET, token).sources is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "eyJjIjogOTl9" + t[t.index(".") :],
        lambda t: t.replace(".", ""),
        lambda t: "",
    ],
)
def test_a_forged_or_malformed_token_is_refused(mangle):
    token, _ = create_token(SECRET, 42, 60)
    with pytest.raises(EmbedTokenError):
        embed_scope(SECRET, mangle(token))


def test_a_token_signed_with_another_key_is_refused():
    token, _ = create_token("other", 42, 60)
    with pytest.raises(EmbedTokenError, match="signature"):
        embed_scope(SECRET, token)


def test_the_ttl_is_bounded():
    with pytest.raises(ValueError, match="ttl"):
        create_token(SECRET, 1, 0)
    with pytest.raises(ValueError, match="ttl"):
        create_token(SECRET, 1, 8 * 24 * 3600)


def test_the_header_scheme_is_embed():
    assert token_from_header("Embed abc.def") == "abc.def"
    assert token_from_header("embed  abc.def ") == "abc.def"
    assert token_from_header("Bearer abc.def") is None
    assert token_from_header(None) is None


def _signed(body: bytes) -> str:
    """A token with any payload, signed with the right key: what a leaked or
    mistyped secret, or a bug in another minting tool, could produce."""
    from gateway.auth.embed_tokens import _b64, _sign

    payload = _b64(body)
    return f"{payload}.{_sign(SECRET, payload)}"


@pytest.mark.parametrize(
    "body",
    [
        b'{"c": 1, "s": null, "e": 1e30}',
        b'{"c": 1, "s": null, "e": 10000000000000000000000000000000}',
        b'{"c": 1, "s": null, "e": -1e30}',
        b'{"c": 9223372036854775808, "s": null, "e": 4102444800}',
        b'{"c": -1, "s": null, "e": 4102444800}',
        b'{"c": 1, "s": 5, "e": 4102444800}',
        b'{"c": 1, "s": {"crm": 1}, "e": 4102444800}',
        b'{"c": true, "s": null, "e": 4102444800}',
        b"[1, null, 4102444800]",
        b'{"c": "1", "s": null, "e": "4102444800"}',
    ],
)
def test_a_signed_token_with_impossible_claims_is_refused_not_an_error(body):
    with pytest.raises(EmbedTokenError):
        embed_scope(SECRET, _signed(body))
