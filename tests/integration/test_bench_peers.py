"""The benchmark's peers (``bench/peers``) run at a tiny scale so their set-up
keeps working: the plain Strawberry app and Hive Gateway + Mesh, with and
without its response cache, answer both shapes without errors against the
simulators, and their upstream calls are counted where they happen. Timings
are not asserted. Hive needs Node.js: skipped without it on a laptop, a
failure in CI; ``npm ci`` runs once, its ``node_modules`` kept between runs."""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bench.__main__ import parse
from bench.database import bench_database, seed_world
from bench.load import Budget, Request, Timings
from bench.machine import describe
from bench.peers.hive import node_available
from bench.peers.report import peer_targets, peers_section, rounds_section
from bench.peers.rounds import CONTESTS, HIVE_CACHED
from bench.peers.run import PEERS, measure_peers, selected
from bench.queries import CUSTOMER_360, CUSTOMER_PAGE
from bench.runner import (
    MODES,
    Calls,
    Measurement,
    Mode,
    Options,
    OurGateway,
    Report,
    evict,
    measure_rounds,
)
from bench.subject import richest_customer
from connectors.demo_world import World
from gateway.demo.simulation import GENEROUS, simulated_upstreams
from tests.servers import REDIS_URL, require

NAMES = [peer.name for peer in PEERS]


@pytest.fixture
def node() -> None:
    if not node_available():
        reason = "Hive Gateway needs Node.js and npm (apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def test_the_peers_option_selects_the_peers() -> None:
    options, _ = parse(["--quick", "--peers", "none"])
    assert options.peers == "none"
    assert selected("none") == ()
    assert [p.family for p in selected("plain")] == ["plain"]
    assert [p.cached for p in selected("hive")] == [False, True]


async def test_every_peer_answers_both_shapes_and_its_calls_are_counted(
    node: None, tmp_path: Path
) -> None:
    world = World(seed=42, size=20)  # pages of ~20: a quick test
    async with simulated_upstreams(
        world, latency=0, posthog_queries_per_hour=GENEROUS
    ) as simulators:
        subject = richest_customer(world, simulators)
        listed = min(50, len(simulators.shopify.store.customers))
        found, skipped = await measure_peers(
            PEERS,
            simulators=simulators,
            subject=subject,
            workers=1,
            budget=Budget(concurrency=2, requests=4, duration=10),
            warm=Budget(concurrency=2, requests=4, duration=0.2),
            samples=2,
            sample_budget=10,
            logs=tmp_path,
            say=lambda line: None,
        )

    assert skipped == {}
    cells = {(m.mode.name, m.shape.key): m for m in found}
    assert len(cells) == len(PEERS) * 2
    for m in found:
        assert m.single.errors == m.load.errors == 0
        assert m.single.count >= 1
        assert m.load.count >= 1
        assert not math.isnan(m.load_cpu)

    def calls(peer: str, shape: str) -> dict[str, float]:
        return cells[peer, shape].calls.connectors

    # a resolver per field: profile and orders apart, the tickets read twice
    # (tickets, openTicketCount) after one user search, two PostHog reads
    plain = calls("plain Strawberry", CUSTOMER_360.key)
    assert plain == {"shopify": 2, "zendesk": 3, "posthog": 2}
    # Mesh sends Shopify one query; the joins are a call each, the tickets
    # after the user search
    hive = calls("Hive Gateway + Mesh", CUSTOMER_360.key)
    assert hive == {"shopify": 1, "zendesk": 2, "posthog": 2}
    page = calls("Hive Gateway + Mesh", CUSTOMER_PAGE.key)
    assert page["shopify"] == 1
    assert page["posthog"] == listed
    # a search per customer, then the tickets of those found
    assert listed < page["zendesk"] <= 2 * listed
    plain_page = calls("plain Strawberry", CUSTOMER_PAGE.key)
    assert plain_page["shopify"] == 1 + listed  # the list, then orders each
    # primed by the warm-up, the response cache answers without upstreams
    for shape in (CUSTOMER_360, CUSTOMER_PAGE):
        cached = cells["Hive Gateway + Mesh + responseCaching", shape.key]
        assert cached.state == "warm"
        assert cached.calls.total == 0

    report = Report(Options(), describe(), "sqlite", "Redis", subject, 0, peers=found)
    table = "\n".join(peers_section(report))
    assert all(f"| {peer.name} |" in table for peer in PEERS)

    # the targets against Hive, checked on stand-ins for our rows: Hive's own
    # figures (ratio 1) and the plain app's calls (more than Hive's)
    by_name = {name: [m for m in found if m.mode.name == name] for name in NAMES}
    report.measurements = [
        *(replace(m, mode=MODES[0], state="warm") for m in by_name[NAMES[2]]),
        *(replace(m, mode=MODES[1]) for m in by_name[NAMES[1]]),
        *(replace(m, mode=MODES[0], state="cold") for m in by_name[NAMES[0]]),
    ]
    met = [row[3] for row in peer_targets(report)]
    # warm page ≥ 1×, warm 360 ≥ 2×, uncached CPU ≤ 1×, calls ≤ peers' (×2)
    assert met == [True, False, True, False, False]


