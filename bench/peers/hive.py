"""Peer (a): Hive Gateway serving a GraphQL Mesh supergraph of the three
simulators, installed from ``bench/peers/hive/package-lock.json``.

- ``install`` runs ``npm ci`` when ``node_modules`` is missing or older than
  the lock file (as ``tests/e2e/node.py`` does for ``tests/node``); nothing
  else is downloaded.
- ``compose`` runs ``mesh-compose`` with ``mesh.config.mjs``: Shopify's
  GraphQL (its SDL from the simulator's schema), Zendesk and PostHog through
  the OpenAPI documents beside it, joined with ``@resolveTo``. The upstreams'
  addresses in the supergraph are placeholders, so one composition serves
  every run (recomposed when an input changes); ``hive_server`` writes the
  run's addresses in.
- ``hive_server`` starts ``hive-gateway supergraph`` on a free port with
  ``--fork <workers>`` (Node's cluster), with or without its response cache.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from bench.server import Gateway, free_port, stop
from connectors.shopify.simulator import schema as shopify_schema
from gateway.demo.simulation import (
    POSTHOG_KEY,
    SHOPIFY_TOKEN,
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
)

HIVE_DIR = Path(__file__).resolve().parent / "hive"
INSTALLED = HIVE_DIR / "node_modules" / ".package-lock.json"
SUPERGRAPH = HIVE_DIR / ".supergraph.graphql"
"""The composition, with placeholder addresses (not committed)."""
PLACEHOLDERS = {
    "shopify": "http://shopify.peer.invalid",
    "zendesk": "http://zendesk.peer.invalid",
    "posthog": "http://posthog.peer.invalid",
}
INPUTS = (
    HIVE_DIR / "mesh.config.mjs",
    HIVE_DIR / "zendesk.openapi.json",
    HIVE_DIR / "posthog.openapi.json",
    HIVE_DIR / "package-lock.json",
    Path(shopify_schema.__file__),
)


class PeerUnavailable(RuntimeError):
    """The peer cannot run here (no Node.js, or its set-up failed)."""


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def install() -> None:
    """``npm ci`` unless the installed packages are newer than the lock file;
    one process at a time (test workers may get here together)."""
    if not node_available():
        raise PeerUnavailable("Hive Gateway needs Node.js and npm")
    lock = HIVE_DIR / "package-lock.json"
    with _locked():
        if INSTALLED.exists() and INSTALLED.stat().st_mtime >= lock.stat().st_mtime:
            return
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=HIVE_DIR,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            failure = done.stderr[-3000:]
            raise PeerUnavailable(f"npm ci in {HIVE_DIR} failed:\n{failure}")


def compose() -> str:
    """The supergraph's text, placeholders for addresses; composed again
    only when an input is newer than the stored composition."""
    install()
    with _locked():
        newest = max(path.stat().st_mtime for path in INPUTS)
        if SUPERGRAPH.exists() and SUPERGRAPH.stat().st_mtime >= newest:
            return SUPERGRAPH.read_text()
        sdl = HIVE_DIR / ".shopify.graphql"
        sdl.write_text(shopify_schema.SDL)
        env = {
            **os.environ,
            "PEER_SUPERGRAPH": str(SUPERGRAPH),
            "PEER_SHOPIFY_SDL": str(sdl),
            "PEER_SHOPIFY_URL": PLACEHOLDERS["shopify"],
            "PEER_SHOPIFY_TOKEN": SHOPIFY_TOKEN,
            "PEER_ZENDESK_URL": PLACEHOLDERS["zendesk"],
            "PEER_ZENDESK_EMAIL": ZENDESK_EMAIL,
            "PEER_ZENDESK_TOKEN": ZENDESK_TOKEN,
            "PEER_POSTHOG_URL": PLACEHOLDERS["posthog"],
            "PEER_POSTHOG_KEY": POSTHOG_KEY,
        }
        done = subprocess.run(
            ["node", "node_modules/@graphql-mesh/compose-cli/esm/bin.js"],
            cwd=HIVE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not SUPERGRAPH.exists():
            SUPERGRAPH.unlink(missing_ok=True)
            raise PeerUnavailable(f"mesh-compose failed:\n{done.stderr[-3000:]}")
        return SUPERGRAPH.read_text()


def supergraph_for(text: str, urls: Mapping[str, str]) -> str:
    """``text`` with the placeholders replaced by the simulators' addresses."""
    for source, placeholder in PLACEHOLDERS.items():
        text = text.replace(placeholder, urls[source].rstrip("/"))
    return text


@asynccontextmanager
async def hive_server(
    urls: Mapping[str, str], *, workers: int, cache: bool, log: Path
) -> AsyncIterator[Gateway]:
    """Hive Gateway over the simulators at ``urls`` until the block ends;
    yields at once (``Gateway.ready`` waits for ``/readiness``)."""
    text = await asyncio.to_thread(compose)
    supergraph = log.with_suffix(".supergraph.graphql")
    supergraph.write_text(supergraph_for(text, urls))
    port = free_port()
    command = [
        "node",
        "node_modules/@graphql-hive/gateway/dist/bin.js",
        "supergraph",
        str(supergraph),
        "--config-path",
        "gateway.config.mjs",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--fork",
        str(workers),
        "--disable-websockets",
    ]
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "NODE_OPTIONS": f"--require {HIVE_DIR / 'keepalive.cjs'}",
        "PEER_RESPONSE_CACHE": "1" if cache else "0",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=HIVE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop() can take its forks too
        )
    try:
        yield Gateway(f"http://127.0.0.1:{port}", process, ready_path="/readiness")
    finally:
        await asyncio.to_thread(stop, process)


class _locked:
    """An exclusive lock on ``bench/peers/hive/.lock`` for the block."""

    def __enter__(self) -> None:
        self._file = (HIVE_DIR / ".lock").open("w")
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
