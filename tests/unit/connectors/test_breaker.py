"""The circuit breaker's states, on a clock the tests move."""

from __future__ import annotations

from connectors.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failures=3, base_interval=1.0, max_interval=4.0, clock=clock)


def test_a_closed_breaker_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    cut = breaker(clock)
    cut.failed()
    cut.failed()
    cut.answered()  # an answer in between: the count starts again
    cut.failed()
    cut.failed()
    assert cut.state is BreakerState.CLOSED
    assert cut.allow()
    cut.failed()
    assert cut.state is BreakerState.OPEN
    assert not cut.allow()
    assert cut.retry_in() == 1.0


def test_an_open_breaker_lets_one_probe_through_after_its_interval() -> None:
    clock = Clock()
    cut = breaker(clock)
    for _ in range(3):
        cut.failed()
    clock.now += 0.99
    assert not cut.allow()
    clock.now += 0.01
    assert cut.allow()  # the probe
    assert cut.state is BreakerState.HALF_OPEN
    assert not cut.allow()  # one probe at a time
    assert not cut.allow()


def test_an_answered_probe_closes_the_breaker_and_resets_its_interval() -> None:
    clock = Clock()
    cut = breaker(clock)
    for _ in range(3):
        cut.failed()
    clock.now += 1
    assert cut.allow()
    cut.failed()  # probe failed: open for 2 s
    clock.now += 2
    assert cut.allow()
    cut.answered()
    assert cut.state is BreakerState.CLOSED
    assert all(cut.allow() for _ in range(5))
    for _ in range(3):
        cut.failed()
    assert cut.retry_in() == 1.0  # back to the first interval


def test_each_failed_probe_doubles_the_interval_up_to_its_bound() -> None:
    clock = Clock()
    cut = breaker(clock)
    for _ in range(3):
        cut.failed()
    intervals = []
    for _ in range(4):
        intervals.append(cut.retry_in())
        clock.now += cut.retry_in()
        assert cut.allow()
        cut.failed()
    assert intervals == [1.0, 2.0, 4.0, 4.0]
    assert cut.state is BreakerState.OPEN


def test_an_abandoned_probe_lets_the_next_call_probe() -> None:
    clock = Clock()
    cut = breaker(clock)
    for _ in range(3):
        cut.failed()
    clock.now += 1
    assert cut.allow()
    assert not cut.allow()
    cut.abandoned()  # cancelled: no verdict
    assert cut.allow()
    assert cut.state is BreakerState.HALF_OPEN
