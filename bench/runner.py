"""One benchmark run: seed, simulate the upstreams, start the gateway in each
mode, measure every shape, return the figures.

Modes are separate gateway processes, because loaders and cache are switched by
``CG_*`` variables read at start-up:

- ``loaders + cache`` (Redis, a prefix of this run's own) is measured **cold** —
  every single request preceded by evicting the run's keys, and the load sent
  in waves with an eviction before each — and **warm** (primed, then a
  continuous load);
- ``loaders, no cache`` and ``no loaders, no cache`` are cold by construction
  and measured with the continuous load.

Upstream calls are read from the simulators' request counters, which live in
this process: exact, and per connector and endpoint.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from bench.cpu import cpu_during, settled
from bench.database import bench_database, seed_world
from bench.load import (
    Budget,
    Request,
    Timings,
    closed_loop,
    post,
    sequential,
    warm_up,
    waves,
)
from bench.machine import Machine, describe
from bench.queries import (
    CUSTOMER_360,
    CUSTOMER_PAGE,
    DEEP_PAGE,
    DEEP_PAGE_NUMBER,
    SHAPES,
    Shape,
)
from bench.server import Gateway, gateway_server
from bench.subject import Subject, richest_customer
from bench.upstreams import ServedApart, posthog_rest_lifted, served_apart
from connectors.demo_world import World
from gateway.demo.simulation import GENEROUS, Simulators
from gateway.settings import Settings

if TYPE_CHECKING:
    from bench.peers.rounds import Round  # it imports this module

CONNECTORS = ("shopify", "zendesk", "posthog")

GATEWAY_DEFAULTS = {
    "CG_LOG_LEVEL": "WARNING",
    "CG_RATE_LIMIT_PER_MINUTE": "100000000",
    "CG_RATE_LIMIT_BURST": "100000000",
}
"""The load generator is one caller standing in for many users: a per-caller
rate limit would measure the limiter, not the gateway (its per-request cost is
still paid). The benchmark's PostHog events are not mirrored, so its PostHog
reads take the live path it measures, within the simulator's lifted query
budget (``GENEROUS``), which the gateway's follows. Quiet logs: an access line
per request would cost more than some requests."""


@dataclass(frozen=True, slots=True)
class Options:
    customers: int = 500
    latency_ms: float = 50.0
    database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    workers: int = 2
    concurrency: int = 16
    samples: int = 60
    """Sequential requests per measurement (fewer once ``sample_budget`` passed).
    60, not 20 (until 2026-12-07): a cold view's latencies fall in groups a
    few milliseconds apart, and the cold 360 p50 of 20 read 63.4–70.4 ms in
    four runs of one code, around its 65 ms target (docs/benchmarks.md)."""
    sample_budget: float = 10.0
    requests: int = 20_000
    """Requests per load measurement, at most… (3,000 until 2026-12-05: a
    warm load of ours then lasted ~0.5 s, with or without a second's audit
    write in it; now a warm load lasts seconds, ours and the peers')"""
    duration: float = 6.0
    """…and seconds per load measurement, at most."""
    warm_up: float = 3.0
    """Seconds of continuous load per shape on each server before its first
    measurement (``bench.load.warm_up``)."""
    world_seed: int = 42
    rounds: int = 4
    """Alternated rounds of each target against a peer, after the peers'
    own measurements (``bench/peers/rounds.py``); 0: none."""
    peers: str = "all"
    """Which peers to measure too (``bench/peers/run.py``): ``all`` (Hive
    only where Node.js is installed), ``none``, ``plain`` or ``hive``."""


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    loaders: bool
    cache: bool

    @property
    def slug(self) -> str:
        return "-".join(self.name.replace(",", "").replace("+", "and").split())


MODES = (
    Mode("loaders + cache", loaders=True, cache=True),
    Mode("loaders, no cache", loaders=True, cache=False),
    Mode("no loaders, no cache", loaders=False, cache=False),
)


@dataclass(frozen=True, slots=True)
class Calls:
    """Upstream calls per query: per connector, and per connector endpoint."""

    connectors: dict[str, float]
    endpoints: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.connectors.values())


@dataclass(frozen=True, slots=True)
class Measurement:
    shape: Shape
    mode: Mode
    state: str
    """``cold``, ``warm``, ``uncached``, or ``warm, list changed`` (a page of
    customers after a change to another customer: the stored page is stale,
    its customers' fragments are not)."""
    single: Timings
    load: Timings
    load_kind: str
    calls: Calls
    load_cpu: float = math.nan
    """CPU seconds the server's processes spent during ``load``."""

    @property
    def cpu_ms_per_request(self) -> float:
        sent = self.load.count + self.load.errors
        return self.load_cpu / sent * 1000 if sent else math.nan


