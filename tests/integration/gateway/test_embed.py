"""``/embed``: tokens issued by ``createEmbedToken`` open one customer's
timeline (page, GraphQL) and nothing else; bad, expired or foreign ones do not."""

from __future__ import annotations

import time

import httpx
import pytest
from strawberry.relay import to_base64

from gateway.auth.embed_tokens import create_token
from gateway.changes.bus import CustomerChange
from gateway.db import models
from tests.integration.gateway.conftest import Gateway

ISSUE = """mutation($c: ID!, $s: [TimelineSource!]) {
  createEmbedToken(customerId: $c, ttlSeconds: 120, sources: $s) { token url } }"""
TIMELINE = """query($c: ID!) { timeline(customerId: $c, first: 50) {
  edges { node { source kind } } } }"""
CUSTOMER, OTHER = to_base64("Customer", 3), to_base64("Customer", 4)


async def issue(gateway: Gateway, sources: list[str] | None = None) -> dict:
    body = await gateway.gql(ISSUE, {"c": CUSTOMER, "s": sources})
    assert "errors" not in body, body
    issued: dict = body["data"]["createEmbedToken"]
    return issued


async def embed_query(
    http: httpx.AsyncClient, token: str, customer: str
) -> httpx.Response:
    return await http.post(
        "/embed/graphql",
        json={"query": TIMELINE, "variables": {"c": customer}},
        headers={"Authorization": f"Embed {token}"},
    )


async def test_the_page_opens_with_a_token_and_refuses_bad_or_foreign_ones(
    gateway: Gateway,
):
    issued = await issue(gateway)
    http = gateway.http
    page = await http.get(issued["url"], headers={"Authorization": ""})
    assert page.status_code == 200
    assert "<customer-timeline" in page.text
    assert CUSTOMER in page.text
    script = await http.get("/embed/customer-timeline.js")
    assert "customElements.define" in script.text
    secret = gateway.services.settings.secret_key.get_secret_value()
    expired, _ = create_token(secret, 3, 60, now=time.time() - 120)
    for token in (expired, issued["token"][:-3] + "abc", ""):
        refused = await http.get(f"/embed/timeline?token={token}")
        assert refused.status_code == 401
        assert CUSTOMER not in refused.text
    foreign = await http.get(f"{issued['url']}&customer={OTHER}")
    assert foreign.status_code == 403


async def test_the_embed_endpoint_serves_only_the_tokens_customer(gateway: Gateway):
    token = (await issue(gateway))["token"]
    http = gateway.http
    own = await embed_query(http, token, CUSTOMER)
    assert own.status_code == 200
    assert own.json()["data"]["timeline"]["edges"]
    foreign = await embed_query(http, token, OTHER)
    assert foreign.status_code == 403
    assert foreign.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await embed_query(http, "", CUSTOMER)).status_code == 401
    other_field = await http.post(
        "/embed/graphql",
        json={"query": '{ customer(id: "x") { email } }'},
        headers={"Authorization": f"Embed {token}"},
    )
    assert "Cannot query field 'customer'" in other_field.text


