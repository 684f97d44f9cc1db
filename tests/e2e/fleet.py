"""A fleet on loopback: three ``customer-graph serve`` replicas (two workers
each, started exactly as an operator starts them) on one throwaway
PostgreSQL database and one Redis (a key prefix of their own), the three
simulators, and nginx in front (``tests.balancer``).

The test process opens its own ``Services`` on the same database and Redis:
it seeds the world, creates and revokes keys, and counts rows — as an
operator's ``customer-graph`` commands would, from outside the replicas.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from bench.server import environment, free_port
from connectors.demo_world import World
from gateway.db.session import upgrade
from gateway.demo.seed import seed
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings
from tests.balancer import NGINX, Balancer, nginx
from tests.servers import (
    POSTGRES_URL,
    REDIS_URL,
    asyncpg_url,
    require,
    require_program,
    throwaway_database_name,
)

API_KEY = "cg_fleet_admin_key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
WORLD = World(seed=42, size=20)
WORKERS = 2
STARTUP = 240.0
"""Seconds a replica may take to answer ``/readyz``: six worker processes
import the gateway at once on a shared two-core machine."""


@dataclass
class Replica:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli.main", "serve",
                 "--port", str(self.port), "--workers", str(WORKERS)],
                cwd=self.log.parent,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # kill() takes its workers too
            )  # fmt: skip

    async def ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"{self.name} exited; {self.log}"
                try:
                    answer = await client.get("/readyz")
                    if answer.status_code == 200 and self._workers_up():
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} was not ready in {STARTUP} s")

    def _workers_up(self) -> bool:
        """Every worker of this start finished its startup (uvicorn's log):
        one answering ``/readyz`` is not all — a rolling restart must not
        catch a worker mid-start, which no replica's drain covers."""
        started = self.log.read_text().rsplit("Started parent process", 1)[-1]
        return started.count("Application startup complete.") >= WORKERS

    async def stop(self) -> int:
        """SIGTERM, as an orchestrator stops a replica; its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(self.process.wait, 60)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL to the supervisor and its workers: killed alone, the
        supervisor would leave them serving, orphaned."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Fleet:
    url: str
    """The balancer's."""
    replicas: list[Replica]
    simulators: Simulators
    services: Services
    balancer: Balancer

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


async def graphql(
    url: str, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers=headers or AUTH,
        )


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    require("database", POSTGRES_URL, 5432)
    name = throwaway_database_name()
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield asyncpg_url(POSTGRES_URL, name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@asynccontextmanager
async def running_fleet(
    directory: Path, replicas: int = 3, **settings: Any
) -> AsyncIterator[Fleet]:
    require("redis", REDIS_URL, 6379)
    require_program(NGINX)
    async with postgres_database() as database_url:
        await asyncio.to_thread(upgrade, database_url)
        base = Settings(
            database_url=database_url,
            redis_url=REDIS_URL,
            cache_prefix=f"cgfleet{secrets.token_hex(4)}",
            demo_api_key=SecretStr(API_KEY),
            shutdown_grace_seconds=15,
            shutdown_drain_seconds=1.0,
            # Nine processes on a shared two-core machine stall past the
            # default 0.1 s now and then, and Redis would be skipped for a
            # while: the subject here is the fleet, not Redis outages
            # (test_redis_outage_under_load.py).
            redis_timeout=2.0,
            **settings,
        )
        async with simulated_upstreams(WORLD) as simulators:
            configured = simulators.settings(base)
            async with open_services(configured) as services:
                await seed(services.sessions, WORLD)
                env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
                env |= environment(configured)
                started = [
                    Replica(name, free_port(), env, directory / f"{name}.log")
                    for name in "ABC"[:replicas]
                ]
                try:
                    for replica in started:
                        replica.start()
                    await asyncio.gather(*(r.ready() for r in started))
                    addresses = [f"127.0.0.1:{r.port}" for r in started]
                    with nginx(directory / "nginx", addresses) as balancer:
                        yield Fleet(
                            balancer.url, started, simulators, services, balancer
                        )
                finally:
                    await asyncio.gather(
                        *(r.stop() for r in started if r.process is not None),
                        return_exceptions=True,
                    )
                    for replica in started:
                        replica.kill()
