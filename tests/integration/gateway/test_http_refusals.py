"""A path no route serves, or a method its route does not take, is answered in
JSON in the shape of the surface's other refusals (``gateway.http.refusals``),
not in Starlette's text, and nothing runs: every surface, every method."""

from __future__ import annotations

import httpx
import pytest

from gateway.runtime.services import Services
from tests.conftest import row_counts

pytestmark = pytest.mark.storage_independent


def graphql_code(body: dict[str, object]) -> object:
    [error] = body["errors"]  # type: ignore[misc]
    return error["extensions"]["code"]


def segment_code(body: dict[str, object]) -> object:
    assert body["success"] is False
    return body["code"]


def plain_code(body: dict[str, object]) -> object:
    assert isinstance(body["error"], str)
    return body["code"]


# (path, methods it does not take, the methods its 405 allows, how a code is read)
SURFACES = [
    ("/graphql", ["PUT", "DELETE", "PATCH"], {"GET", "POST"}, graphql_code),
    ("/embed/graphql", ["PUT", "DELETE"], {"GET", "POST", "OPTIONS"}, graphql_code),
    ("/v1/track", ["GET", "PUT", "DELETE"], {"POST"}, segment_code),
    ("/v1/batch", ["GET", "PATCH"], {"POST"}, segment_code),
    ("/webhooks/shopify", ["GET", "PUT"], {"POST"}, plain_code),
]
CASES = [
    pytest.param(path, method, allowed, read, id=f"{method} {path}")
    for path, methods, allowed, read in SURFACES
    for method in methods
]


@pytest.mark.parametrize(("path", "method", "allowed", "read"), CASES)
async def test_a_method_a_path_does_not_take_is_a_json_405_naming_those_it_does(
    client: httpx.AsyncClient,
    db: Services,
    path: str,
    method: str,
    allowed: set[str],
    read: object,
) -> None:
    before = await row_counts(db)
    response = await client.request(
        method,
        path,
        content=b'{"query": "mutation { createCustomer(input: {email: \\"m@b.co\\"}) { id } }"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/json"
    assert read(response.json()) == "METHOD_NOT_ALLOWED"  # type: ignore[operator]
    assert set(response.headers["allow"].split(", ")) - {"HEAD"} == allowed
    assert await row_counts(db) == before


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize("path", ["/graphql", "/embed/graphql"])
async def test_head_or_a_plain_options_on_a_graphql_endpoint_is_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """Neither endpoint answers HEAD, and neither lists it as allowed (Starlette
    adds HEAD to a GET route); a plain OPTIONS on the embed endpoint is
    Strawberry's 405, with Allow too (a CORS preflight is answered before)."""
    response = await client.request(method, path)
    assert response.status_code == 405
    allowed = set(response.headers["allow"].split(", "))
    assert {"GET", "POST"} <= allowed
    assert "HEAD" not in allowed


@pytest.mark.parametrize(
    ("path", "read"),
    [
        ("/nothing-here", plain_code),
        ("/graphql/extra", plain_code),
        ("/graphql/", plain_code),
        ("/embed/graphql/", graphql_code),
        ("/v1/track/", segment_code),
        ("/v1/unknown-call", segment_code),
        ("/v1", segment_code),
        ("/%2e%2e/etc/passwd", plain_code),
        ("/webhooks/freshdesk", plain_code),
        ("/webhooks/", plain_code),
    ],
)
async def test_an_unknown_path_is_a_json_404(
    client: httpx.AsyncClient, path: str, read: object
) -> None:
    """A trailing slash too: not a redirect built from the Host header."""
    response = await client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/json"
    assert read(response.json()) == "NOT_FOUND"  # type: ignore[operator]
    assert "passwd" not in response.text  # the path is not echoed
    assert "location" not in response.headers


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
async def test_an_unknown_webhook_source_is_404_whatever_the_method(
    client: httpx.AsyncClient, method: str
) -> None:
    """A route per source: ``GET /webhooks/freshdesk`` was a 405 (the route
    took any source) while its ``POST`` was a 404."""
    response = await client.request(method, "/webhooks/freshdesk", content=b"{}")
    assert response.status_code == 404, response.text
    assert plain_code(response.json()) == "NOT_FOUND"
