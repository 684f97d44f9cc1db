"""Measure the peers against the same simulators, load generator and budget
as our gateway (``bench/runner.py``), one server at a time.

Each peer answers the 360 view and the page of 50 in its own schema
(``bench/peers/queries.py``). Per shape: ``options.samples`` sequential
requests (upstream calls counted at the simulators per request, as for ours),
then the continuous keep-alive load, with the CPU seconds of the peer's
processes read before and after it (``bench/cpu.py``).

- **plain** and **Hive Gateway + Mesh** have no cache: every request is cold,
  the rows are ``uncached``, comparable with our ``loaders, no cache`` row
  (throughput, CPU) and our cold row (latency, calls).
- **Hive Gateway + Mesh + responseCaching** is primed by the warm-up, so its
  rows are ``warm``, comparable with our warm row. Its cold requests are the
  uncached Hive rows: its cache cannot be emptied from outside.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.cpu import cpu_during, settled
from bench.load import Budget, Request, closed_loop, post, sequential, warm_up
from bench.peers.hive import PeerUnavailable, hive_server, node_available
from bench.peers.queries import hive_requests, plain_requests
from bench.queries import CUSTOMER_360, CUSTOMER_PAGE, Shape
from bench.runner import CallMeter, Measurement, Mode, per_query
from bench.server import Gateway, gateway_server
from bench.subject import Subject
from bench.upstreams import posthog_rest_lifted
from gateway.demo.simulation import (
    POSTHOG_KEY,
    SHOPIFY_TOKEN,
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
    Simulators,
)
from gateway.settings import Settings

PEER_SHAPES = (CUSTOMER_360, CUSTOMER_PAGE)
READY_TIMEOUT = 180.0
"""Node loads a few hundred modules per worker: slow on a busy machine."""
CHOICES = ("all", "none", "plain", "hive")


@dataclass(frozen=True, slots=True)
class Peer:
    name: str
    family: str
    """``plain`` or ``hive``: what ``--peers`` selects."""
    cached: bool


PEERS = (
    Peer("plain Strawberry", "plain", cached=False),
    Peer("Hive Gateway + Mesh", "hive", cached=False),
    Peer("Hive Gateway + Mesh + responseCaching", "hive", cached=True),
)


def selected(choice: str) -> tuple[Peer, ...]:
    """The peers ``--peers choice`` runs; ``all`` leaves Hive out without
    Node.js (``hive`` asks for it: the run reports why it could not)."""
    if choice == "none":
        return ()
    if choice == "all":
        families = {"plain", "hive"} if node_available() else {"plain"}
    else:
        families = {choice}
    return tuple(p for p in PEERS if p.family in families)


def _server(
    peer: Peer, simulators: Simulators, workers: int, log: Path
) -> AbstractAsyncContextManager[Gateway]:
    if peer.family == "hive":
        return hive_server(simulators.urls, workers=workers, cache=peer.cached, log=log)
    return _plain_server(simulators, workers, log)


@asynccontextmanager
async def _plain_server(
    simulators: Simulators, workers: int, log: Path
) -> AsyncIterator[Gateway]:
    defaults = {
        "PEER_SHOPIFY_URL": simulators.urls["shopify"],
        "PEER_ZENDESK_URL": simulators.urls["zendesk"],
        "PEER_POSTHOG_URL": simulators.urls["posthog"],
        "PEER_SHOPIFY_TOKEN": SHOPIFY_TOKEN,
        "PEER_ZENDESK_EMAIL": ZENDESK_EMAIL,
        "PEER_ZENDESK_TOKEN": ZENDESK_TOKEN,
        "PEER_POSTHOG_KEY": POSTHOG_KEY,
    }
    async with gateway_server(
        Settings(),
        workers=workers,
        defaults=defaults,
        log=log,
        app="bench.peers.plain:create_app",
    ) as server:
        yield server


def peer_requests(peer: Peer, subject: Subject) -> dict[str, Request]:
    """The shapes as ``peer`` is asked them, by shape key."""
    if peer.family == "hive":
        return hive_requests(subject)
    return plain_requests(subject)


@asynccontextmanager
async def peer_client(
    peer: Peer, simulators: Simulators, workers: int, log: Path, concurrency: int
) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    """``peer`` served and ready, and a client of it (``PeerUnavailable`` if
    it cannot run here)."""
    async with _server(peer, simulators, workers, log) as server:
        await server.ready(READY_TIMEOUT)
        async with httpx.AsyncClient(
            base_url=server.url,
            timeout=120,
            limits=httpx.Limits(max_connections=concurrency),
        ) as client:
            yield server, client


async def measure_peers(
    peers: tuple[Peer, ...],
    *,
    simulators: Simulators,
    subject: Subject,
    workers: int,
    budget: Budget,
    warm: Budget,
    samples: int,
    sample_budget: float,
    logs: Path,
    say: Callable[[str], None],
) -> tuple[list[Measurement], dict[str, str]]:
    """Every peer of ``peers``, one at a time, each warmed up under ``warm``
    (``bench.load.warm_up``) as our gateway is: their measurements, and the
    peers that could not run with the reason."""
    meter = CallMeter(simulators)
    found: list[Measurement] = []
    skipped: dict[str, str] = {}
    with posthog_rest_lifted(simulators):
        for peer in peers:
            requests = peer_requests(peer, subject)
            mode = Mode(peer.name, loaders=False, cache=peer.cached)
            say(f"starting the peer ({workers} workers): {peer.name}")
            log = logs / f"peer-{mode.slug}.log"
            try:
                async with peer_client(
                    peer, simulators, workers, log, budget.concurrency
                ) as (server, client):
                    await warm_up(client, requests.values(), warm, workers=workers)
                    for shape in PEER_SHAPES:
                        say(f"  {shape.title}")
                        found.append(
                            await _measure(
                                client,
                                meter,
                                server,
                                Measured(shape, mode, requests[shape.key]),
                                budget,
                                samples,
                                sample_budget,
                            )
                        )
            except PeerUnavailable as exc:
                say(f"  skipped: {exc}")
                skipped[peer.name] = str(exc).splitlines()[0]
    return found, skipped


@dataclass(frozen=True, slots=True)
class Measured:
    shape: Shape
    mode: Mode
    request: Request


async def _measure(
    client: httpx.AsyncClient,
    meter: CallMeter,
    server: Gateway,
    what: Measured,
    budget: Budget,
    samples: int,
    sample_budget: float,
) -> Measurement:
    await post(client, what.request)  # a wrong answer fails here, loudly
    taken: list[tuple[dict[str, int], dict[str, int]]] = []

    async def reset() -> None:
        meter.reset()

    await settled(server.process.pid)  # as ours (``bench.runner._measure``)
    single = await sequential(
        client,
        what.request,
        samples,
        before_each=reset,
        after_each=lambda: taken.append(meter.take()),
        budget=sample_budget,
    )
    calls = per_query(taken, max(len(taken), 1))
    load, cpu = await cpu_during(
        server.process.pid, closed_loop(client, what.request, budget)
    )
    state = "warm" if what.mode.cache else "uncached"
    return Measurement(
        what.shape, what.mode, state, single, load, "continuous", calls, cpu
    )