@dataclass(slots=True)
class Report:
    options: Options
    machine: Machine
    database: str
    redis: str
    subject: Subject
    page_orders: int
    """Orders of the 50 customers of the page shape (the page shows 5 each)."""
    first_requests: dict[str, tuple[float, Calls]] = field(default_factory=dict)
    """Per shape: seconds and calls of the first request ever (identity linking)."""
    measurements: list[Measurement] = field(default_factory=list)
    seconds: float = 0.0
    logs: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    """Where the gateways' output went, one file per mode."""
    peers: list[Measurement] = field(default_factory=list)
    """The peers' figures (``bench/peers``), a ``Mode`` named after each."""
    peers_skipped: dict[str, str] = field(default_factory=dict)
    """Peers that were asked for but could not run, and why."""
    rounds: list[Round] = field(default_factory=list)
    """The targets against a peer measured again, in alternated rounds
    (``bench/peers/rounds.py``)."""


class CallMeter:
    """Counts the simulators' requests between ``reset`` and ``take``."""

    def __init__(self, simulators: Simulators) -> None:
        self.simulators = simulators

    def reset(self) -> None:
        self.simulators.reset_counts()

    def take(self) -> tuple[dict[str, int], dict[str, int]]:
        return self.simulators.request_counts()


def per_query(samples: list[tuple[dict[str, int], dict[str, int]]], n: int) -> Calls:
    connectors = {c: sum(s[0].get(c, 0) for s in samples) / n for c in CONNECTORS}
    names = sorted({k for s in samples for k in s[1]})
    endpoints = {k: sum(s[1].get(k, 0) for s in samples) / n for k in names}
    return Calls(connectors, endpoints)


async def evict(redis: Redis, prefix: str) -> None:
    """Delete every key of this run's prefix: the cache is cold again. The
    gateway stores a request's misses after its response, each under its
    key's lock (released as the value lands: ``gateway.cache.writes``); the
    keys are deleted once no lock is left, so no store of the request before
    lands after the deletion."""
    settled = time.monotonic() + 3.0  # past any lock's life
    while time.monotonic() < settled and [
        k async for k in redis.scan_iter(match=f"{prefix}:*:lock", count=1000)
    ]:
        await asyncio.sleep(0.005)
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await redis.unlink(*keys[start : start + 1000])


async def run(options: Options, say: Callable[[str], None]) -> Report:
    started = time.perf_counter()
    world = World(seed=options.world_seed, size=options.customers)
    redis = Redis.from_url(options.redis_url)
    prefix = f"cg-bench-{uuid.uuid4().hex[:12]}"
    try:
        redis_version = str((await redis.info("server"))["redis_version"])
        async with (
            bench_database(options.database_url) as database_url,
            # the benchmark measures the gateway, not PostHog's hourly query
            # budget; each simulator in a process of its own (bench/upstreams.py)
            served_apart(
                world,
                latency=options.latency_ms / 1000,
                posthog_queries_per_hour=GENEROUS,
            ) as simulators,
        ):
            say(f"seeding {options.customers} customers")
            await seed_world(database_url, world)
            report = Report(
                options=options,
                machine=describe(),
                database=database_url.split(":", 1)[0],
                redis=f"Redis {redis_version}",
                subject=richest_customer(world, simulators),
                page_orders=0,
                logs=Path(tempfile.mkdtemp(prefix=f"{prefix}-logs-")),
            )
            ours = OurGateway(options, report, database_url, simulators, prefix)
            requests = await _run_modes(options, report, ours, simulators, redis, say)
            await _run_peers(options, report, simulators, say)
            await measure_rounds(options, report, ours, requests, simulators, say)
    finally:
        await evict(redis, prefix)
        await redis.aclose()
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True, slots=True)
class OurGateway:
    """Our gateway in a mode, served as the run serves every mode."""

    options: Options
    report: Report
    database_url: str
    simulators: Simulators
    prefix: str
    api_key: str = field(default_factory=lambda: f"cg_bench_{secrets.token_hex(16)}")

    @asynccontextmanager
    async def __call__(
        self, mode: Mode, log_suffix: str = ""
    ) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
        """``mode``'s gateway, ready, and a client of it with the run's key."""
        settings = self.simulators.settings(
            Settings(
                database_url=self.database_url,
                redis_url=self.options.redis_url,
                cache_prefix=self.prefix,
                cache_enabled=mode.cache,
                loaders_enabled=mode.loaders,
                demo_api_key=SecretStr(self.api_key),
                # The baseline sends a call per customer (135 a page): under
                # the 2 s read deadline its reads would be cut, not measured.
                read_deadline_seconds=2.0 if mode.loaders else 60.0,
            )
        )
        async with (
            gateway_server(
                settings,
                workers=self.options.workers,
                defaults=GATEWAY_DEFAULTS,
                log=self.report.logs / f"{mode.slug}{log_suffix}.log",
            ) as gateway,
            httpx.AsyncClient(
                base_url=gateway.url,
                headers={"authorization": f"Bearer {self.api_key}"},
                timeout=120,
                limits=httpx.Limits(max_connections=self.options.concurrency),
            ) as client,
        ):
            await gateway.ready()
            yield gateway, client


