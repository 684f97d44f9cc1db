"""How the benchmark's report writes counts per query, and judges the targets
measured in alternated rounds."""

from __future__ import annotations

import math

import pytest

from bench.__main__ import parse
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


def _report(measurements: list[Measurement], peers: list[Measurement]) -> Report:
    """A run's report holding these rows of ours and of the peers."""
    return Report(
        Options(),
        describe(),
        "sqlite",
        "Redis",
        Subject(1, 1, 1, 1),
        0,
        measurements=measurements,
        peers=peers,
    )


def _turns(contest: Contest, ratios: list[float]) -> list[Round]:
    """Rounds of ``contest`` whose ratio (ours against the peer's) is each of
    ``ratios``, ours first in odd rounds."""
    peer = Turn(1000.0, 1.0, 0, upstream_cpu_ms=4.0)
    return [
        Round(
            contest,
            Turn(1.0, r, 0, upstream_cpu_ms=15.0)
            if contest.cpu
            else Turn(1000.0 * r, 1.0, 0),
            peer,
            "ours" if n % 2 == 0 else "peer",
        )
        for n, r in enumerate(ratios)
    ]


def test_a_target_measured_in_rounds_is_met_when_most_of_its_rounds_meet_it() -> None:
    warm_360 = CONTESTS[1]
    cpu = CONTESTS[2]
    report = _report(
        [
            _measured(warm_360.mode, CUSTOMER_360, "warm", 2100, 0.2),
            _measured(cpu.mode, CUSTOMER_360, "uncached", 80, 12.0),
        ],
        [
            _measured(warm_360.peer, CUSTOMER_360, "warm", 1000, 0.5),
            _measured(cpu.peer, CUSTOMER_360, "uncached", 90, 8.0),
        ],
    )
    alone = {name: (measured, met) for name, _, measured, met in peer_targets(report)}
    # measured alone: 2.10 × (met), 1.50 × the CPU (missed)
    assert alone[warm_360.name] == ("2.10 × (2100 against 1000 req/s)", True)
    assert alone[cpu.name] == ("1.50 × (12.0 against 8.0 ms)", False)

    failing = Round(cpu, Turn(1.0, 0.5, 3), Turn(1000.0, 1.0, 0), "ours")
    report.rounds = [
        # a median of 2.05 ×, between two misses and two passes: not met
        *_turns(warm_360, [1.9, 2.2, 1.8, 2.3]),
        # three of four under 1 ×; a round with errors has no ratio
        *_turns(cpu, [0.9, 1.1, 0.95, 0.8]),
        failing,
    ]
    judged = {name: (measured, met) for name, _, measured, met in peer_targets(report)}
    assert judged[warm_360.name] == (
        "met in 2 of 4 alternated rounds (median 2.05 ×, 1.80–2.30 ×); measured "
        "alone 2.10 × (2100 against 1000 req/s)",
        False,
    )
    assert judged[cpu.name][0].startswith("met in 3 of 4 alternated rounds")
    assert judged[cpu.name][1] is True
    assert math.isnan(failing.ratio)
    table = rounds_section(report)
    rows = [line for line in table if line.startswith(f"| {warm_360.name} |")]
    assert [row.split(" | ")[2] for row in rows] == ["ours", "peer", "ours", "peer"]
    assert rows[0].endswith("| 1.90 | no |")
    assert table[-2].endswith("| 3 | – | – |")  # the round with errors
    # what the calls cost the simulators, ours / the peer's; not read: –
    cpu_rows = [line for line in table if line.startswith(f"| {cpu.name} |")]
    assert cpu_rows[0].split(" | ")[7] == "15.0 / 4.0"
    assert rows[0].split(" | ")[7] == "– / 4.0"


def test_a_target_at_a_rate_is_judged_by_its_rounds_alone() -> None:
    """Measured alone, each server ran at its own most: no figure of the
    contest's rate, so the target shows its rounds only, or nothing."""
    cpu, same_rate = (c for c in CONTESTS if c.cpu)
    report = _report(
        [_measured(cpu.mode, CUSTOMER_360, "uncached", 80, 12.0)],
        [_measured(cpu.peer, CUSTOMER_360, "uncached", 90, 8.0)],
    )
    assert same_rate.name not in {row[0] for row in peer_targets(report)}
    report.rounds = _turns(same_rate, [1.1, 0.9, 0.95, 0.98])
    judged = {name: (measured, met) for name, _, measured, met in peer_targets(report)}
    assert judged[same_rate.name] == (
        "met in 3 of 4 alternated rounds (median 0.96 ×, 0.90–1.10 ×)",
        True,
    )
    assert judged[cpu.name] == ("1.50 × (12.0 against 8.0 ms)", False)


@pytest.mark.parametrize("rounds", ["1", "3", "-2"])
def test_the_rounds_are_an_even_number(rounds: str) -> None:
    with pytest.raises(SystemExit):
        parse(["--quick", "--rounds", rounds])
