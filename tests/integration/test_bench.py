"""The benchmark runs end to end in quick mode: a report with every shape and
mode, upstream-call counts that make sense, and the hand-written part of the
report kept. Timings are not asserted: they
depend on the machine, and the benchmark exists to report them, not to gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import parse
from bench.queries import CUSTOMER_PAGE, SHAPES
from bench.report import END_OF_FIGURES, write
from bench.runner import MODES, run
from tests.servers import REDIS_URL, require


@pytest.fixture
def redis_url() -> str:
    require("redis", REDIS_URL, 6379)
    return REDIS_URL


async def test_quick_run_reports_every_shape_and_warm_queries_call_no_upstream(
    redis_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "benchmarks.md"
    options, path = parse(
        [
            "--quick",
            "--customers",
            "10",
            "--workers",
            "1",
            "--requests",
            "5",
            "--samples",
            "2",
            "--duration",
            "1",
            "--warm-up",
            "0.2",
            "--latency-ms",
            "0",
            "--redis-url",
            redis_url,
            "--output",
            str(output),
            "--peers",
            "none",  # tests/integration/test_bench_peers.py runs them
        ]
    )
    assert path == output
    output.write_text(f"old figures\n{END_OF_FIGURES}\n## Profile\nkept\n")

    report = await run(options, lambda line: None)
    write(report, output)

    cells = {(m.shape.key, m.mode.name, m.state): m for m in report.measurements}
    # cached mode: cold + warm, and the page of customers after another changed
    assert len(cells) == len(SHAPES) * (len(MODES) + 1) + 1
    for measurement in report.measurements:
        assert measurement.single.errors == measurement.load.errors == 0
        assert measurement.single.count >= 1
        assert measurement.load.count >= 1
        assert measurement.load_cpu >= 0  # read from /proc: never nan on Linux
    for shape in SHAPES:
        cold = cells[shape.key, "loaders + cache", "cold"].calls
        warm = cells[shape.key, "loaders + cache", "warm"].calls
        uncached = cells[shape.key, "loaders, no cache", "uncached"].calls
        assert warm.total == 0
        assert cold.total >= shape.expected_pairs
        assert uncached.connectors == cold.connectors  # the cache only saves calls
    assert (CUSTOMER_PAGE.key, "loaders + cache", "warm, list changed") in cells
    assert report.peers == []
    text = output.read_text()
    assert "## Targets" in text
    assert "old figures" not in text
    assert text.endswith(f"{END_OF_FIGURES}\n## Profile\nkept\n")
    assert all(f"## {shape.title}" in text for shape in SHAPES)
    assert "## Peers" not in text
