"""``python -m bench.live``: how soon a change reaches a live timeline.

The gateway as users run it (``customer-graph serve``, two worker processes
by default: ``bench/server.py``) over Redis and SQLite, the simulators in this
process at their usual 50 ms. One ``customerTimeline`` subscription
(graphql-transport-ws, ``bench/subscriber.py``) watches a customer while, one
after the other, ``changes`` times each:

- **tag** — a ``tagCustomer`` mutation, timed from when it is sent until its
  ``Tag … added`` event arrives (the change is ours: accepted by either
  worker, pushed to the subscriber's through Redis);
- **Shopify order** — a signed ``orders/create`` webhook from the Shopify
  simulator, timed from when it is sent until the order's ``OrderPlaced``
  event arrives (the push reads the customer's orders from Shopify again: one
  upstream call of 50 ms is in every figure);

and the time the webhook took to be answered, on its own. A change whose event
has not come within ``WAIT`` seconds is counted missing, and the run fails.

The end-to-end tests (``tests/e2e/test_timeline_live.py``) check that the
events arrive and what they say; how soon is measured here, not asserted there.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr
from strawberry.relay import GlobalID

from bench.database import bench_database, seed_world
from bench.load import Timings
from bench.redis_server import own_redis
from bench.runner import GATEWAY_DEFAULTS
from bench.server import gateway_server
from bench.subscriber import Subscriber, subscribed, tag_customer
from connectors.demo_world import CATALOG, World
from gateway.demo.simulation import GENEROUS, simulated_upstreams
from gateway.settings import Settings

WAIT = 10.0
"""Seconds a change's event may take before it is counted missing."""
WATCHED = 4
"""The watched customer's index in the demo world (customer 5)."""


@dataclass(frozen=True, slots=True)
class LiveOptions:
    changes: int = 30
    """Changes of each kind."""
    workers: int = 2
    latency_ms: float = 50.0
    customers: int = 50
    database_url: str | None = None


@dataclass(slots=True)
class Kind:
    """One kind of change: the latencies of those whose event came."""

    name: str
    latencies: list[float] = field(default_factory=list)
    missing: int = 0

    def timings(self) -> Timings:
        return Timings(tuple(self.latencies), self.missing, sum(self.latencies))


@dataclass(slots=True)
class LiveReport:
    options: LiveOptions
    kinds: list[Kind] = field(default_factory=list)


async def run_live(options: LiveOptions, say: Callable[[str], None]) -> LiveReport:
    world = World(seed=42, size=options.customers)
    key = f"cg_bench_{secrets.token_hex(12)}"
    customer = str(GlobalID("Customer", str(WATCHED + 1)))
    tag, order, answered = Kind("tag"), Kind("Shopify order"), Kind("webhook answered")
    report = LiveReport(options, [tag, order, answered])
    async with (
        bench_database(options.database_url) as database_url,
        simulated_upstreams(
            world,
            latency=options.latency_ms / 1000,
            posthog_queries_per_hour=GENEROUS,
        ) as simulators,
    ):
        await seed_world(database_url, world)
        logs = Path(tempfile.mkdtemp(prefix="cg-live-"))
        say(f"gateway log in {logs}")
        with own_redis() as redis:
            settings = Settings(
                database_url=database_url,
                demo_api_key=SecretStr(key),
                redis_url=redis.url,
            )
            async with (
                gateway_server(
                    simulators.settings(settings),
                    workers=options.workers,
                    defaults=GATEWAY_DEFAULTS,
                    log=logs / "gateway.log",
                ) as gateway,
            ):
                await gateway.ready()
                async with (
                    httpx.AsyncClient(
                        base_url=gateway.url,
                        headers={"Authorization": f"Bearer {key}"},
                        timeout=60,
                    ) as http,
                    subscribed(gateway, key, customer) as live,
                ):
                    await _until_live(http, live, customer)
                    shopify = simulators.shopify
                    webhooks = f"{gateway.url}/webhooks/shopify"
                    for n in range(options.changes):
                        say(f"change {n + 1} of {options.changes}")
                        name = f"live-{n}"
                        sent = time.perf_counter()
                        await tag_customer(http, customer, name)
                        _note(
                            tag,
                            sent,
                            await live.arrival(_is(f"Tag {name} added"), WAIT),
                        )
                        placed = shopify.add_order(WATCHED, [(CATALOG[0], 1)])
                        sent = time.perf_counter()
                        response = await shopify.send_webhook(
                            webhooks, "orders/create", shopify.order_payload(placed)
                        )
                        answered.latencies.append(time.perf_counter() - sent)
                        answered.missing += response.status_code != 200
                        _note(
                            order, sent, await live.arrival(_has(placed["name"]), WAIT)
                        )
    return report


async def _until_live(http: httpx.AsyncClient, live: Subscriber, customer: str) -> None:
    """Tags until one comes back: the server listens a moment after the
    subscription starts (once it read the heads)."""
    for attempt in range(40):
        name = f"ready-{attempt}"
        await tag_customer(http, customer, name)
        if await live.arrival(_is(f"Tag {name} added"), 0.5) is not None:
            return
    raise RuntimeError("the subscription never delivered")


def _is(summary: str) -> Callable[[str], bool]:
    return lambda s: s == summary


def _has(name: str) -> Callable[[str], bool]:
    return lambda s: name in s


def _note(kind: Kind, sent: float, arrived: float | None) -> None:
    if arrived is None:
        kind.missing += 1
    else:
        kind.latencies.append(arrived - sent)


def render(report: LiveReport) -> str:
    rows = [
        "| change | count | missing | p50 ms | p90 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in report.kinds:
        t = kind.timings()
        rows.append(
            f"| {kind.name} | {t.count + t.errors} | {t.errors} "
            f"| {t.percentile_ms(50):.1f} | {t.percentile_ms(90):.1f} "
            f"| {max(t.latencies, default=0) * 1000:.1f} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    default = LiveOptions()
    parser = argparse.ArgumentParser(
        prog="python -m bench.live", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--changes", type=int, default=default.changes)
    parser.add_argument("--workers", type=int, default=default.workers)
    parser.add_argument("--latency-ms", type=float, default=default.latency_ms)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    if args.changes < 1 or args.workers < 1:
        parser.error("--changes and --workers must be at least 1")
    options = LiveOptions(
        changes=args.changes,
        workers=args.workers,
        latency_ms=args.latency_ms,
        database_url=args.database_url,
    )
    report = asyncio.run(run_live(options, lambda line: print(line, file=sys.stderr)))
    print(render(report))
    return 1 if any(kind.missing for kind in report.kinds) else 0


if __name__ == "__main__":
    sys.exit(main())
