"""The Redis breaker's states: closed passes calls, a failure (an error or a
timeout) opens it, open skips every call without touching Redis, one probe at
a time finds Redis back, and recovery runs its hooks and wakes the waiters."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.shared_redis.breaker import DOWN, RedisBreaker, pauses


class FakeRedis:
    """A probe that fails while ``down``, counting calls and probes."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        self.probes = 0
        self.probing = 0
        self.most_probing = 0
        self.resets = 0

    async def call(self) -> str:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("refused")
        return "answer"

    async def ping(self) -> bool:
        self.probes += 1
        self.probing += 1
        self.most_probing = max(self.most_probing, self.probing)
        try:
            await asyncio.sleep(0.002)
            if self.down:
                raise RedisTimeoutError("no answer")
            return True
        finally:
            self.probing -= 1

    async def reset(self) -> None:
        self.resets += 1


def breaker_over(redis: FakeRedis) -> RedisBreaker:
    return RedisBreaker(
        redis.ping, reset=redis.reset, first_pause=0.001, max_pause=0.004
    )


async def until(condition: Callable[[], object], limit: int = 2000) -> None:
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


def test_probes_wait_a_quarter_second_then_twice_as_long_up_to_five() -> None:
    assert list(itertools.islice(pauses(0.25, 5.0), 8)) == [
        0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0
    ]  # fmt: skip


async def test_a_closed_breaker_passes_calls_through() -> None:
    redis = FakeRedis()
    breaker = breaker_over(redis)
    assert await breaker.run("get", redis.call) == "answer"
    assert breaker.closed
    assert (redis.calls, redis.probes, breaker.outages) == (1, 0, 0)


@pytest.mark.parametrize(
    "error", [RedisConnectionError("refused"), RedisTimeoutError("slow"), OSError()]
)
async def test_one_failure_opens_it_and_open_it_skips_redis(
    error: BaseException,
) -> None:
    redis = FakeRedis()
    breaker = RedisBreaker(redis.ping, reset=redis.reset, first_pause=60)

    async def failing() -> str:
        redis.calls += 1
        raise error

    assert await breaker.run("get", failing) is DOWN
    assert not breaker.closed
    assert breaker.outages == 1
    for _ in range(100):
        assert await breaker.run("get", redis.call) is DOWN
    assert redis.calls == 1  # nothing reached Redis after the failure
    await breaker.aclose()


async def test_one_probe_at_a_time_and_recovery_closes_it_and_runs_hooks() -> None:
    redis = FakeRedis()
    breaker = breaker_over(redis)
    recovered: list[bool] = []

    async def hook() -> None:
        recovered.append(breaker.closed)  # runs once the breaker is closed

    breaker.on_recovery(hook)
    redis.down = True
    assert await breaker.run("get", redis.call) is DOWN
    # More failures while open (calls that were on the wire) add no probe.
    for _ in range(5):
        breaker.failed("get", RedisError("late"))
    await until(lambda: redis.probes >= 5)
    assert redis.most_probing == 1
    assert recovered == []
    redis.down = False
    await asyncio.wait_for(breaker.wait_closed(), 5)
    await until(lambda: recovered)
    assert recovered == [True]
    assert redis.resets == 1  # the connections dropped once, at the opening
    assert breaker.outages == 1
    assert await breaker.run("get", redis.call) == "answer"


async def test_a_failing_hook_does_not_stop_the_others() -> None:
    redis = FakeRedis()
    breaker = breaker_over(redis)
    ran: list[str] = []

    async def broken() -> None:
        raise ValueError("a bug")

    async def fine() -> None:
        ran.append("fine")

    breaker.on_recovery(broken)
    breaker.on_recovery(fine)
    breaker.failed("get", RedisError("refused"))
    await until(lambda: ran)
    assert breaker.closed


async def test_a_new_failure_after_recovery_opens_it_again() -> None:
    redis = FakeRedis()
    breaker = breaker_over(redis)
    breaker.failed("get", RedisError("refused"))
    await asyncio.wait_for(breaker.wait_closed(), 5)
    breaker.failed("set", RedisError("refused"))
    assert not breaker.closed
    assert breaker.outages == 2
    await asyncio.wait_for(breaker.wait_closed(), 5)
    assert redis.resets == 2


def held_breaker(redis: FakeRedis) -> RedisBreaker:
    """A breaker whose first pause is long: a probe within the test is the
    one made at once."""
    return RedisBreaker(
        redis.ping, reset=redis.reset, first_pause=60, max_pause=60, timeout=0.01
    )


async def held_then_timed_out() -> str:
    """A reply that was on time, read once the event loop let go: the
    timeout fired late (here the loop is held three timeouts long)."""
    time.sleep(0.03)
    raise RedisTimeoutError("Timeout reading from socket")


async def test_a_failure_after_the_event_loop_was_held_probes_at_once() -> None:
    redis = FakeRedis()
    breaker = held_breaker(redis)
    recovered: list[str] = []

    async def hook() -> None:
        recovered.append("ran")

    breaker.on_recovery(hook)
    assert await breaker.run("bucket", held_then_timed_out) is DOWN
    assert not breaker.closed  # the caller was answered DOWN: recovery follows
    assert breaker.outages == 1
    await until(lambda: breaker.closed, limit=500)
    assert recovered == ["ran"]
    assert (redis.probes, redis.resets) == (1, 1)
    await breaker.aclose()


async def test_a_held_loop_with_redis_really_down_falls_back_to_the_pauses() -> None:
    redis = FakeRedis()
    redis.down = True
    breaker = held_breaker(redis)
    assert await breaker.run("get", held_then_timed_out) is DOWN
    await until(lambda: redis.probes == 1, limit=500)
    await asyncio.sleep(0.05)
    assert not breaker.closed
    assert redis.probes == 1  # then the first pause (60 s here)
    await breaker.aclose()


async def test_a_failure_in_time_waits_the_first_pause_before_probing() -> None:
    redis = FakeRedis()
    breaker = held_breaker(redis)

    async def timed_out() -> str:
        raise RedisTimeoutError("Timeout reading from socket")

    assert await breaker.run("get", timed_out) is DOWN
    await asyncio.sleep(0.05)
    assert not breaker.closed
    assert redis.probes == 0
    await breaker.aclose()
