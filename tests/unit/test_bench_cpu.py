"""``bench.cpu.settled``: a measurement starts, and a load's CPU is read,
once the server's processes are idle again — a load's deferred work (our
audit entries, written for seconds after a warm page's load) is counted with
that load, not with the next measurement."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.cpu import PROC, SETTLE_LIMIT, cpu_during, settled, tree_cpu_seconds

pytestmark = pytest.mark.skipif(not PROC.is_dir(), reason="reads /proc (Linux)")

BURN = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("ready", flush=True)
sys.stdin.readline()
time.sleep({delay})
while time.process_time() < {seconds}:
    pass
time.sleep(60)
"""
"""A server stand-in with an idle worker: once told to (a line on its
stdin), idle for ``delay`` seconds (as our audit log's timer), then busy for
``seconds`` of CPU, then idle."""


@pytest.fixture(params=[0.0, 0.9], ids=["at-once", "after-a-timer"])
def server(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", BURN.format(seconds=0.6, delay=request.param)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its group: it and its worker, killed together
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        yield process
        os.killpg(process.pid, signal.SIGKILL)


async def test_an_idle_tree_is_settled_at_once(server: subprocess.Popen[str]) -> None:
    assert await settled(server.pid) < 0.05


async def test_it_waits_out_the_work_left_and_counts_it(
    server: subprocess.Popen[str],
) -> None:
    assert server.stdin is not None
    before = tree_cpu_seconds(server.pid)

    async def load() -> str:  # answered at once; the work goes on after it
        assert server.stdin is not None
        server.stdin.write("go\n")
        server.stdin.flush()
        return "answered"

    result, cpu = await cpu_during(server.pid, load())

    assert result == "answered"
    assert cpu >= 0.55  # the whole burn, though the load itself ended at once
    assert tree_cpu_seconds(server.pid) - before == pytest.approx(cpu, abs=0.03)
    assert await settled(server.pid) < 0.05  # nothing left for the next one


async def test_a_worker_that_exits_still_counts_in_its_parent() -> None:
    script = (
        "import subprocess, sys, time; "
        "subprocess.run([sys.executable, '-c', "
        "'import time\\nwhile time.process_time() < 0.5: pass']); "
        "time.sleep(60)"
    )
    with subprocess.Popen([sys.executable, "-c", script]) as parent:
        try:
            before = tree_cpu_seconds(parent.pid)
            assert await settled(parent.pid) >= 0.4
            assert tree_cpu_seconds(parent.pid) - before >= 0.4
        finally:
            parent.kill()


async def test_a_gone_process_has_no_figure_and_is_not_waited_for() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert math.isnan(await settled(process.pid, limit=SETTLE_LIMIT))
