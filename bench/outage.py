"""``python -m bench.outage``: a Redis outage under a help desk's load.

The gateway as users run it (uvicorn worker processes, ``bench/server.py``)
over a Redis server of the run's own (``bench/redis_server.py``), the three
simulators in this process, and an open-loop load: ``rate`` Customer 360 views
a second of ``viewed`` customers picked at random, as agents open them. Each
phase lasts ``phase`` seconds:

1. *no cache* — a gateway without Redis and with ``CG_CACHE_ENABLED=false``:
   what a view costs from the upstreams, the reference;
2. *before* — the cached gateway over Redis, warm;
3. *hung* — Redis stopped (SIGSTOP): connections open, nothing answers;
4. *back* — Redis resumed (SIGCONT), its data intact;
5. *refused* — Redis killed: connections refused;
6. *restarted* — a new, empty Redis on the same port.

During each of phases 3–6 ``events`` tags are added (mutations sent to either
worker) to a customer of that phase's own, outside the viewed ones, whose
``customerTimeline`` subscription (graphql-transport-ws, ``bench/subscriber.py``)
is held from phase 2 to the end; at the end each subscriber counts the events
it received, after waiting up to ``EVENT_WAIT`` for late ones (a change
accepted by the other worker during an outage reaches it once Redis is back).
A customer per phase, because the live timeline reads a source again on each
change: a later phase's tag would reveal an earlier phase's lost event.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from pydantic import SecretStr
from strawberry.relay import GlobalID

from bench.database import bench_database, seed_world
from bench.load import Request, Timings, open_loop
from bench.queries import CUSTOMER_360
from bench.redis_server import RedisServer, own_redis
from bench.runner import CONNECTORS, GATEWAY_DEFAULTS
from bench.server import Gateway, gateway_server
from bench.subscriber import subscribed, tag_customer
from connectors.demo_world import World
from gateway.demo.simulation import GENEROUS, Simulators, simulated_upstreams
from gateway.settings import Settings

EVENT_WAIT = 15.0
"""Seconds each phase's subscriber waits, at the end, for the events of its phase."""


@dataclass(frozen=True, slots=True)
class OutageOptions:
    customers: int = 100
    """Customers of the demo world."""
    viewed: int = 30
    """Customers the load views (1 … ``viewed``)."""
    rate: float = 20.0
    workers: int = 2
    phase: float = 20.0
    latency_ms: float = 50.0
    events: int = 5
    database_url: str | None = None
    read_deadline: float | None = None
    """``CG_READ_DEADLINE_SECONDS`` of both gateways; ``None``: the default."""


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    timings: Timings
    calls: dict[str, int]
    """Upstream requests during the phase, per connector."""
    tags: tuple[str, ...] = ()
    """Tags added to the phase's watched customer: one live event each."""
    events_received: int = 0


@dataclass(slots=True)
class OutageReport:
    options: OutageOptions
    phases: list[Phase] = field(default_factory=list)

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)


async def run_outage(
    options: OutageOptions, say: Callable[[str], None]
) -> OutageReport:
    world = World(seed=42, size=options.customers)
    report = OutageReport(options)
    key = f"cg_bench_{secrets.token_hex(12)}"
    picker = random.Random(7)
    ids = [str(GlobalID("Customer", str(i))) for i in range(1, options.viewed + 1)]

    def view() -> Request:
        return Request(CUSTOMER_360.document, {"id": picker.choice(ids)})

    async with (
        bench_database(options.database_url) as database_url,
        simulated_upstreams(
            world,
            latency=options.latency_ms / 1000,
            posthog_queries_per_hour=GENEROUS,  # unmirrored: the live path
        ) as simulators,
    ):
        await seed_world(database_url, world)
        base = Settings(database_url=database_url, demo_api_key=SecretStr(key))
        if options.read_deadline is not None:
            base = base.model_copy(
                update={"read_deadline_seconds": options.read_deadline}
            )
        logs = Path(tempfile.mkdtemp(prefix="cg-outage-"))
        say(f"gateway logs in {logs}")

        def serve(settings: Settings, log: str) -> AbstractAsyncContextManager[Gateway]:
            return gateway_server(
                simulators.settings(settings),
                workers=options.workers,
                defaults=GATEWAY_DEFAULTS,
                log=logs / log,
            )

        say("the reference: no cache, no Redis")
        async with serve(
            base.model_copy(update={"cache_enabled": False}), "no-cache.log"
        ) as gateway:
            await gateway.ready()
            async with _client(gateway, key) as http:
                await open_loop(http, view, options.rate, 2.0)  # links everyone
                report.phases.append(
                    await _measure("no cache", http, view, options, simulators)
                )
        with own_redis() as redis:
            cached = base.model_copy(update={"redis_url": redis.url})
            async with serve(cached, "cached.log") as gateway:
                await gateway.ready()
                async with _client(gateway, key) as http:
                    await _run_phases(
                        report, redis, gateway, key, http, view, simulators, say
                    )
    return report


