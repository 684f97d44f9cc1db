"""The GraphiQL page, served by the gateway itself so that it works offline.

Strawberry's own page loads GraphiQL and React from a public CDN and is blank
without internet. This one loads only same-origin files: GraphiQL 3.8.3 and
React 18.3.1, which the build fetches from npm into ``gateway/static/vendor/``
(``hatch_build.py`` at the repository root), and ``gateway/static/graphiql.js``,
which mounts GraphiQL. The app routes a browser's GET on ``/graphql`` to
:func:`graphiql_page` and adds :func:`static_routes`::

    routes = [*static_routes(), Route("/graphql", ...)]
    ...
    return graphiql_page(default_headers={"Authorization": f"Bearer {key}"})

The vendored file names carry their package version (``manifest.json`` in the
vendor folder lists them), so they are served with an immutable cache header.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from string import Template

from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
MANIFEST = "manifest.json"
ASSET_ROLES = ("react", "react-dom", "graphiql", "graphiql-css")

DEFAULT_QUERY = """\
# Welcome to Customer Graph.
# Run a query with Ctrl-Enter or the play button,
# complete fields with Ctrl-Space, read the schema
# in the Docs panel on the left.

query FirstCustomers {
  customers(first: 10) {
    edges {
      cursor
      node {
        id
        email
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
"""

_PAGE = Template("""\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>$title</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="$css">
    <style>
      body { margin: 0; }
      #graphiql { height: 100vh; }
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script id="graphiql-config" type="application/json">$config</script>
    <script src="$react"></script>
    <script src="$react_dom"></script>
    <script src="$graphiql"></script>
    <script src="/static/graphiql.js"></script>
  </body>
</html>
""")

_MISSING = Template("""\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>$title: GraphiQL is not built</title>
  </head>
  <body style="font-family: sans-serif; max-width: 42rem; margin: 3rem auto">
    <h1>GraphiQL is not built</h1>
    <p>The gateway serves GraphiQL and React from
    <code>gateway/static/vendor/</code>, which the package build fetches from
    npm, and they are missing from this installation.</p>
    <p>In a checkout, with Node.js and npm installed, run
    <code>python hatch_build.py</code> at the repository root (or reinstall
    with <code>pip install -e .</code>), then reload this page.
    Installed from a wheel, rebuild the wheel where npm is available.</p>
    <p>The GraphQL endpoint itself works: POST queries to
    <code>$endpoint</code>.</p>
  </body>
</html>
""")


def graphiql_page(
    *,
    endpoint: str = "/graphql",
    default_headers: Mapping[str, str] | None = None,
    title: str = "Customer Graph",
) -> HTMLResponse:
    """Render the GraphiQL page, or a page saying how to build its assets.

    Args:
        endpoint: where queries go, absolute or relative to the page; the
            WebSocket URL for subscriptions is the same with ``ws(s):``.
        default_headers: pre-filled in the (then open) headers editor, e.g.
            the demo's ``{"Authorization": "Bearer cg_..."}``. GraphiQL keeps
            what the user edits there in local storage.
        title: the browser tab's title.
    """
    assets = vendored_assets()
    if assets is None:
        missing = _MISSING.substitute(
            title=html.escape(title), endpoint=html.escape(endpoint)
        )
        return HTMLResponse(missing, status_code=503)
    config = {
        "endpoint": endpoint,
        "query": DEFAULT_QUERY,
        "headers": json.dumps(dict(default_headers), indent=2)
        if default_headers
        else None,
        "editorToolsVisibility": "headers" if default_headers else False,
    }
    page = _PAGE.substitute(
        title=html.escape(title),
        config=_json_for_script(config),
        css=html.escape(f"/static/vendor/{assets['graphiql-css']}"),
        react=html.escape(f"/static/vendor/{assets['react']}"),
        react_dom=html.escape(f"/static/vendor/{assets['react-dom']}"),
        graphiql=html.escape(f"/static/vendor/{assets['graphiql']}"),
    )
    return HTMLResponse(page)


def vendored_assets() -> dict[str, str] | None:
    """Role → file name in the vendor folder, or None if any file is missing.

    Read on every call (a small file, and a developer page): assets built
    while the server runs show up on the next reload.
    """
    try:
        manifest = json.loads((VENDOR_DIR / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    assets = {role: manifest.get(role) for role in ASSET_ROLES}
    names = {role: name for role, name in assets.items() if isinstance(name, str)}
    if len(names) != len(ASSET_ROLES):
        return None
    if not all((VENDOR_DIR / name).is_file() for name in names.values()):
        return None
    return names


def _json_for_script(value: object) -> str:
    """JSON that cannot end the ``<script>`` element it is written into.

    ``<``, ``>`` and ``&`` become ``\\u`` escapes, which JSON.parse reads
    back unchanged, so a header value like ``</script><script>…`` stays data.
    """
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _StaticFiles(StaticFiles):
    """Static files with cache headers: the vendored files never change under
    their versioned names, everything else is revalidated by its ETag."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        path = PurePosixPath(self.get_path(scope))
        versioned = path.parts[:1] == ("vendor",) and path.name != MANIFEST
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "no-cache"
        )
        return response


def static_routes() -> list[BaseRoute]:
    """The ``/static`` mount serving the vendored assets and the page's script."""
    return [Mount("/static", app=_StaticFiles(directory=STATIC_DIR), name="static")]
