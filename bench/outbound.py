"""``python -m bench.outbound``: outbound webhook deliveries from one worker.

A database of the run's own (PostgreSQL by default, with procrastinate's
schema: where jobs are durable), ``endpoints`` endpoints on one receiver and
``deliveries`` deliveries published up front (``deliveries / endpoints``
events, each to every endpoint). Then ONE procrastinate worker
(``concurrency`` jobs at once, in this process) sends them all, and the run
reports deliveries a minute from the worker's start to the last delivered one,
and the process's resident memory (``VmRSS``) when the worker starts, every
second while it runs, and at the end: flat memory means the worker keeps
nothing per delivery.

The receiver is a separate process (uvicorn, ``receive``): it verifies every
signature with the ``standardwebhooks`` reference library and counts
messages, so the worker's process holds the worker alone.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import httpx
from procrastinate import App, PsycopgConnector
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.database import bench_database
from gateway.outbound import endpoints
from gateway.outbound.publish import publish
from gateway.outbound.tables import DeliveryStatus, OutboundAttempt, OutboundDelivery
from gateway.outbound.tasks import build_blueprint
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True, slots=True)
class Options:
    deliveries: int = 10_000
    endpoints: int = 10
    concurrency: int = 32
    database_url: str | None = DEFAULT_DATABASE


def rss_mb() -> float:
    """The process's resident memory now (not its peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def receive(port: int, secrets: dict[str, str]) -> None:
    """The receiver process: verify, count, answer 204."""
    import uvicorn
    from standardwebhooks.webhooks import Webhook
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    hooks = {name: Webhook(secret) for name, secret in secrets.items()}
    seen: Counter[str] = Counter()
    bad = 0

    async def hook(request: Request) -> Response:
        nonlocal bad
        body = await request.body()
        try:
            hooks[request.path_params["name"]].verify(body, dict(request.headers))
        except Exception:
            bad += 1
            return Response(status_code=400)
        seen[request.headers["webhook-id"]] += 1
        return Response(status_code=204)

    async def counts(request: Request) -> Response:
        return JSONResponse(
            {"received": sum(seen.values()), "messages": len(seen), "bad": bad}
        )

    app = Starlette(
        routes=[
            Route("/hooks/{name}", hook, methods=["POST"]),
            Route("/counts", counts),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def receiver(port: int, secrets: dict[str, str]) -> AsyncIterator[str]:
    process = multiprocessing.get_context("spawn").Process(
        target=receive, args=(port, secrets), daemon=True
    )
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(1200):
                try:
                    await http.get(f"{base}/counts")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the receiver did not start within 60 s")
        yield base
    finally:
        process.terminate()
        process.join(5)


async def delivered(services: Services) -> int:
    async with services.sessions() as session:
        count = await session.scalar(
            select(func.count(OutboundDelivery.id)).where(
                OutboundDelivery.status == DeliveryStatus.DELIVERED.value
            )
        )
    return int(count or 0)


async def run(options: Options) -> None:
    async with bench_database(options.database_url) as url:
        settings = Settings(
            database_url=url,
            cache_enabled=False,
            outbound_allow_private_targets=True,
            outbound_endpoint_concurrency=max(
                1, options.concurrency // options.endpoints
            ),
        )
        conninfo = (
            make_url(url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        jobs = App(connector=PsycopgConnector(conninfo=conninfo))
        jobs.add_tasks_from(build_blueprint(), namespace="outbound")
        async with open_services(settings) as opened, jobs.open_async():
            services = opened
            services.jobs = jobs
            port = free_port()
            secrets: dict[str, str] = {}
            for n in range(options.endpoints):
                created = await endpoints.create(
                    services.sessions,
                    services.sealer,
                    f"http://127.0.0.1:{port}/hooks/e{n}",
                    [],
                    None,
                    True,
                )
                secrets[f"e{n}"] = created.secret
            events = options.deliveries // options.endpoints
            async with receiver(port, secrets) as base:
                started = time.perf_counter()
                for n in range(events):
                    await publish(services, "bench.event", {"n": n, "pad": "x" * 200})
                took = time.perf_counter() - started
                print(
                    f"published {events:,} events = {events * options.endpoints:,}"
                    f" deliveries in {took:.1f} s ({events / took:,.0f} events/s)"
                )
                await _drain(services, jobs, options, events * options.endpoints, base)


async def _drain(
    services: Services, jobs: App, options: Options, total: int, base: str
) -> None:
    samples = [rss_mb()]
    cpu = _cpu_seconds()
    print(f"worker starts: RSS {samples[0]:.0f} MB")
    worker = asyncio.create_task(
        jobs.run_worker_async(
            concurrency=options.concurrency,
            additional_context={"services": services},
            install_signal_handlers=False,
            queues=["outbound"],
            fetch_job_polling_interval=0.5,
        )
    )
    started = time.perf_counter()
    done = 0
    while done < total:
        await asyncio.sleep(1.0)
        done = await delivered(services)
        samples.append(rss_mb())
        elapsed = time.perf_counter() - started
        print(f"  {elapsed:5.1f} s: {done:,} delivered, RSS {samples[-1]:.0f} MB")
        if worker.done():
            worker.result()
    took = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    worker.cancel()
    with suppress(asyncio.CancelledError):
        await worker
    async with httpx.AsyncClient() as http:
        counts = (await http.get(f"{base}/counts")).json()
    print(
        f"{total:,} deliveries in {took:.1f} s = {total / took * 60:,.0f} a minute;"
        f" receiver: {counts['received']:,} received, {counts['messages']:,} distinct"
        f" messages, {counts['bad']} bad signatures"
    )
    async with services.sessions() as session:
        outcomes = (
            await session.execute(
                select(
                    OutboundAttempt.outcome, OutboundAttempt.error_class, func.count()
                ).group_by(OutboundAttempt.outcome, OutboundAttempt.error_class)
            )
        ).all()
    print("attempts: " + ", ".join(f"{o} {e or ''} {n:,}" for o, e, n in outcomes))
    print(
        f"RSS: start {samples[0]:.0f} MB, end {samples[-1]:.0f} MB,"
        f" max {max(samples):.0f} MB"
    )
    print(
        f"worker process CPU: {cpu:.1f} s = {cpu / total * 1000:.2f} ms a delivery"
        f" (one core: {total / cpu * 60:,.0f} a minute); load average now"
        f" {os.getloadavg()[0]:.1f}"
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    default = Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench.outbound", description=__doc__
    )
    parser.add_argument("--deliveries", type=int, default=default.deliveries)
    parser.add_argument("--endpoints", type=int, default=default.endpoints)
    parser.add_argument("--concurrency", type=int, default=default.concurrency)
    parser.add_argument(
        "--database-url",
        default=default.database_url,
        help="a PostgreSQL server (a database of the run's own is made on it)",
    )
    args = parser.parse_args()
    asyncio.run(
        run(
            Options(
                deliveries=args.deliveries,
                endpoints=args.endpoints,
                concurrency=args.concurrency,
                database_url=args.database_url,
            )
        )
    )


if __name__ == "__main__":
    main()