async def _run_phases(
    report: OutageReport,
    redis: RedisServer,
    gateway: Gateway,
    key: str,
    http: httpx.AsyncClient,
    view: Callable[[], Request],
    simulators: Simulators,
    say: Callable[[str], None],
) -> None:
    options = report.options
    steps: list[tuple[str, Callable[[], None]]] = [
        ("hung", redis.pause),
        ("back", redis.resume),
        ("refused", redis.kill),
        ("restarted", redis.start),
    ]
    watched = {
        name: str(GlobalID("Customer", str(options.viewed + n)))
        for n, (name, _) in enumerate(steps, start=1)
    }
    async with AsyncExitStack() as stack:
        live = {
            name: await stack.enter_async_context(subscribed(gateway, key, customer))
            for name, customer in watched.items()
        }
        await open_loop(http, view, options.rate, max(options.phase / 2, 2.0))  # warm
        say("before")
        report.phases.append(await _measure("before", http, view, options, simulators))
        outages = []
        for name, act in steps:
            say(name)
            act()
            tags = tuple(f"{name}-{n}" for n in range(options.events))
            outages.append(
                await _measure(
                    name, http, view, options, simulators, tags=(watched[name], tags)
                )
            )
        for phase in outages:
            received = await live[phase.name].received(phase.tags, EVENT_WAIT)
            report.phases.append(replace(phase, events_received=received))


async def _measure(
    name: str,
    http: httpx.AsyncClient,
    view: Callable[[], Request],
    options: OutageOptions,
    simulators: Simulators,
    *,
    tags: tuple[str, tuple[str, ...]] | None = None,
) -> Phase:
    """One phase of load; the tags, if any, sent one by one across it (a
    failed mutation counts as a failed request)."""
    simulators.reset_counts()

    async def tagging() -> int:
        failed = 0
        if tags is not None:
            customer, names = tags
            for tag in names:
                failed += not await tag_customer(http, customer, tag)
                await asyncio.sleep(options.phase / (len(names) + 1))
        return failed

    views, failed = await asyncio.gather(
        open_loop(http, view, options.rate, options.phase), tagging()
    )
    timings = Timings(views.latencies, views.errors + failed, views.elapsed)
    return Phase(name, timings, simulators.total_requests(), tags[1] if tags else ())


@asynccontextmanager
async def _client(gateway: Gateway, key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
    ) as http:
        yield http


def render(report: OutageReport) -> str:
    """The phases as a Markdown table."""
    rows = [
        "| phase | requests | errors | p50 ms | p99 ms | max ms | "
        + " | ".join(c.capitalize() for c in CONNECTORS)
        + " | live events |",
        "| --- | ---: | ---: | ---: | ---: | ---: | "
        + " | ".join("---:" for _ in CONNECTORS)
        + " | ---: |",
    ]
    for phase in report.phases:
        t = phase.timings
        events = f"{phase.events_received}/{len(phase.tags)}" if phase.tags else ""
        rows.append(
            f"| {phase.name} | {t.count + t.errors} | {t.errors} "
            f"| {t.percentile_ms(50):.1f} | {t.percentile_ms(99):.1f} "
            f"| {max(t.latencies, default=0) * 1000:.0f} | "
            + " | ".join(str(phase.calls[c]) for c in CONNECTORS)
            + f" | {events} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    default = OutageOptions()
    parser = argparse.ArgumentParser(
        prog="python -m bench.outage", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--phase", type=float, default=default.phase)
    parser.add_argument("--rate", type=float, default=default.rate)
    parser.add_argument("--workers", type=int, default=default.workers)
    parser.add_argument("--viewed", type=int, default=default.viewed)
    parser.add_argument("--latency-ms", type=float, default=default.latency_ms)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    options = OutageOptions(
        phase=args.phase,
        rate=args.rate,
        workers=args.workers,
        viewed=args.viewed,
        latency_ms=args.latency_ms,
        database_url=args.database_url,
    )
    report = asyncio.run(run_outage(options, lambda line: print(line, file=sys.stderr)))
    print(render(report))
    return 1 if any(p.timings.errors for p in report.phases) else 0


if __name__ == "__main__":
    sys.exit(main())
