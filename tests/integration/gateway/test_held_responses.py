"""Stored answers a worker holds in its memory (``gateway.cache.held``): a hit
then reads only the versions from Redis; a change through any replica is seen
at once all the same; another replica's answer is read whole once, then held;
an erasure drops what is held; with no memory given, every hit reads the
answer from Redis as before."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.cache import held as held_module
from gateway.cache.held import CLOCK_TOLERANCE, OVERHEAD, Held, HeldEntries
from gateway.cache.responses import _current
from gateway.guard.bucket import TokenBucket
from tests.conftest import counting_statements
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.test_response_cache import (
    first_customer,
    sidebar,
    tag_customer,
)


@pytest.fixture
def readings(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The keys read with each rate-limit token taken (``take_reading``)."""
    seen: list[list[str]] = []
    take_reading = TokenBucket.take_reading

    async def recorded(
        self: TokenBucket, key: str, reading: Sequence[str]
    ) -> tuple[float, list[bytes | None] | None]:
        seen.append(list(reading))
        return await take_reading(self, key, reading)

    monkeypatch.setattr(TokenBucket, "take_reading", recorded)
    return seen


def entry_read(reading: list[str]) -> bool:
    return any(":response:" in key for key in reading)


async def test_a_held_answer_costs_a_read_of_its_versions_only(
    replicas: tuple[Gateway, Gateway], readings: list[list[str]]
) -> None:
    first, _ = replicas
    customer_id = await first_customer(first)
    stored = await sidebar(first, customer_id)  # executed, stored, held
    readings.clear()
    first.simulators.reset_counts()
    assert await sidebar(first, customer_id) == stored
    assert len(readings) == 1
    assert readings[0]
    assert not entry_read(readings[0])
    assert sum(first.simulators.total_requests().values()) == 0


async def test_another_replicas_answer_is_read_whole_once_then_held(
    replicas: tuple[Gateway, Gateway], readings: list[list[str]]
) -> None:
    first, second = replicas
    customer_id = await first_customer(first)
    stored = await sidebar(first, customer_id)
    await sidebar(second, customer_id)  # the request is known to it now
    second.services.responses.held.clear()  # as a replica that never held it
    readings.clear()
    second.simulators.reset_counts()
    assert await sidebar(second, customer_id) == stored
    assert await sidebar(second, customer_id) == stored
    assert [entry_read(r) for r in readings] == [True, False]
    assert sum(second.simulators.total_requests().values()) == 0


async def test_a_change_through_another_replica_is_seen_at_once(
    replicas: tuple[Gateway, Gateway], readings: list[list[str]]
) -> None:
    first, second = replicas
    customer_id = await first_customer(first)
    await sidebar(first, customer_id)
    await sidebar(first, customer_id)  # a hit of the held answer
    assert readings
    assert not entry_read(readings[-1])
    await tag_customer(second, customer_id, "held")
    tags = (await sidebar(first, customer_id))["data"]["customer"]["tags"]
    assert "held" in tags
    # the stale copy was let go: the next answer is the new one, held again
    assert (await sidebar(first, customer_id))["data"]["customer"]["tags"] == tags


async def test_a_stale_copy_gives_way_to_what_another_replica_stored(
    replicas: tuple[Gateway, Gateway], readings: list[list[str]]
) -> None:
    """After a change, a worker whose copy went stale reads the answer
    another replica stored since, rather than executing the query again."""
    first, second = replicas
    customer_id = await first_customer(first)
    await sidebar(first, customer_id)  # held by the first
    await tag_customer(second, customer_id, "moved")
    fresh = await sidebar(second, customer_id)  # executed and stored there
    with counting_statements(first.services.engine) as sql:
        assert await sidebar(first, customer_id) == fresh
    assert not [s for s in sql.statements if "customers" in s]
    assert entry_read(readings[-1]) is False  # it held a copy: versions first


async def test_an_erasure_here_drops_every_held_answer(
    replicas: tuple[Gateway, Gateway],
) -> None:
    first, _ = replicas
    customer_id = await first_customer(first)
    await sidebar(first, customer_id)
    responses = first.services.responses
    assert responses is not None
    assert responses.held.size > 0
    await responses.purge_customers([12345])
    assert responses.held.size == 0


