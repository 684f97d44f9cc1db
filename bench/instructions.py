"""``python -m bench.instructions``: machine instructions per executed customer
360 view, counted by valgrind's callgrind. Unlike CPU seconds, which vary by
±30 % between runs on a shared machine, the count is the same for the same
code and data whatever else the machine does (two runs of one code here: 0.6 %
apart), so it tells a change of a few per cent from noise
(docs/benchmarks.md, "Instructions per view").

Two shapes of the work, the gateway app in this process over ASGI:

- ``executed``: the upstreams' answers from the in-process cache, no response
  cache — a view that executes because its customer just changed;
- ``uncached``: no cache at all — three upstream calls per view, to the
  simulators served by processes of their own, which callgrind does not count;
- ``mirrored``: as ``uncached``, but PostHog's events in the local event
  mirror (``gateway.mirror``), as production reads them: two upstream calls
  per view, and the mirror's statements;
- ``held``: a warm view answered from the worker's memory (``gateway.cache.held``:
  one Redis round trip for the token and the versions, nothing executed), the
  app called over ASGI directly, so only the app's own work is counted (no
  client, no HTTP parsing: uvicorn's share of a hit is not in the figure).

Only the views are counted (instrumentation is switched on around them, after
a warm-up and the garbage collector settled as a server process settles it,
``gateway.app.settle_collector``), in every thread of the process (aiosqlite's
too). The client's own work is counted with them, kept small: the request
encoded once, the answer decoded by orjson. Needs valgrind (Debian's
package); a view runs ~50 times slower under it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import orjson
from pydantic import SecretStr
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Scope

from bench.database import bench_database, seed_world
from bench.queries import CUSTOMER_360
from bench.runner import evict
from bench.subject import richest_customer
from bench.upstreams import served_apart
from connectors.demo_world import World
from gateway.app import create_app, settle_collector
from gateway.demo.command import mirror_posthog
from gateway.demo.simulation import GENEROUS, Simulators, simulated_upstreams
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings
from gateway.sync.backfill import link_customers

MODES = ("executed", "uncached", "mirrored", "held")
KEY = "cg_bench_instructions_key"
REDIS = "redis://127.0.0.1:6379/0"
"""The Redis server of ``held``'s views (``--redis-url``), as the benchmark's."""
WARM_UP = 10
"""Views before the count: caches filled, plans and statements compiled."""


def totals(callgrind_out: str) -> int:
    """The instructions a callgrind output file counts (its ``totals:``)."""
    found = re.search(r"^totals:\s+(\d+)", callgrind_out, re.MULTILINE)
    if found is None:
        raise ValueError("not a callgrind output: no totals line")
    return int(found.group(1))


def _instrument(on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        check=True,
        capture_output=True,
    )


def _upstreams(mode: str, world: World) -> AbstractAsyncContextManager[Simulators]:
    if mode not in ("executed", "held"):
        return served_apart(world, latency=0.0, posthog_queries_per_hour=GENEROUS)
    return simulated_upstreams(world, posthog_queries_per_hour=GENEROUS)


async def views(
    mode: str,
    n: int,
    customers: int,
    *,
    counted: bool,
    database_url: str | None = None,
    redis_url: str = REDIS,
) -> None:
    """Warm up, then send ``n`` 360 views of the richest customer, counted by
    callgrind when ``counted`` (this process runs under it), on SQLite or on
    a fresh database of the PostgreSQL server ``database_url``; ``held``'s
    on the Redis server ``redis_url`` (its keys deleted after)."""
    world = World(seed=42, size=customers)
    held = mode == "held"
    # a held answer's versions are read from Redis (without Redis a worker
    # keeps no copies: its entries are in its own memory already)
    prefix = f"cg-instructions-{uuid.uuid4().hex[:12]}"
    async with (
        bench_database(database_url) as url,
        _upstreams(mode, world) as simulators,
    ):
        await seed_world(url, world)
        base = Settings(
            database_url=url,
            demo_api_key=SecretStr(KEY),
            cache_enabled=mode in ("executed", "held"),
            response_cache_ttl=3600 if held else 0,
            log_level="WARNING",
            rate_limit_per_minute=10**8,
            rate_limit_burst=10**8,
            # a view runs ~50 times slower under valgrind: the default 2 s
            # cut the in-process simulators' answers short now and then
            read_deadline_seconds=600.0,
            redis_url=redis_url if held else None,
            cache_prefix=prefix,
        )
        subject = richest_customer(world, simulators)
        request = orjson.dumps(
            {"query": CUSTOMER_360.document, "variables": {"id": subject.global_id}}
        )
        try:
            async with open_services(simulators.settings(base)) as services:
                if mode == "mirrored":
                    await _mirror(services)
                await _count(create_app(services=services), request, n, counted, held)
                if held and not (services.responses and len(services.responses.held)):
                    raise SystemExit("no answer was held: the views executed")
        finally:
            if held:  # the run's keys, not left in the server's Redis
                await _evict(redis_url, prefix)


async def _count(
    app: ASGIApp, request: bytes, n: int, counted: bool, held: bool
) -> None:
    """``n`` views of ``request`` after the warm-up, counted when ``counted``:
    through httpx, or, ``held``, as held hits over ASGI (``_HeldHit``)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gateway",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    ) as client:

        async def view() -> None:
            # orjson on the client's side: the stdlib's decoder of the
            # answer was ~2.5 % of what was counted, and none of it the
            # gateway's
            response = await client.post("/graphql", content=request)
            answer = orjson.loads(response.content)
            if answer.get("errors") or not answer.get("data"):
                raise SystemExit(f"the 360 view failed: {answer.get('errors')}")

        for _ in range(WARM_UP):
            await view()
        send: Callable[[], Awaitable[None]] = view
        if held:
            send = _HeldHit(app, request)
            for _ in range(WARM_UP):
                await send()
        settle_collector()  # as a server process does once serving
        if counted:
            _instrument(True)
        for _ in range(n):
            await send()
        if counted:
            _instrument(False)