async def _run_modes(
    options: Options,
    report: Report,
    ours: OurGateway,
    simulators: Simulators,
    redis: Redis,
    say: Callable[[str], None],
) -> dict[str, Request]:
    """One gateway per mode, each measured alone: booting the next one while
    measuring would steal the cores the figures are about. The shapes'
    requests, as the first of them made them."""
    meter = CallMeter(simulators)
    requests: dict[str, Request] = {}
    for mode in MODES:
        say(f"starting the gateway ({options.workers} workers): {mode.name}")
        async with ours(mode) as (gateway, client):
            if not requests:
                requests = await _first_requests(client, meter, report.subject, report)
            await warm_up(
                client,
                requests.values(),
                Budget(options.concurrency, options.requests, options.warm_up),
                workers=options.workers,
            )
            for shape in SHAPES:
                say(f"  {shape.title}")
                report.measurements.extend(
                    await _measure(
                        client,
                        meter,
                        redis,
                        ours.prefix,
                        options,
                        mode,
                        shape,
                        requests[shape.key],
                        gateway.process.pid,
                    )
                )
    return requests


async def _run_peers(
    options: Options,
    report: Report,
    simulators: Simulators,
    say: Callable[[str], None],
) -> None:
    """The peers after our modes, on the same simulators and budget."""
    from bench.peers.run import measure_peers, selected  # it imports this module

    report.peers, report.peers_skipped = await measure_peers(
        selected(options.peers),
        simulators=simulators,
        subject=report.subject,
        workers=options.workers,
        budget=Budget(options.concurrency, options.requests, options.duration),
        warm=Budget(options.concurrency, options.requests, options.warm_up),
        samples=options.samples,
        sample_budget=options.sample_budget,
        logs=report.logs,
        say=say,
    )


async def measure_rounds(
    options: Options,
    report: Report,
    ours: OurGateway,
    requests: dict[str, Request],
    simulators: Simulators,
    say: Callable[[str], None],
) -> None:
    """The targets against a peer again, in alternated rounds, for the peers
    that ran."""
    from bench.peers.rounds import CONTESTS, run_rounds
    from bench.peers.run import peer_client, peer_requests

    ran = {m.mode.name for m in report.peers}
    contests = [c for c in CONTESTS if c.peer in ran]
    if options.rounds < 1 or not contests:
        return
    with posthog_rest_lifted(simulators):
        report.rounds, skipped = await run_rounds(
            contests,
            ours=lambda mode: ours(mode, log_suffix="-rounds"),
            our_requests=requests,
            peer=lambda peer: peer_client(
                peer,
                simulators,
                options.workers,
                report.logs / f"peer-rounds-{peer.family}-{int(peer.cached)}.log",
                options.concurrency,
            ),
            peer_requests=lambda peer: peer_requests(peer, report.subject),
            rounds=options.rounds,
            budget=Budget(options.concurrency, options.requests, options.duration),
            warm=Budget(options.concurrency, options.requests, options.warm_up),
            workers=options.workers,
            say=say,
            upstreams=simulators.pids if isinstance(simulators, ServedApart) else (),
        )
    for name, reason in skipped.items():
        report.peers_skipped[f"alternated rounds of {name}"] = reason