async def test_the_targets_against_hive_are_measured_again_in_alternated_rounds(
    node: None, tmp_path: Path
) -> None:
    """``measure_rounds`` as a run calls it after the peers: only Hive with its
    response cache ran, so only the two warm targets are measured again, with
    our gateway and that Hive server up together."""
    require("redis", REDIS_URL, 6379)
    world = World(seed=42, size=10)
    options = Options(redis_url=REDIS_URL, workers=1, concurrency=2, rounds=2)
    async with (
        bench_database(None) as database_url,
        simulated_upstreams(
            world, latency=0, posthog_queries_per_hour=GENEROUS
        ) as simulators,
    ):
        await seed_world(database_url, world)
        subject = richest_customer(world, simulators)
        hive_ran = Measurement(
            CUSTOMER_360,
            Mode(HIVE_CACHED, loaders=False, cache=True),
            "warm",
            Timings((), 0, 0.0),
            Timings((), 0, 0.0),
            "continuous",
            Calls({}, {}),
        )
        report = Report(
            # loads of 0.3 s: enough clock ticks for the CPU figures
            replace(options, requests=10**6, duration=0.3, warm_up=0.2),
            describe(),
            "sqlite",
            "Redis",
            subject,
            0,
            logs=tmp_path,
            peers=[hive_ran],
        )
        prefix = f"cg-test-rounds-{uuid.uuid4().hex[:8]}"
        ours = OurGateway(report.options, report, database_url, simulators, prefix)
        requests = {
            CUSTOMER_360.key: Request(CUSTOMER_360.document, {"id": subject.global_id}),
            CUSTOMER_PAGE.key: Request(CUSTOMER_PAGE.document, {}),
        }
        try:
            await measure_rounds(
                report.options, report, ours, requests, simulators, lambda line: None
            )
        finally:
            async with Redis.from_url(REDIS_URL) as redis:
                await evict(redis, prefix)

    warm = [c for c in CONTESTS if c.peer == HIVE_CACHED]
    assert len(warm) == 2  # the uncached CPU's peer did not run
    # each target's rounds in a row, the first swapped every round, each
    # round both servers loaded
    assert [r.contest for r in report.rounds] == [c for c in warm for _ in range(2)]
    assert [r.first for r in report.rounds] == ["ours", "peer"] * 2
    for r in report.rounds:
        for side in (r.ours, r.theirs):
            assert side.rate > 0
            assert side.errors == 0
            assert side.cpu_ms > 0
            assert 0 < side.busy <= 1
            # the simulators run in this process here, not apart: not read
            assert math.isnan(side.upstream_cpu_ms)
    # our gateway in the warm targets' mode, a pair of servers per target
    assert (tmp_path / f"{MODES[0].slug}-rounds.log").exists()
    assert not (tmp_path / f"{MODES[1].slug}-rounds.log").exists()
    assert report.peers_skipped == {}
    table = "\n".join(rounds_section(report))
    assert table.count("| ours |") == table.count("| peer |") == len(warm)
