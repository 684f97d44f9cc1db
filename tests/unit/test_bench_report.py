"""How the benchmark's report writes counts per query."""

from __future__ import annotations

import pytest

from bench.load import Timings
from bench.machine import describe
from bench.peers.report import peer_targets, rounds_section
from bench.peers.rounds import CONTESTS, Contest, Round, Turn
from bench.queries import CUSTOMER_360, Shape
from bench.report import _n
from bench.runner import Calls, Measurement, Mode, Options, Report
from bench.subject import Subject


@pytest.mark.parametrize(
    ("value", "written"),
    [(3.0, "3"), (0.0, "0"), (0.5, "0.50"), (1 / 3, "0.33"), (3 / 2400, "0.0013")],
)
def test_a_count_per_query_never_reads_zero_when_calls_were_made(
    value: float, written: str
) -> None:
    assert _n(value) == written


def _measured(
    mode: str, shape: Shape, state: str, rate: float, cpu_ms: float
) -> Measurement:
    """A row whose load answered ``rate`` requests a second for 1 s, each at
    ``cpu_ms`` of the server's CPU."""
    load = Timings((0.001,) * int(rate), 0, 1.0)
    return Measurement(
        shape,
        Mode(mode, loaders=True, cache=state == "warm"),
        state,
        load,
        load,
        "continuous",
        Calls({}, {}),
        rate * cpu_ms / 1000,
    )


def _turns(contest: Contest, ratios: list[float]) -> list[Round]:
    """Rounds of ``contest`` whose ratio (ours against the peer's) is each of
    ``ratios``."""
    peer = Turn(1000.0, 1.0, 0)
    return [
        Round(
            contest,
            Turn(1000.0 * r, 1.0, 0) if not contest.cpu else Turn(1.0, r, 0),
            peer,
        )
        for r in ratios
    ]


def test_a_target_measured_in_rounds_is_judged_by_their_median() -> None:
    warm_360 = CONTESTS[1]
    cpu = CONTESTS[2]
    report = Report(
        Options(),
        describe(),
        "sqlite",
        "Redis",
        Subject(1, 1, 1, 1),
        0,
        measurements=[
            _measured(warm_360.mode, CUSTOMER_360, "warm", 2100, 0.2),
            _measured(cpu.mode, CUSTOMER_360, "uncached", 80, 12.0),
        ],
        peers=[
            _measured(warm_360.peer, CUSTOMER_360, "warm", 1000, 0.5),
            _measured(cpu.peer, CUSTOMER_360, "uncached", 90, 8.0),
        ],
    )
    alone = {name: (measured, met) for name, _, measured, met in peer_targets(report)}
    # measured alone: 2.10 × (met), 1.50 × the CPU (missed)
    assert alone[warm_360.name] == ("2.10 × (2100 against 1000 req/s)", True)
    assert alone[cpu.name] == ("1.50 × (12.0 against 8.0 ms)", False)

    report.rounds = [*_turns(warm_360, [1.9, 2.2, 1.8]), *_turns(cpu, [0.9, 1.1, 0.95])]
    judged = {name: (measured, met) for name, _, measured, met in peer_targets(report)}
    assert judged[warm_360.name] == (
        "1.90 × (median of 3 alternated rounds, 1.80–2.20 ×; measured alone "
        "2.10 × (2100 against 1000 req/s))",
        False,
    )
    assert judged[cpu.name][1] is True  # median 0.95 ×
    table = rounds_section(report)
    rows = [line for line in table if line.startswith(f"| {warm_360.name} |")]
    assert [row.split(" | ")[2] for row in rows] == ["ours", "peer", "ours"]
    assert rows[0].endswith("| 1.90 |")