async def _first_requests(
    client: httpx.AsyncClient, meter: CallMeter, subject: Subject, report: Report
) -> dict[str, Request]:
    """Send each shape once on the fresh database (this links the identities,
    which later modes reuse); collect the deep page's cursors on the way."""
    requests = {
        CUSTOMER_360.key: Request(CUSTOMER_360.document, {"id": subject.global_id}),
        CUSTOMER_PAGE.key: Request(CUSTOMER_PAGE.document, {}),
    }
    for shape in (CUSTOMER_360, CUSTOMER_PAGE):
        meter.reset()
        began = time.perf_counter()
        data = await post(client, requests[shape.key])
        seconds = time.perf_counter() - began
        report.first_requests[shape.key] = (seconds, per_query([meter.take()], 1))
        if shape is CUSTOMER_PAGE:
            report.page_orders = sum(
                (e["node"]["orders"] or {"totalCount": 0})["totalCount"]
                for e in data["customers"]["edges"]
            )
    variables: dict[str, object] = {"id": subject.global_id}
    meter.reset()
    began = time.perf_counter()
    for page in range(1, DEEP_PAGE_NUMBER):
        data = await post(client, Request(DEEP_PAGE.document, dict(variables)))
        customer = data["customer"]
        for field_name, variable in (
            ("activity", "activityAfter"),
            ("orders", "ordersAfter"),
        ):
            connection = customer[field_name]
            if connection and connection["pageInfo"]["endCursor"]:
                variables[variable] = connection["pageInfo"]["endCursor"]
        if page == 1:
            seconds = time.perf_counter() - began
            report.first_requests[DEEP_PAGE.key] = (
                seconds,
                per_query([meter.take()], 1),
            )
    requests[DEEP_PAGE.key] = Request(DEEP_PAGE.document, variables)
    return requests


async def _measure(
    client: httpx.AsyncClient,
    meter: CallMeter,
    redis: Redis,
    prefix: str,
    options: Options,
    mode: Mode,
    shape: Shape,
    request: Request,
    pid: int,
) -> list[Measurement]:
    samples: list[tuple[dict[str, int], dict[str, int]]] = []

    async def cold_start() -> None:
        if mode.cache:
            await evict(redis, prefix)
        meter.reset()

    def collect() -> None:
        samples.append(meter.take())

    await settled(pid)  # the last measurement's deferred work (its audit) done
    single = await sequential(
        client,
        request,
        options.samples,
        before_each=cold_start,
        after_each=collect,
        budget=options.sample_budget,
    )
    cold_calls = per_query(samples, len(samples))
    budget = Budget(options.concurrency, options.requests, options.duration)
    if not mode.cache:
        load, cpu = await cpu_during(pid, closed_loop(client, request, budget))
        return [
            Measurement(
                shape, mode, "uncached", single, load, "continuous", cold_calls, cpu
            )
        ]

    async def evict_all() -> None:
        await evict(redis, prefix)

    cold_load, cpu = await cpu_during(
        pid, waves(client, request, budget, between=evict_all)
    )
    cold = Measurement(shape, mode, "cold", single, cold_load, "waves", cold_calls, cpu)
    await post(client, request)  # prime
    meter.reset()
    warm_single = await sequential(
        client, request, options.samples, budget=options.sample_budget
    )
    warm_load, cpu = await cpu_during(pid, closed_loop(client, request, budget))
    sent = warm_single.count + warm_single.errors + warm_load.count + warm_load.errors
    warm_calls = per_query([meter.take()], max(sent, 1))
    warm = Measurement(
        shape, mode, "warm", warm_single, warm_load, "continuous", warm_calls, cpu
    )
    if shape is not CUSTOMER_PAGE:
        return [cold, warm]
    changed = await _list_changed(client, meter, options, mode, request, pid)
    return [cold, warm, changed]


async def _list_changed(
    client: httpx.AsyncClient,
    meter: CallMeter,
    options: Options,
    mode: Mode,
    request: Request,
    pid: int,
) -> Measurement:
    """The warm page again, another customer changed (a mutation through the
    API) before each request or wave: the page executes, its customers come
    from their fragments."""
    newest = await post(
        client,
        Request(
            "{ customers(first: 1, orderBy: CREATED_AT_DESC)"
            " { edges { node { id } } } }",
            {},
        ),
    )
    other = newest["customers"]["edges"][0]["node"]["id"]
    change = (
        "mutation($id: ID!, $locale: String!) {"
        " updateCustomer(id: $id, input: {locale: $locale}) { id } }"
    )
    flip = iter(range(1 << 30))

    async def another_customer_changes() -> None:
        locale = "en-GB" if next(flip) % 2 else "en-US"
        await post(client, Request(change, {"id": other, "locale": locale}))

    single = await sequential(
        client,
        request,
        options.samples,
        before_each=another_customer_changes,
        budget=options.sample_budget,
    )
    budget = Budget(options.concurrency, options.requests, options.duration)
    meter.reset()
    load, cpu = await cpu_during(
        pid, waves(client, request, budget, between=another_customer_changes)
    )
    calls = per_query([meter.take()], max(load.count + load.errors, 1))
    return Measurement(
        CUSTOMER_PAGE, mode, "warm, list changed", single, load, "waves", calls, cpu
    )
