"""``python -m bench.soak --minutes 60 --factor 30``: a help desk's traffic
for a simulated span against the vendors' real limits, time-compressed.

The gateway as users run it (uvicorn, ``bench/server.py``) on PostgreSQL and
Redis; the three simulators in this process with the limits of Shopify's
Standard plan, an Enterprise Zendesk account (its search index a minute
behind) and PostHog's throttles, on a clock ``factor`` times faster than the
wall's, the gateway's budgets and durations compressed alike
(``bench/soak_setup.py``). PostHog's history is backfilled into the event
mirror first, as a deployment does once. Then, for ``minutes`` simulated
minutes (``minutes × 60 / factor`` real seconds): ``agents`` agents open
Customer 360 views, webhooks arrive, ``subscriptions`` live timelines are held
open (``bench/soak_traffic.py``), and ``/metrics`` is read every
``sample_every`` simulated seconds for the worker's RSS and asyncio tasks.
What the simulators received is counted at the simulators
(``bench/soak_ledger.py``); the report and its checks are
``bench/soak_report.py``. ``tests/e2e/test_soak.py`` runs a simulated hour.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from bench.database import bench_database, seed_world
from bench.runner import GATEWAY_DEFAULTS, evict
from bench.server import Gateway, gateway_server
from bench.soak_ledger import Ledger
from bench.soak_report import Sample, SoakReport, concerns, problems, render
from bench.soak_setup import (
    backfill_mirror,
    compressed,
    soak_upstreams,
    stale_bounds,
)
from bench.soak_traffic import Answers, Picker, agent, customer_id
from bench.soak_webhooks import Delivered, Rates, Webhooks
from bench.subscriber import subscribed
from connectors.demo_world import World
from connectors.simulator_clock import ScaledClock
from gateway.demo.simulation import Simulators
from gateway.settings import Settings

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
METRIC = re.compile(r"^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", re.MULTILINE)
CONNECTOR = re.compile(r'connector="([a-z]+)"')
REASON = re.compile(r'reason="([a-z]+)"')
KEEPALIVE = 2.0


@dataclass(frozen=True, slots=True)
class SoakOptions:
    minutes: float = 60.0
    """Simulated minutes of traffic."""
    factor: float = 30.0
    """Simulated seconds per real second."""
    agents: int = 20
    think: float = 120.0
    """Simulated seconds an agent spends between views, on average."""
    customers: int = 300
    working_set: int = 40
    """Customers most views are of."""
    cold_share: float = 0.2
    """Of the views, those of anyone (most of them never viewed before)."""
    subscriptions: int = 2
    latency_ms: float = 50.0
    workers: int = 1
    sample_every: float = 120.0
    """Simulated seconds between two reads of ``/metrics``."""
    rates: Rates = field(default_factory=Rates)
    database_url: str = POSTGRES
    redis_url: str = "redis://127.0.0.1:6379/0"


async def run_soak(options: SoakOptions, say: Callable[[str], None]) -> SoakReport:
    world = World(seed=42, size=options.customers)
    clock = ScaledClock(options.factor)
    ledger = Ledger(clock)
    key = f"cg_soak_{secrets.token_hex(12)}"
    prefix = f"cg-soak-{uuid.uuid4().hex[:12]}"
    redis = Redis.from_url(options.redis_url)
    try:
        async with (
            bench_database(options.database_url) as database_url,
            soak_upstreams(world, clock, ledger, options.latency_ms / 1000) as sims,
        ):
            say(f"seeding {options.customers} customers")
            await seed_world(database_url, world)
            base = Settings(
                database_url=database_url,
                redis_url=options.redis_url,
                cache_prefix=prefix,
                demo_api_key=SecretStr(key),
            )
            settings = sims.settings(compressed(base, options.factor))
            say(f"backfilled {await backfill_mirror(settings, world)} events")
            report = SoakReport(
                settings=_described(options),
                answers=Answers(),
                delivered=Delivered(),
                ledger=ledger,
                bounds=stale_bounds(settings),
            )
            logs = Path(tempfile.mkdtemp(prefix="cg-soak-"))
            say(f"gateway log in {logs}")
            async with gateway_server(
                settings,
                workers=options.workers,
                defaults=GATEWAY_DEFAULTS,
                log=logs / "gateway.log",
            ) as gateway:
                await gateway.ready()
                picker = Picker(world, options.working_set, options.cold_share)
                started, cpu = time.perf_counter(), time.process_time()
                await _traffic(
                    options, report, gateway, key, clock, (sims, world, picker)
                )
                report.seconds = time.perf_counter() - started
                report.harness_cpu = time.process_time() - cpu
    finally:
        await evict(redis, prefix)
        await redis.aclose()
    return report


async def _traffic(
    options: SoakOptions,
    report: SoakReport,
    gateway: Gateway,
    key: str,
    clock: ScaledClock,
    world: tuple[Simulators, World, Picker],
) -> None:
    """The simulated span: agents, webhooks, subscriptions and the samples."""
    sims, demo_world, picker = world
    start = clock()
    end = start + options.minutes * 60
    async with (
        _client(gateway, {"Authorization": f"Bearer {key}"}) as http,
        _client(gateway, {}) as senders,
        AsyncExitStack() as stack,
    ):
        webhooks = Webhooks(senders, sims, picker, demo_world)
        report.delivered = webhooks.delivered
        live = [
            await stack.enter_async_context(
                subscribed(gateway, key, customer_id(customer))
            )
            for customer in picker.watched[: options.subscriptions]
        ]
        await asyncio.gather(
            *(
                agent(http, clock, end, picker, options.think, report.answers)
                for _ in range(options.agents)
            ),
            webhooks.run(clock, end, options.rates),
            _monitor(http, clock, start, end, options.sample_every, report),
        )
        report.samples.append(await _sample(http, clock, start, report))
        report.live_events = [len(s.summaries) for s in live]
        report.watched_webhooks = [
            webhooks.delivered.about[customer]
            for customer in picker.watched[: len(live)]
        ]


def _client(gateway: Gateway, headers: dict[str, str]) -> httpx.AsyncClient:
    """Idle connections are dropped after ``KEEPALIVE`` s, before uvicorn
    closes them (5 s): a request sent on one it is closing fails on the wire
    (``ReadError``), which a browser would retry and the soak would count."""
    return httpx.AsyncClient(
        base_url=gateway.url,
        headers=headers,
        timeout=60,
        limits=httpx.Limits(max_connections=100, keepalive_expiry=KEEPALIVE),
    )


async def _monitor(
    http: httpx.AsyncClient,
    clock: ScaledClock,
    start: float,
    end: float,
    every: float,
    report: SoakReport,
) -> None:
    while True:
        report.samples.append(await _sample(http, clock, start, report))
        if clock() + every >= end:
            return
        await asyncio.sleep(clock.real(every))


async def _sample(
    http: httpx.AsyncClient, clock: ScaledClock, start: float, report: SoakReport
) -> Sample:
    """The worker's RSS and tasks from ``/metrics``; the guard's refusals too."""
    text = (await http.get("/metrics")).text
    values: dict[str, float] = {}
    refused: dict[str, float] = defaultdict(float)
    for name, labels, value in METRIC.findall(text):
        values[name] = float(value)
        if name == "customer_graph_upstream_refused_total" and (
            found := CONNECTOR.search(labels)
        ):
            reason = REASON.search(labels)
            refused[found.group(1)] += float(value)
            refused[f"{found.group(1)} {reason.group(1) if reason else ''}"] += float(
                value
            )
    report.guard_refused = dict(refused)
    return Sample(
        minute=(clock() - start) / 60,
        rss=values["process_resident_memory_bytes"],
        tasks=values["customer_graph_asyncio_tasks"],
        cpu=values["process_cpu_seconds_total"],
    )


def _described(options: SoakOptions) -> dict[str, object]:
    described: dict[str, object] = {
        "simulated minutes": options.minutes,
        "factor (simulated s per real s)": options.factor,
        "agents": options.agents,
        "think time between views (simulated s, mean)": options.think,
        "customers (working set, cold share)": f"{options.customers} "
        f"({options.working_set}, {options.cold_share:.0%})",
        "webhooks per simulated hour": ", ".join(
            f"{k.replace('_', ' ')} {v:g}" for k, v in asdict(options.rates).items()
        ),
        "live subscriptions": options.subscriptions,
        "upstream latency": f"{options.latency_ms:g} ms",
        "gateway workers": options.workers,
    }
    return described


def parse(argv: Sequence[str] | None) -> SoakOptions:
    default = SoakOptions()
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=default.minutes)
    parser.add_argument("--factor", type=float, default=default.factor)
    parser.add_argument("--agents", type=int, default=default.agents)
    parser.add_argument("--think", type=float, default=default.think)
    parser.add_argument("--customers", type=int, default=default.customers)
    parser.add_argument("--workers", type=int, default=default.workers)
    parser.add_argument("--latency-ms", type=float, default=default.latency_ms)
    parser.add_argument("--database-url", default=default.database_url)
    parser.add_argument("--redis-url", default=default.redis_url)
    args = parser.parse_args(argv)
    return SoakOptions(
        minutes=args.minutes,
        factor=args.factor,
        agents=args.agents,
        think=args.think,
        customers=args.customers,
        workers=args.workers,
        latency_ms=args.latency_ms,
        database_url=args.database_url,
        redis_url=args.redis_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    report = asyncio.run(run_soak(options, lambda line: print(line, file=sys.stderr)))
    print(render(report))
    failed = problems(report)
    for concern in concerns(report):
        print(f"concern: {concern}", file=sys.stderr)
    for problem in failed:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
