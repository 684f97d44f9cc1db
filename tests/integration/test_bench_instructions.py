"""``python -m bench.instructions`` counts the instructions of 360 views under
valgrind's callgrind: its views answer in each shape, a counted run reports
a count, and the count is read from callgrind's own output file."""

from __future__ import annotations

import pytest

from bench import instructions
from tests.servers import POSTGRES_URL, REDIS_URL, needed


@pytest.mark.parametrize("mode", instructions.MODES)
async def test_the_views_it_counts_answer(mode: str) -> None:
    """Each mode's views answer (``held``'s from the worker's memory: it
    stops when nothing was held), on the test servers."""
    await instructions.views(mode, 2, 20, counted=False, redis_url=REDIS_URL)


async def test_its_views_answer_on_postgresql_as_production_runs() -> None:
    await instructions.views(
        "executed", 2, 20, counted=False, database_url=POSTGRES_URL
    )


def test_a_counted_run_reports_the_instructions_of_its_views() -> None:
    needed("valgrind", "callgrind_control")
    counted = instructions.per_view("executed", 1, 20)
    assert 10**6 < counted < 10**9  # ~50 M today: a view, not a start-up


def test_the_count_is_callgrinds_totals_line() -> None:
    out = "version: 1\nevents: Ir\nsummary: 0\nfn=(1) main\n16 3\ntotals: 951253541\n"
    assert instructions.totals(out) == 951253541
    with pytest.raises(ValueError, match="no totals"):
        instructions.totals("events: Ir\n")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--views", "0"], "at least"),
        (["--customers", "5"], "at least"),
        (["--database-url", "sqlite:///bench.db"], "PostgreSQL"),
    ],
)
def test_it_refuses_what_it_cannot_count(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        instructions.main(argv)
    assert refused.value.code == 2
    assert said in capsys.readouterr().err
