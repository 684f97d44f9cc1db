"""``python -m bench`` fails (exit 1) when one of our queries fails, not when
a peer does: a peer failing under load is one of the run's findings, shown
in its table's errors column and said on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as command
from bench.load import Timings
from bench.machine import describe
from bench.queries import CUSTOMER_360
from bench.runner import MODES, Calls, Measurement, Options, Report
from bench.subject import Subject


def row(errors: int) -> Measurement:
    answered = Timings((0.01,), 0, 0.01)
    load = Timings((0.01, 0.02), errors, 1.0)
    calls = Calls({"shopify": 1.0}, {})
    return Measurement(
        CUSTOMER_360, MODES[0], "warm", answered, load, "continuous", calls
    )


@pytest.mark.parametrize(
    ("ours", "theirs", "code"), [(0, 0, 0), (0, 3, 0), (2, 0, 1), (1, 1, 1)]
)
def test_the_run_fails_when_our_queries_fail_not_when_a_peers_do(
    ours: int,
    theirs: int,
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subject = Subject(customer_id=1, orders=1, tickets=1, events=1)
    report = Report(Options(), describe(), "sqlite", "Redis", subject, 0)
    report.logs = Path("logs")
    report.measurements = [row(ours), row(0)]
    report.peers = [row(theirs)]

    async def run(*_: Any) -> Report:
        return report

    monkeypatch.setattr(command, "run", run)
    monkeypatch.setattr(command, "render", lambda _: "figures")
    monkeypatch.setattr(command, "targets", lambda _: [])
    assert command.main(["--quick"]) == code
    said = capsys.readouterr().err
    assert (f"{ours} requests failed" in said) is bool(ours)
    assert (f"the peers failed {theirs} requests" in said) is bool(theirs)
