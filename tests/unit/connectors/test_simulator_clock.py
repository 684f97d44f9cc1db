"""The simulators' scaled clock, and Shopify's bucket restoring in its time:
what lets the soak (``bench/soak.py``) run a vendor's hour in minutes."""

from __future__ import annotations

import pytest

from connectors.shopify.simulator.bucket import LeakyBucket
from connectors.simulator_clock import ScaledClock


class Wall:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_scaled_clock_runs_factor_times_faster_and_converts_durations() -> None:
    wall = Wall()
    clock = ScaledClock(60, wall)
    start = clock()
    wall.now += 2.0
    assert clock() - start == pytest.approx(120.0)
    assert clock.real(60.0) == pytest.approx(1.0)
    assert clock.simulated(0.5) == pytest.approx(30.0)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0)


def test_shopifys_bucket_restores_its_rate_per_second_of_its_clock() -> None:
    wall = Wall()
    bucket = LeakyBucket(2000, 100, ScaledClock(30, wall))
    bucket.drain()
    wall.now += 0.1  # 3 simulated seconds: 300 points
    assert bucket.status()["currentlyAvailable"] == 300
    assert not bucket.take(301)
    assert bucket.take(300)
    assert bucket.wait_for(100) == pytest.approx(1.0)  # in the bucket's seconds
