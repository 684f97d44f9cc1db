"""The benchmark's simulators served apart (``bench/upstreams.py``): each in a
process of its own, answering on its URL, its requests counted there and its
counts, resets and PostHog's lifted limits reached over its pipe; no process
is left once the block ends."""

from __future__ import annotations

import multiprocessing

import httpx

from bench.upstreams import posthog_rest_lifted, served_apart
from connectors.demo_world import World
from gateway.demo.simulation import GENEROUS, POSTHOG_KEY
from tests.conftest import ANSWER_WAIT

PERSONS_PER_MINUTE = 240
"""PostHog's limit on its persons endpoint (the simulator's default)."""


async def test_each_simulator_is_served_and_counted_in_a_process_of_its_own() -> None:
    world = World(seed=42, size=10)
    async with served_apart(
        world, latency=0, posthog_queries_per_hour=GENEROUS
    ) as simulators:
        processes = simulators.pipes
        assert set(simulators.urls) == {"shopify", "zendesk", "posthog"}
        assert len({url for url in simulators.urls.values()}) == 3
        simulators.reset_counts()
        assert simulators.total_requests() == {"shopify": 0, "zendesk": 0, "posthog": 0}

        persons = f"{simulators.urls['posthog']}/api/projects/1/persons/"
        auth = {"Authorization": f"Bearer {POSTHOG_KEY}"}
        async with httpx.AsyncClient(headers=auth, timeout=ANSWER_WAIT) as http:
            assert (await http.get(persons)).status_code == 200
            assert simulators.total_requests()["posthog"] == 1
            assert simulators.endpoint_counts() == {"posthog persons": 1}
            simulators.reset_counts()
            assert simulators.total_requests()["posthog"] == 0

            # the peers' lift reaches the process that serves PostHog
            with posthog_rest_lifted(simulators):
                for _ in range(PERSONS_PER_MINUTE):
                    assert (await http.get(persons)).status_code == 200
            assert (await http.get(persons)).status_code == 429  # restored

        # the benchmark's own copies hold the same world's data
        assert simulators.shopify.store.customers
    assert all(pipe.closed for pipe in processes.values())
    assert not [
        p for p in multiprocessing.active_children() if p.name.startswith("bench-")
    ]