async def _evict(url: str, prefix: str) -> None:
    redis = Redis.from_url(url)
    try:
        await evict(redis, prefix)
    finally:
        await redis.aclose()


class _HeldHit:
    """One POST of ``request`` to ``app`` over ASGI, as uvicorn hands it over
    on a keep-alive connection; raises unless the answer is a clean 200."""

    def __init__(self, app: ASGIApp, request: bytes) -> None:
        self.app = app
        self.request = request
        self.scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"gateway"),
                (b"authorization", f"Bearer {KEY}".encode()),
                (b"content-type", b"application/json"),
                (b"accept", b"application/json"),
                (b"content-length", str(len(request)).encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }

    async def __call__(self) -> None:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": self.request, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await self.app(dict(self.scope), receive, send)
        if sent[0].get("status") != 200 or not sent[-1]["body"].startswith(b'{"data"'):
            raise SystemExit("the held view failed")


async def _mirror(services: Services) -> None:
    """Every customer linked to their PostHog person, and PostHog's events in
    the mirror (``customer-graph sync posthog`` and ``mirror backfill``)."""
    posthog = services.upstreams.posthog
    assert posthog is not None
    await link_customers(services.sessions, posthog, full=True)
    await mirror_posthog(services)


def per_view(
    mode: str,
    n: int,
    customers: int,
    database_url: str | None = None,
    redis_url: str = REDIS,
) -> int:
    """Instructions per view of ``mode``: this module run again under
    callgrind, its output file read. PostgreSQL's own work is in its server's
    processes, not counted; SQLite's is in this one."""
    with tempfile.TemporaryDirectory(prefix="cg-instructions-") as directory:
        out = Path(directory) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.instructions",
            "--counted",
            mode,
            "--views",
            str(n),
            "--customers",
            str(customers),
            *(["--database-url", database_url] if database_url else []),
            "--redis-url",
            redis_url,
        ]
        subprocess.run(command, check=True, capture_output=True)
        return totals(out.read_text()) // n


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--customers", type=int, default=150)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server, as production runs (default: SQLite in a "
        "temporary directory); the run creates and drops a database on it",
    )
    parser.add_argument(
        "--redis-url",
        default=REDIS,
        help=f"the Redis server of the held views (default: {REDIS}); the "
        "run's keys are deleted after",
    )
    parser.add_argument("--counted", choices=MODES, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.views < 1 or options.customers < 10:
        parser.error("--views must be at least 1 and --customers at least 10")
    if options.database_url and not options.database_url.startswith("postgresql"):
        parser.error("--database-url must name a PostgreSQL server (postgresql://…)")
    if options.counted:  # the run under callgrind
        asyncio.run(
            views(
                options.counted,
                options.views,
                options.customers,
                counted=True,
                database_url=options.database_url,
                redis_url=options.redis_url,
            )
        )
        return 0
    missing = [t for t in ("valgrind", "callgrind_control") if not shutil.which(t)]
    if missing:
        print(f"needs {' and '.join(missing)} (Debian: valgrind)", file=sys.stderr)
        return 2
    modes = MODES if options.mode == "all" else (options.mode,)
    print("| view | views counted | instructions per view |")
    print("| --- | ---: | ---: |")
    for mode in modes:
        counted = per_view(
            mode,
            options.views,
            options.customers,
            options.database_url,
            options.redis_url,
        )
        digits = 3 if counted < 10**7 else 1  # a held hit: ~0.7 M
        print(f"| {mode} | {options.views} | {counted / 1e6:.{digits}f} M |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
