"""Issue 20's ratios measured again in alternated rounds, both servers up.

A ratio of two measurements taken minutes apart moves with the machine: with
nothing changed on either side, Hive Gateway's warm 360 rate moved by 14 %
between runs, and the warm 360 ratio read 1.75–2.18 × over four runs of one
code on one day (docs/benchmarks.md, "The held lane"). The outside comparison
that filed the issue alternated the servers. So, after the one-at-a-time
measurements, each target against a peer (``CONTESTS``) is measured
``Options.rounds`` times more, with a pair of servers of its own: our
gateway in the mode the target names and the peer, both up and warmed up on
the target's shape; in each round both get the same continuous load one
after the other, the first swapped every round (an even number of rounds
puts each first as often). The load is a closed loop (each server at its
own most), or for the CPU target measured again at one rate (``SAME_RATE``)
an open loop of that many requests a second to each: at their most, the
server whose calls cost the simulators more also shares two busy cores with
them, and a figure per request taken at one load compares the two servers'
work, not the machine's contention. Each load also records how busy the whole
machine was and how much the hypervisor took. A target is judged met when
more than half of its rounds meet it (``Verdict``; ``bench/peers/report.py``);
the single measurements stay in the tables.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace

import httpx

from bench.cpu import MachineTimes, cpu_during, settled, tree_cpu_seconds
from bench.load import Budget, Request, Timings, closed_loop, open_loop, warm_up
from bench.peers.hive import PeerUnavailable
from bench.peers.run import PEERS, Peer
from bench.queries import CUSTOMER_360, CUSTOMER_PAGE, Shape
from bench.runner import MODES, Mode
from bench.server import Gateway

HIVE, HIVE_CACHED = PEERS[1].name, PEERS[2].name  # without and with its cache

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
    rate: float | None = None
    """Requests a second both servers get (an open loop); ``None``: each as
    many as it answers (``Budget``'s closed loop)."""

    @property
    def wanted(self) -> str:
        return f"{'≤' if self.cpu else '≥'} {self.factor:g} ×"

    def ratio(self, ours: Turn, theirs: Turn) -> float:
        if self.cpu:
            return _safe(ours.cpu_ms, theirs.cpu_ms)
        return _safe(ours.rate, theirs.rate)

    def met(self, ratio: float) -> bool:
        return ratio <= self.factor if self.cpu else ratio >= self.factor


SAME_RATE = 40.0
"""Requests a second of the CPU target's second measurement: under both
servers' most on the benchmark's two cores (ours 76–85 uncached 360 views a
second, Hive's 87–88, the run of 01:27, 2026-12-06)."""

UNCACHED_CPU = Contest(
    "uncached 360 view: gateway CPU per view against Hive",
    CUSTOMER_360,
    MODES[1].name,
    "uncached",
    HIVE,
    1.0,
    cpu=True,
)

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
    UNCACHED_CPU,
    replace(
        UNCACHED_CPU,
        name=f"uncached 360 view at {SAME_RATE:g} req/s each: gateway CPU per "
        "view against Hive",
        rate=SAME_RATE,
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
    busy: float = math.nan
    """Share of the machine's CPU time (every core's) busy during the load:
    the server's, the load generator's, Redis's, the idle server's."""
    stolen: float = math.nan
    """Share the hypervisor took for other guests during the load."""
    upstream_cpu_ms: float = math.nan
    """CPU milliseconds of the simulators' processes per request sent: what
    the server's calls cost the upstreams, on the same cores here."""


@dataclass(frozen=True, slots=True)
class Round:
    contest: Contest
    ours: Turn
    theirs: Turn
    first: str
    """``ours`` or ``peer``: which was loaded first."""

    @property
    def ratio(self) -> float:
        """Ours against the peer's; ``nan`` when either answered with errors
        (an erring server's rate and CPU per request mean nothing)."""
        if self.ours.errors or self.theirs.errors:
            return math.nan
        return self.contest.ratio(self.ours, self.theirs)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A contest's rounds, summed up: judged met when more than half of the
    rounds with a ratio meet it (with four rounds, three), so that a median
    between a miss and a pass is not a pass."""

    median: float
    low: float
    high: float
    met_in: int
    rounds: int
    """Rounds with a ratio."""

    @property
    def met(self) -> bool:
        return self.met_in * 2 > self.rounds

    @classmethod
    def of(cls, rounds: Sequence[Round]) -> Verdict | None:
        ratios = [r.ratio for r in rounds if not math.isnan(r.ratio)]
        if not ratios:
            return None
        met_in = sum(rounds[0].contest.met(x) for x in ratios)
        median = statistics.median(ratios)
        return cls(median, min(ratios), max(ratios), met_in, len(ratios))


@dataclass(frozen=True, slots=True)
class Contestant:
    """A server up for the rounds: its client, what to send it by shape key,
    and the process whose CPU counts."""

    client: httpx.AsyncClient
    requests: Mapping[str, Request]
    pid: int
    upstreams: Sequence[int] = ()
    """The simulators' processes, when served apart: their CPU is counted."""


async def turn(
    contestant: Contestant, shape: Shape, budget: Budget, rate: float | None = None
) -> Turn:
    """``budget``'s continuous load of ``shape`` on ``contestant`` (``rate``
    requests a second for its duration, if given), and the CPU its upstreams'
    processes spent meanwhile."""
    request = contestant.requests[shape.key]
    loaded = (
        closed_loop(contestant.client, request, budget)
        if rate is None
        else open_loop(contestant.client, lambda: request, rate, budget.duration)
    )
    upstreams = contestant.upstreams
    await settled(contestant.pid)  # nothing left of a warm-up or an earlier turn
    machine = MachineTimes.now()
    upstream_before = sum(tree_cpu_seconds(pid) for pid in upstreams)
    ended: list[tuple[MachineTimes | None, float]] = []

    async def load_then_read() -> Timings:
        """The load; the machine's and the upstreams' times as it ends (the
        server's own are read once it settled, ``cpu_during``)."""
        timings = await loaded
        upstream_after = sum(tree_cpu_seconds(pid) for pid in upstreams)
        ended.append((MachineTimes.now(), upstream_after))
        return timings

    load, cpu = await cpu_during(contestant.pid, load_then_read())
    after, upstream_after = ended[0]
    upstream_cpu = upstream_after - upstream_before
    busy, stolen = after.shares_since(machine) if after else (math.nan, math.nan)
    sent = load.count + load.errors
    per_request = cpu / sent * 1000 if sent else math.nan
    per_call = upstream_cpu / sent * 1000 if sent and upstreams else math.nan
    return Turn(load.per_second, per_request, load.errors, busy, stolen, per_call)


async def alternate(
    contest: Contest,
    ours: Contestant,
    theirs: Contestant,
    *,
    rounds: int,
    budget: Budget,
) -> list[Round]:
    """``rounds`` rounds of ``contest``: ours first in the first round, the
    peer first in the second, and so on (an even number of rounds puts each
    first as often)."""
    found: list[Round] = []
    for number in range(rounds):
        shape, rate = contest.shape, contest.rate
        if number % 2 == 0:
            mine = await turn(ours, shape, budget, rate)
            other = await turn(theirs, shape, budget, rate)
        else:
            other = await turn(theirs, shape, budget, rate)
            mine = await turn(ours, shape, budget, rate)
        found.append(Round(contest, mine, other, "ours" if number % 2 == 0 else "peer"))
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
    upstreams: Sequence[int] = (),
) -> tuple[list[Round], dict[str, str]]:
    """Each contest with a pair of servers of its own (``ours`` and ``peer``
    serve one and give its client), both warmed up on its shape alone, then
    ``alternate``d: the rounds, and the contests that could not run, with why.
    ``upstreams``: the simulators' processes, whose CPU each turn reads too.

    A server of its own per contest: with one Hive server for the warm page's
    rounds and then the warm 360's, its 360 rate read 1,697–1,700 req/s in
    the first two 360 rounds and 3,144–3,850 in the last two (the run of
    19:14, 2026-12-05)."""
    found: list[Round] = []
    skipped: dict[str, str] = {}
    modes = {m.name: m for m in MODES}
    peers = {p.name: p for p in PEERS}
    for contest in contests:
        say(f"alternated rounds: {contest.name}")
        mode, other = modes[contest.mode], peers[contest.peer]
        try:
            async with (
                ours(mode) as (ours_up, ours_client),
                peer(other) as (theirs_up, theirs_client),
            ):
                sides = (
                    Contestant(
                        ours_client, our_requests, ours_up.process.pid, upstreams
                    ),
                    Contestant(
                        theirs_client,
                        peer_requests(other),
                        theirs_up.process.pid,
                        upstreams,
                    ),
                )
                for side in sides:
                    sent = [side.requests[contest.shape.key]]
                    await warm_up(side.client, sent, warm, workers=workers)
                found += await alternate(contest, *sides, rounds=rounds, budget=budget)
        except PeerUnavailable as exc:
            say(f"  skipped: {exc}")
            skipped[contest.name] = str(exc).splitlines()[0]
    return found, skipped


def _safe(ours: float, theirs: float) -> float:
    if math.isnan(ours) or math.isnan(theirs) or theirs <= 0:
        return math.nan
    return ours / theirs
