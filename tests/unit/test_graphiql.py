"""The offline GraphiQL page: same-origin assets only, safe config, cache headers."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from importlib import resources

import httpx
from starlette.applications import Starlette

from gateway.http import graphiql
from gateway.http.graphiql import graphiql_page, static_routes


class _Page(HTMLParser):
    """Collects what a browser would fetch, and the JSON config."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.config: str | None = None
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v for k, v in values.items() if k in {"src", "href"} and v]
        self._in_config = values.get("id") == "graphiql-config"

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config = (self.config or "") + data


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def render(**kwargs: object) -> str:
    response = graphiql_page(**kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200
    return bytes(response.body).decode()


def test_page_loads_only_same_origin_assets():
    html = render()
    urls = parse(html).urls

    assert "http://" not in html
    assert "https://" not in html
    assert "//cdn" not in html
    vendored = [u for u in urls if u.startswith("/static/vendor/")]
    assert len(vendored) == 4, urls
    assert "/static/graphiql.js" in urls
    assert all(u.startswith("/static/") or u.startswith("data:") for u in urls)


def test_page_config_carries_endpoint_headers_and_default_query():
    html = render(
        endpoint="/api/graphql", default_headers={"Authorization": "Bearer cg_x"}
    )
    config = json.loads(parse(html).config or "")

    assert config["endpoint"] == "/api/graphql"
    assert json.loads(config["headers"]) == {"Authorization": "Bearer cg_x"}
    assert config["editorToolsVisibility"] == "headers"
    assert "customers(first: 10)" in config["query"]


def test_page_without_default_headers_keeps_the_editor_tools_closed():
    config = json.loads(parse(render()).config or "")

    assert config["headers"] is None
    assert config["editorToolsVisibility"] is False


def test_a_header_value_cannot_close_the_script_element():
    hostile = "Bearer </script><script>alert(1)</script><!-- & \u2028"
    html = render(default_headers={"Authorization": hostile}, title="<b>T</b>")
    page = parse(html)

    assert "</script><script>alert" not in html
    assert "<!--" not in html
    assert "<b>T</b>" not in html
    assert "&lt;b&gt;T&lt;/b&gt;" in html
    config = json.loads(page.config or "")
    assert json.loads(config["headers"]) == {"Authorization": hostile}


def test_missing_assets_give_a_page_that_says_how_to_build_them(monkeypatch, tmp_path):
    monkeypatch.setattr(graphiql, "VENDOR_DIR", tmp_path / "vendor")

    response = graphiql_page()
    html = bytes(response.body).decode()

    assert response.status_code == 503
    assert "python hatch_build.py" in html
    assert "pip install -e ." in html
    assert "<script" not in html


def test_assets_are_in_the_installed_package():
    vendor = resources.files("gateway") / "static" / "vendor"
    manifest = json.loads((vendor / "manifest.json").read_text(encoding="utf-8"))

    assert set(manifest) == {"react", "react-dom", "graphiql", "graphiql-css"}
    for name in manifest.values():
        assert (vendor / name).read_bytes(), name
    assert b"createFetcher" in (vendor / manifest["graphiql"]).read_bytes()


async def test_vendored_files_are_cached_for_good_and_the_script_revalidated():
    assets = graphiql.vendored_assets()
    assert assets is not None
    transport = httpx.ASGITransport(app=Starlette(routes=static_routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        vendored = await client.get(f"/static/vendor/{assets['react']}")
        script = await client.get("/static/graphiql.js")

    assert vendored.status_code == 200
    assert vendored.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in vendored.headers["content-type"]
    assert script.status_code == 200
    assert script.headers["cache-control"] == "no-cache"
    assert "GraphiQL.createFetcher" in script.text
