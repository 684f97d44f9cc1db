"""A Redis outage under a help desk's load costs neither failures nor waits
nor live events (issue 16): the gateway served by uvicorn with two workers,
Customer 360 views at 20 a second, a subscription held throughout, and a
Redis server of the test's own stopped (SIGSTOP: hung) then killed (refused
connections) and restarted. ``bench/outage.py`` runs it; ``python -m
bench.outage`` runs it with 20 s phases for docs/benchmarks.md.

Asserted generously, because the machine is shared: each outage's median
within twice the median of the same load on a gateway without any cache (what
a view costs from the upstreams), measured in the same run. The median, not a
tail: one stall of the machine decides a phase's slowest few of 100 requests
(the suite's other workers run beside this test; once the refused phase's p99
was 1.2 s with its p50 at 127 ms, another time its p95 was 550 ms against a
reference of 174, the same phase 94 ms at most when run alone). Without the
breaker every view would wait for Redis's timeouts (``CG_REDIS_TIMEOUT``,
several a view), which moves the median as much as the tail; upstream calls
during an outage at most those of the warm phase before it plus one per
viewed customer and worker (the in-process tier answers repeated views);
zero failed requests; every tag added to the watched customer during or after
an outage pushed to the subscriber."""

from __future__ import annotations

import shutil

import pytest

from bench.outage import OutageOptions, render, run_outage
from bench.runner import CONNECTORS

PHASE = 5.0
"""Seconds per phase: the issue's 20 s outage compressed, still a real
stopped, killed and restarted redis-server."""

READ_DEADLINE = 30.0
"""The gateways' read deadline: a view answered late is measured against the
reference; on a saturated CI machine the uncached reference's views
went past the default 2 s and were answered as partial errors (20 of 100), a
fact about the machine, not about Redis outages."""


async def test_a_redis_outage_under_load_fails_nothing_waits_little_loses_nothing():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    options = OutageOptions(phase=PHASE, read_deadline=READ_DEADLINE)
    report = await run_outage(options, print)
    print(render(report))

    reference = report.phase("no cache").timings.percentile_ms(50)
    before = report.phase("before")
    for phase in report.phases:
        assert phase.timings.errors == 0, phase.name
    for name in ("hung", "refused"):
        outage = report.phase(name)
        assert outage.timings.percentile_ms(50) <= 2 * reference, name
        for connector in CONNECTORS:
            bound = before.calls[connector] + options.viewed * options.workers
            assert outage.calls[connector] <= bound, (name, connector)
    for name in ("hung", "back", "refused", "restarted"):
        phase = report.phase(name)
        assert phase.events_received == len(phase.tags) == options.events, name
