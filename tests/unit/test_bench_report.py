"""How the benchmark's report writes counts per query."""

from __future__ import annotations

import pytest

from bench.report import _n


@pytest.mark.parametrize(
    ("value", "written"),
    [(3.0, "3"), (0.0, "0"), (0.5, "0.50"), (1 / 3, "0.33"), (3 / 2400, "0.0013")],
)
def test_a_count_per_query_never_reads_zero_when_calls_were_made(
    value: float, written: str
) -> None:
    assert _n(value) == written
