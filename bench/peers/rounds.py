"""Issue 20's ratios measured again in alternated rounds, both servers up.

A ratio of two measurements taken minutes apart moves with the machine: with
nothing changed on either side, Hive Gateway's warm 360 rate moved by 14 %
between runs, and the warm 360 ratio read 1.57–2.18 × on one day
(docs/benchmarks.md). The outside comparison that filed the issue alternated
the servers. So, after the one-at-a-time measurements, each target against a
peer (``CONTESTS``) is measured ``Options.rounds`` times more: our gateway in
the mode the target names and the peer are both up and warmed up, and in each
round both get the same continuous load one after the other, the order
swapped every round (a slow moment of the machine then falls on each side in
turn). The target is judged by the median of the rounds' ratios
(``bench/peers/report.py``); the single measurements stay in the tables.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx

from bench.cpu import tree_cpu_seconds
from bench.load import Budget, Request, closed_loop, warm_up
from bench.peers.run import PEERS, Peer
from bench.queries import CUSTOMER_360, CUSTOMER_PAGE, Shape
from bench.runner import MODES, Mode
from bench.server import Gateway

HIVE = "Hive Gateway + Mesh"
HIVE_CACHED = "Hive Gateway + Mesh + responseCaching"


Server = AbstractAsyncContextManager[tuple[Gateway, httpx.AsyncClient]]


@dataclass(frozen=True, slots=True)
class Contest:
    """One of issue 20's targets against a peer: our ``mode``'s row of
    ``state`` against ``peer``'s, by req/s (ours ≥ ``factor`` × theirs) or,
    with ``cpu``, by CPU per request (ours ≤ ``factor`` × theirs)."""

    name: str
    shape: Shape
    mode: str
    state: str
    peer: str
    factor: float
    cpu: bool = False

    @property
    def wanted(self) -> str:
        return f"{'≤' if self.cpu else '≥'} {self.factor:g} ×"

    def ratio(self, ours: Turn, theirs: Turn) -> float:
        if self.cpu:
            return _safe(ours.cpu_ms, theirs.cpu_ms)
        return _safe(ours.rate, theirs.rate)

    def met(self, ratio: float) -> bool:
        return ratio <= self.factor if self.cpu else ratio >= self.factor


CONTESTS = (
    Contest(
        f"warm {CUSTOMER_PAGE.title}: req/s against Hive + responseCaching",
        CUSTOMER_PAGE,
        MODES[0].name,
        "warm",
        HIVE_CACHED,
        1.0,
    ),
    Contest(
        f"warm {CUSTOMER_360.title}: req/s against Hive + responseCaching",
        CUSTOMER_360,
        MODES[0].name,
        "warm",
        HIVE_CACHED,
        2.0,
    ),
    Contest(
        "uncached 360 view: gateway CPU per view against Hive",
        CUSTOMER_360,
        MODES[1].name,
        "uncached",
        HIVE,
        1.0,
        cpu=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One server's continuous load in a round."""

    rate: float
    """Answered requests per second."""
    cpu_ms: float
    """CPU milliseconds of the server's processes per request sent."""
    errors: int


@dataclass(frozen=True, slots=True)
class Round:
    contest: Contest
    ours: Turn
    theirs: Turn

    @property
    def ratio(self) -> float:
        return self.contest.ratio(self.ours, self.theirs)


def median_ratio(rounds: Sequence[Round]) -> float:
    ratios = [r.ratio for r in rounds if not math.isnan(r.ratio)]
    return statistics.median(ratios) if ratios else math.nan


@dataclass(frozen=True, slots=True)
class Contestant:
    """A server up for the rounds: its client, what to send it by shape key,
    and the process whose CPU counts."""

    client: httpx.AsyncClient
    requests: Mapping[str, Request]
    pid: int


async def turn(contestant: Contestant, shape: Shape, budget: Budget) -> Turn:
    """``budget``'s continuous load of ``shape`` on ``contestant``."""
    request = contestant.requests[shape.key]
    cpu = tree_cpu_seconds(contestant.pid)
    load = await closed_loop(contestant.client, request, budget)
    cpu = tree_cpu_seconds(contestant.pid) - cpu
    sent = load.count + load.errors
    return Turn(load.per_second, cpu / sent * 1000 if sent else math.nan, load.errors)


async def alternate(
    contests: Sequence[Contest],
    ours: Contestant,
    theirs: Contestant,
    *,
    rounds: int,
    budget: Budget,
) -> list[Round]:
    """``rounds`` rounds of each of ``contests``, one contest after the
    other: ours first in the first round, the peer first in the second, and
    so on. A contest's rounds follow each other, so a server's load of one
    shape does not come between its loads of another: with the shapes
    interleaved, Hive's warm 360 rate read 2,063–3,693 req/s in one run, and
    4,093–4,438 in rounds of the 360 alone minutes later."""
    found: list[Round] = []
    for contest in contests:
        for number in range(rounds):
            if number % 2 == 0:
                mine = await turn(ours, contest.shape, budget)
                other = await turn(theirs, contest.shape, budget)
            else:
                other = await turn(theirs, contest.shape, budget)
                mine = await turn(ours, contest.shape, budget)
            found.append(Round(contest, mine, other))
    return found


async def run_rounds(
    contests: Sequence[Contest],
    *,
    ours: Callable[[Mode], Server],
    our_requests: Mapping[str, Request],
    peer: Callable[[Peer], Server],
    peer_requests: Callable[[Peer], Mapping[str, Request]],
    rounds: int,
    budget: Budget,
    warm: Budget,
    workers: int,
    say: Callable[[str], None],
) -> list[Round]:
    """For each (our mode, peer) pair that ``contests`` name: both served at
    once (``ours`` and ``peer`` serve one and give its client), both warmed
    up on the pair's shapes, then ``alternate``d."""
    found: list[Round] = []
    modes = {m.name: m for m in MODES}
    peers = {p.name: p for p in PEERS}
    for mode, name in dict.fromkeys((c.mode, c.peer) for c in contests):
        group = [c for c in contests if (c.mode, c.peer) == (mode, name)]
        shapes = list(dict.fromkeys(c.shape.key for c in group))
        say(f"alternated rounds: {mode} against {name}")
        async with (
            ours(modes[mode]) as (ours_up, ours_client),
            peer(peers[name]) as (theirs_up, theirs_client),
        ):
            sides = (
                Contestant(ours_client, our_requests, ours_up.process.pid),
                Contestant(
                    theirs_client, peer_requests(peers[name]), theirs_up.process.pid
                ),
            )
            for side in sides:
                sent = [side.requests[key] for key in shapes]
                await warm_up(side.client, sent, warm, workers=workers)
            found += await alternate(group, *sides, rounds=rounds, budget=budget)
    return found


def _safe(ours: float, theirs: float) -> float:
    if math.isnan(ours) or math.isnan(theirs) or theirs <= 0:
        return math.nan
    return ours / theirs