@pytest.mark.parametrize(
    ("authorization", "challenge", "message"),
    [
        (None, "Embed", "Send the embed token: Authorization: Embed <token>."),
        ("Bearer x", "Embed", "Send the embed token: Authorization: Embed <token>."),
        ("Embed", 'Embed error="invalid_request"', "Send the embed token"),
        (
            "Embed nope",
            'Embed error="invalid_token"',
            "Invalid or expired embed token.",
        ),
        ("expired", 'Embed error="invalid_token"', "Invalid or expired embed token."),
    ],
)
async def test_a_refused_embed_token_is_told_apart_from_a_missing_one(
    gateway: Gateway, authorization: str | None, challenge: str, message: str
) -> None:
    """RFC 6750 § 3.1's answers, as ``/graphql`` gives them: an expired or
    altered token is not accepted (``invalid_token``), not missing."""
    if authorization == "expired":
        secret = gateway.services.settings.secret_key.get_secret_value()
        token, _ = create_token(secret, 3, 60, now=time.time() - 120)
        authorization = f"Embed {token}"
    response = await gateway.http.post(
        "/embed/graphql",
        json={"query": TIMELINE, "variables": {"c": CUSTOMER}},
        headers={"Authorization": authorization or ""},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"].startswith(message)


async def test_a_token_for_some_sources_shows_only_those(gateway: Gateway):
    await gateway.gql(
        'mutation($c: ID!) { addNote(customerId: $c, body: "hi") { id } }',
        {"c": CUSTOMER},
    )
    token = (await issue(gateway, ["CRM"]))["token"]
    response = await embed_query(gateway.http, token, CUSTOMER)
    edges = response.json()["data"]["timeline"]["edges"]
    assert {e["node"]["source"] for e in edges} == {"CRM"}


async def test_an_embed_token_needs_an_existing_customer_and_a_sane_ttl(
    gateway: Gateway,
):
    missing = await gateway.gql(ISSUE, {"c": to_base64("Customer", 999_999)})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    too_long = await gateway.gql(
        "mutation($c: ID!) { createEmbedToken(customerId: $c, ttlSeconds: 0) "
        "{ token } }",
        {"c": CUSTOMER},
    )
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_embed_endpoint_answers_a_cross_origin_preflight(gateway: Gateway):
    """The <script> drop-in calls the endpoint from the host tool's origin."""
    preflight = await gateway.http.options(
        "/embed/graphql",
        headers={
            "Origin": "https://helpdesk.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    token = (await issue(gateway))["token"]
    answer = await gateway.http.post(
        "/embed/graphql",
        json={"query": "{ timeline(first: 1) { edges { cursor } } }"},
        headers={
            "Authorization": f"Embed {token}",
            "Origin": "https://helpdesk.example",
        },
    )
    assert answer.headers["access-control-allow-origin"] == "*"


ORIGIN = {"Origin": "https://helpdesk.example"}
REFUSED_CROSS_ORIGIN = {
    # what the drop-in script may be answered besides data, each readable by it
    "no token": ({}, b"{}", 401),
    "a bad token": ({"Authorization": "Embed nope"}, b"{}", 401),
    "two tokens": (
        {"Authorization": ["Embed a", "Embed b"]},
        b"{}",
        400,
    ),
    "a body over the limit": ({}, b" " * 1_000_001, 413),
    "not JSON": ({"Authorization": "Embed nope"}, b"{", 400),
}


@pytest.mark.parametrize("case", REFUSED_CROSS_ORIGIN, ids=str)
async def test_the_embed_endpoints_refusals_are_readable_cross_origin(
    gateway: Gateway, case: str
):
    """A refusal without CORS headers reaches the host tool's script as a
    bare network error: those made outside the endpoint (two credentials:
    ``OneAuthorization``) carry them too."""
    headers, body, status = REFUSED_CROSS_ORIGIN[case]
    sent = [
        (name, value)
        for name, values in headers.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    answer = await gateway.http.post(
        "/embed/graphql",
        content=body,
        headers=[*ORIGIN.items(), ("Content-Type", "application/json"), *sent],
    )
    assert answer.status_code == status
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_only_the_embed_endpoint_answers_cross_origin(gateway: Gateway):
    """``/graphql`` is not called from other origins: no CORS headers, for
    an answer or a refusal."""
    for body, key in ((b"{}", "k"), (b" " * 1_000_001, "k")):
        answer = await gateway.http.post(
            "/graphql",
            content=body,
            headers={
                **ORIGIN,
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
            },
        )
        assert answer.status_code in (400, 401, 413)
        assert "access-control-allow-origin" not in answer.headers


PREFLIGHT = {
    **ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_behind_a_path_prefix_the_endpoint_still_answers_cross_origin(
    gateway: Gateway,
):
    """uvicorn's ``--root-path``: the prefix is in the path the app sees, and
    the router takes it off; so does the CORS layer."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway.app, root_path="/cg"),
        base_url="http://gateway",
    ) as prefixed:
        preflight = await prefixed.options("/cg/embed/graphql", headers=PREFLIGHT)
        refused = await prefixed.post("/cg/embed/graphql", json={}, headers=ORIGIN)
        main = await prefixed.post("/cg/graphql", json={}, headers=ORIGIN)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in main.headers


async def test_a_draining_worker_closes_the_connection_of_a_preflight_too(
    gateway: Gateway,
):
    drain = gateway.app.state.drain  # type: ignore[attr-defined]
    drain.active = True
    try:
        preflight = await gateway.http.options("/embed/graphql", headers=PREFLIGHT)
    finally:
        drain.active = False
    assert preflight.status_code == 200
    assert preflight.headers["connection"] == "close"


async def test_a_token_dies_with_its_customer_even_when_the_id_is_reused(
    gateway: Gateway,
):
    """SQLite gives an erased customer's id to the next one created: the
    token is tied to its customer's creation, so it reads nobody else's."""
    token = (await issue(gateway))["token"]
    assert "errors" not in (await embed_query(gateway.http, token, CUSTOMER)).json()
    async with gateway.services.sessions() as session, session.begin():
        erased = await session.get(models.Customer, 3)
        assert erased is not None
        await session.delete(erased)
    changes = gateway.services.changes  # as the erasure and a creation announce
    await changes.publish(CustomerChange(3, "crm", "customer_erased"))
    gone = (await embed_query(gateway.http, token, CUSTOMER)).json()
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    async with gateway.services.sessions() as session, session.begin():
        session.add(models.Customer(id=3, email="someone.else@example.com"))
    await changes.publish(CustomerChange(3, "crm", "customer_created"))
    reused = (await embed_query(gateway.http, token, CUSTOMER)).json()
    assert reused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert reused.get("data") is None
