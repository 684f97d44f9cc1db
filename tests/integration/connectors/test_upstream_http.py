"""``UpstreamHTTP`` on real sockets: where a connector's credentials may go
(a path under the base URL, a whole URL on its origin, never a redirect or
another host), a page link followed as the answer spelled it, and what a
refused connection is."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import certifi
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors.errors import UpstreamBadResponse, UpstreamUnavailable
from connectors.retry import RetryPolicy
from connectors.simulator_server import serve_app
from connectors.upstream_http import UpstreamHTTP, tls_roots

SECRET = "Bearer upstream-secret"
ONCE = RetryPolicy(attempts=1)
Heard = list[tuple[str, str, str | None]]
Servers = tuple[str, str, Heard, Heard]


@asynccontextmanager
async def client(base_url: str) -> AsyncIterator[UpstreamHTTP]:
    """A connector's client of ``base_url``, its credential sent, one attempt."""
    http = UpstreamHTTP("test", base_url, headers={"Authorization": SECRET}, retry=ONCE)
    try:
        yield http
    finally:
        await http.aclose()


def recording_app(heard: Heard, elsewhere: str) -> Starlette:
    """Answers JSON at ``/json``, redirects ``/moved`` to ``elsewhere``;
    records each request's path, raw query and ``Authorization``."""

    async def answer(request: Request) -> Response:
        heard.append(
            (
                request.url.path,
                request.scope["query_string"].decode(),
                request.headers.get("authorization"),
            )
        )
        if request.url.path == "/moved":
            return RedirectResponse(f"{elsewhere}/json", status_code=302)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    """Ours (the connector's base URL), which redirects ``/moved`` to the
    other, and another host; what each heard."""
    ours: Heard = []
    theirs: Heard = []
    async with (
        serve_app(recording_app(theirs, "http://unused")) as other,
        serve_app(recording_app(ours, other)) as base_url,
    ):
        yield base_url, other, ours, theirs


async def test_a_path_goes_under_the_base_url_with_the_credentials(
    servers: Servers,
) -> None:
    base_url, _, ours, _ = servers
    async with client(base_url + "/") as http:
        assert await http.get_json("/json", params={"query": "a b", "n": 2}) == {
            "ok": True
        }
        assert await http.post_json("/json", {"x": 1}) == {"ok": True}
    assert [(path, auth) for path, _, auth in ours] == [
        ("/json", SECRET),
        ("/json", SECRET),
    ]
    assert "query=a" in ours[0][1]
    assert "n=2" in ours[0][1]


async def test_a_link_on_the_same_origin_is_followed_as_spelled(
    servers: Servers,
) -> None:
    """Zendesk's next pages escape their brackets; the link goes as given."""
    base_url, _, ours, _ = servers
    async with client(base_url) as http:
        await http.get_json(f"{base_url}/json?page%5Bafter%5D=xyz&page%5Bsize%5D=2")
    assert ours == [("/json", "page%5Bafter%5D=xyz&page%5Bsize%5D=2", SECRET)]


@pytest.mark.parametrize(
    "link",
    [
        "{other}/json",  # another host
        "//evil.example/json",  # scheme-relative
        "json",  # relative, not a path
        "http://[::1",  # not a URL
        "{userinfo}/json",  # our origin, credentials of its own
        "{base_https}/json",  # same host, another scheme
    ],
)
async def test_a_link_elsewhere_is_refused_before_anything_is_sent(
    servers: Servers, link: str
) -> None:
    base_url, other, ours, theirs = servers
    link = link.format(
        other=other,
        base_https=base_url.replace("http:", "https:"),
        userinfo=base_url.replace("http://", "http://user:pw@"),
    )
    async with client(base_url) as http:
        with pytest.raises(UpstreamBadResponse):
            await http.get_json(link)
    assert (ours, theirs) == ([], [])


async def test_a_link_is_escaped_where_it_must_be_and_its_origin_read_loosely(
    servers: Servers,
) -> None:
    """Escapes kept, a raw space or accent escaped, the scheme in capitals."""
    base_url, _, ours, _ = servers
    async with client(base_url) as http:
        await http.get_json(base_url.replace("http:", "HTTP:") + "/json?q=José a")
    assert ours == [("/json", "q=Jos%C3%A9+a", SECRET)]


async def test_a_closed_client_sends_nothing_more(servers: Servers) -> None:
    base_url, _, ours, _ = servers
    http = UpstreamHTTP("test", base_url)
    await http.get_json("/json")
    await http.aclose()
    with pytest.raises(RuntimeError):
        await http.get_json("/json")
    await http.aclose()  # again: nothing to do
    assert len(ours) == 1


def test_certificates_are_read_where_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``SSL_CERT_FILE`` (a private CA's), else certifi's roots."""
    assert tls_roots().cert_store_stats()["x509_ca"] > 100
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        tls_roots()
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert tls_roots().cert_store_stats()["x509_ca"] > 100


async def test_a_redirect_is_not_followed(servers: Servers) -> None:
    """The other host never hears the credentials; a 302 is no JSON answer."""
    base_url, _, ours, theirs = servers
    async with client(base_url) as http:
        with pytest.raises(UpstreamBadResponse):
            await http.get_json("/moved")
    assert [path for path, _, _ in ours] == ["/moved"]
    assert theirs == []


async def test_a_refused_connection_is_unavailable() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(UpstreamUnavailable) as refused:
            await http.get_json("/json")
    assert refused.value.retriable
