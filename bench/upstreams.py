"""The benchmark's upstreams: the three simulators, each served from a process
of its own, as Shopify, Zendesk and PostHog are three services.

Served together on the benchmark's event loop, beside its load generator, one
simulator's work held up the others' answers: during a cold 360 view, whose
three calls leave within ~10 ms of each other, a 50 ms Zendesk answered in
63 ms at the median and PostHog in 59 (one served apart: 52.5 ms each), and
the view's latency measured the simulators as much as the gateway
(docs/benchmarks.md, "The simulators' own latency").

The benchmark keeps a copy of each simulator, built from the same seeded
world, for what it reads of their data (the subject customer, the budgets);
the served ones answer requests and count them, and their counts, resets and
limits are asked for over a pipe.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from connectors.demo_world import World
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.simulator_server import serve_app
from gateway.demo.simulation import (
    GENEROUS,
    CustomerSimulator,
    Simulators,
    by_counts,
    counts,
    customer_simulator,
    reset_counts,
)

SOURCES = ("shopify", "zendesk", "posthog")
STARTUP_TIMEOUT = 120.0
"""Seconds a simulator's process may take to import, build its world and listen."""
_SPAWN = multiprocessing.get_context("spawn")
"""A fresh interpreter per simulator: nothing of the benchmark's loop,
threads or connections is carried over, as a fork would."""


def lift_posthog_rest_limits(simulator: PostHogSimulator) -> list[tuple[Any, int]]:
    """Lift the PostHog simulator's limits on its persons and events
    endpoints (PostHog's: 240 a minute, 1,200 an hour); returns what to
    restore (``restore``). The peers read those endpoints once per customer
    and field (docs/benchmarks.md § Peers)."""
    throttles = {
        id(t): t
        for name in ("persons", "events")
        for t in simulator._throttles[name]  # noqa: SLF001
    }
    lifted = [(t, t.rate) for t in throttles.values()]
    for throttle, _ in lifted:
        throttle.rate = GENEROUS
    return lifted


def restore(lifted: list[tuple[Any, int]]) -> None:
    for throttle, rate in lifted:
        throttle.rate = rate


@dataclass(slots=True)
class ServedApart(Simulators):
    """``Simulators`` whose requests are served and counted in their own
    processes: ``shopify``, ``zendesk`` and ``posthog`` are the benchmark's
    copies, for their data; counts go to the processes."""

    pipes: dict[str, Connection] = field(default_factory=dict)
    pids: tuple[int, ...] = ()
    """The simulators' processes: what a server's calls cost the upstreams in
    CPU is read from them (``bench.peers.rounds``)."""

    def ask(self, source: str, command: str) -> Any:
        pipe = self.pipes[source]
        pipe.send(command)
        if not pipe.poll(STARTUP_TIMEOUT):
            raise RuntimeError(f"the {source} simulator did not answer {command!r}")
        return pipe.recv()

    def request_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        return by_counts({source: self.ask(source, "counts") for source in SOURCES})

    def reset_counts(self) -> None:
        for source in SOURCES:
            self.ask(source, "reset")

    def heal(self) -> None:
        for source in SOURCES:
            self.ask(source, "heal")


@asynccontextmanager
async def served_apart(
    world: World, *, latency: float, posthog_queries_per_hour: int
) -> AsyncIterator[ServedApart]:
    """The three simulators of ``world``, each served by a process of its own
    for the block's duration."""
    processes: list[Any] = []
    pipes: dict[str, Connection] = {}
    try:
        for source in SOURCES:
            mine, theirs = _SPAWN.Pipe()
            process = _SPAWN.Process(
                target=_serve,
                args=(source, world.seed, world.size, world.now, latency),
                kwargs={"queries": posthog_queries_per_hour, "pipe": theirs},
                name=f"bench-{source}-simulator",
                daemon=True,
            )
            process.start()
            theirs.close()
            processes.append(process)
            pipes[source] = mine
        urls = {s: await asyncio.to_thread(_started, s, p) for s, p in pipes.items()}
        local = {
            source: customer_simulator(source, world, latency, posthog_queries_per_hour)
            for source in SOURCES
        }
        pids = tuple(p.pid for p in processes if p.pid is not None)
        yield ServedApart(**local, urls=urls, pipes=pipes, pids=pids)  # type: ignore[arg-type]
    finally:
        for pipe in pipes.values():
            with suppress(OSError):
                pipe.send("stop")
            pipe.close()
        for process in processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 10)


def _started(source: str, pipe: Connection) -> str:
    if not pipe.poll(STARTUP_TIMEOUT):
        raise RuntimeError(f"the {source} simulator did not start")
    try:
        url: str = pipe.recv()
    except EOFError:
        raise RuntimeError(f"the {source} simulator exited at start") from None
    return url


def _serve(
    source: str,
    seed: int,
    size: int,
    now: datetime,
    latency: float,
    *,
    queries: int,
    pipe: Connection,
) -> None:
    """A simulator's process: serve it, answer the benchmark's commands."""
    world = World(seed=seed, size=size, now=now)
    simulator = customer_simulator(source, world, latency, queries)
    # The world lives as long as the process: out of the collector's full
    # passes, each of which walked it all (91 ms of a core in Shopify's
    # simulator, once per ~300 of the 360 view's calls; docs/benchmarks.md,
    # session 29), on the cores the servers are measured on.
    gc.collect()
    gc.freeze()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serving(simulator, pipe))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's, as uvicorn picks it for the gateway's workers: an upstream
    stands in for a service on other machines, so the less of this machine's
    CPU its own loop takes, the less it competes with what is measured (a
    50 ms call answered a plain client in 52.2 ms at the median, 52.5 on the
    default loop; docs/benchmarks.md, session 25). ``None`` (the default
    loop) where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serving(simulator: CustomerSimulator, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    lifted: list[tuple[Any, int]] = []

    def command() -> None:
        try:
            what = pipe.recv()
        except EOFError:  # the benchmark is gone
            what = "stop"
        if what == "stop":
            stopped.set()
            return
        answer: object = None
        if what == "counts":
            answer = counts(simulator)
        elif what == "reset":
            reset_counts(simulator)
        elif what == "heal":
            simulator.heal()
        elif what == "lift" and isinstance(simulator, PostHogSimulator):
            lifted.extend(lift_posthog_rest_limits(simulator))
        elif what == "restore":
            restore(lifted)
            lifted.clear()
        pipe.send(answer)

    async with serve_app(simulator.with_faults(simulator.app)) as url:
        loop.add_reader(pipe.fileno(), command)
        pipe.send(url)
        await stopped.wait()
        loop.remove_reader(pipe.fileno())


@contextmanager
def posthog_rest_lifted(simulators: Simulators) -> Iterator[None]:
    """PostHog's persons and events limits lifted for the block, in its own
    process when it is served apart."""
    if isinstance(simulators, ServedApart):
        simulators.ask("posthog", "lift")
        try:
            yield
        finally:
            simulators.ask("posthog", "restore")
        return
    lifted = lift_posthog_rest_limits(simulators.posthog)
    try:
        yield
    finally:
        restore(lifted)