@pytest.fixture
def unheld(replicas: tuple[Gateway, Gateway]) -> Gateway:
    """A replica given no memory for answers (``CG_RESPONSE_CACHE_HELD_MB=0``)."""
    first, _ = replicas
    responses = first.services.responses
    assert responses is not None
    responses.held = HeldEntries(0, responses.ttl)
    return first


async def test_with_no_memory_given_every_hit_reads_the_answer(
    unheld: Gateway, readings: list[list[str]]
) -> None:
    customer_id = await first_customer(unheld)
    stored = await sidebar(unheld, customer_id)
    readings.clear()
    for _ in range(2):
        assert await sidebar(unheld, customer_id) == stored
    assert [entry_read(r) for r in readings] == [True, True]


class Clock:
    """``time`` as ``gateway.cache.held`` reads it, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(held_module, "time", clock)
    return clock


def held(at: float, size: int = 10, versions: tuple[str, ...] = ("a",)) -> Held:
    shown: Any = {'["email"]': [1]}
    return Held(versions, shown, b"x" * size, at, size)


def test_a_copy_is_served_within_its_ttl_only(clock: Clock) -> None:
    entries = HeldEntries(budget=1000, ttl=60)
    entries.keep("k", held(at=clock.now))
    clock.now += 59.9
    assert entries.get("k") is not None
    clock.now += 0.1
    assert entries.get("k") is None
    assert "k" not in entries
    assert entries.size == 0


def test_a_copy_read_late_is_held_for_what_is_left_of_its_ttl(clock: Clock) -> None:
    entries = HeldEntries(budget=1000, ttl=60)
    entries.keep("late", held(at=clock.now - 50))
    clock.now += 9.9
    assert entries.get("late") is not None
    clock.now += 0.1
    assert entries.get("late") is None
    entries.keep("past", held(at=clock.now - 60))
    assert "past" not in entries


def test_a_store_time_ahead_of_this_clock_is_not_held(clock: Clock) -> None:
    """A storing worker whose clock runs ahead would stretch the TTL here."""
    entries = HeldEntries(budget=1000, ttl=60)
    entries.keep("ahead", held(at=clock.now + 1000))
    assert "ahead" not in entries
    entries.keep("close", held(at=clock.now + CLOCK_TOLERANCE / 2))
    assert "close" in entries


def test_the_oldest_copies_make_room_within_the_budget(clock: Clock) -> None:
    entries = HeldEntries(budget=25, ttl=60)
    for key in "abc":
        entries.keep(key, held(at=clock.now))
        clock.now += 1
    assert ("a" in entries, "b" in entries, "c" in entries) == (False, True, True)
    assert entries.size == 20
    entries.keep("b", held(at=clock.now, size=5))  # replaced: its size too
    assert entries.size == 15
    entries.keep("huge", held(at=clock.now, size=26))  # over the budget alone
    assert "huge" not in entries
    assert entries.size == 15


def test_a_copy_is_counted_with_its_header_and_overhead() -> None:
    header = b'{"versions":["a","b"],"shown":{"[]":[1,2,3]},"at":1.0}'
    copy = Held.of(("a", "b"), {"[]": [1, 2, 3]}, b"x" * 100, 1.0, header)
    assert copy.size == 100 + 8 * len(header) + OVERHEAD


def test_a_header_that_cannot_be_read_is_a_miss() -> None:
    for header in (b'{"versions":["a"],"shown":{}}', b"not json", b'{"versions":1}'):
        assert _current(header + b"\x00{}", [b"a"]) is None
    assert _current(b'{"versions":["a"],"shown":{},"at":1}\x00{}', [b"a"]) is not None


async def test_an_idle_worker_lets_its_copies_go_when_their_time_is_up() -> None:
    """Traffic or not: an erased customer's copy is gone within two TTLs."""
    entries = HeldEntries(budget=10_000, ttl=0.05)
    entries.keep("k", held(at=time.time()))
    assert "k" in entries
    await asyncio.sleep(0.12)
    assert "k" not in entries
    assert entries.size == 0


async def test_without_redis_nothing_is_held(cached: Gateway) -> None:
    """In process, the stored answers are in the worker's memory already."""
    if cached.services.redis is not None:
        pytest.skip("the gateway has Redis")
    customer_id = await first_customer(cached)
    stored = await sidebar(cached, customer_id)
    assert await sidebar(cached, customer_id) == stored
    responses = cached.services.responses
    assert responses is not None
    assert responses.held.size == 0
