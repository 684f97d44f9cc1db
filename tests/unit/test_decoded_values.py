"""A cached value read again unchanged is not decoded again
(``gateway.cache.decoded``): remembered by its stored bytes, so a changed
value is new bytes and decoded at once, the TTL still counts from when the
value was fetched, and what is remembered stays within its budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest
from pydantic import TypeAdapter, ValidationError

from connectors.models import Ticket
from gateway.cache.backends import MemoryBackend
from gateway.cache.decoded import DecodedValues
from gateway.cache.read_through import ReadThrough


class Counted:
    """A ``TypeAdapter`` that counts its decodings."""

    def __init__(self, kind: Any) -> None:
        self.adapter = TypeAdapter(kind)
        self.decoded = 0

    @property
    def typed(self) -> TypeAdapter[Any]:
        """This, where a ``TypeAdapter`` is expected."""
        return cast(TypeAdapter[Any], self)

    def json_schema(self) -> dict[str, Any]:
        return self.adapter.json_schema()

    def dump_json(self, value: Any) -> bytes:
        return self.adapter.dump_json(value)

    def validate_json(self, raw: bytes) -> Any:
        self.decoded += 1
        return self.adapter.validate_json(raw)


def fetching(values: dict[str, Any]) -> Any:
    async def fetch(keys: Sequence[str]) -> dict[str, Any]:
        return {k: values[k] for k in keys if k in values}

    return fetch


async def test_a_value_stored_then_read_is_not_decoded() -> None:
    adapter = Counted(dict[str, int])
    cache = ReadThrough(MemoryBackend(), "test", adapter.typed, ttl=60)
    fetch = fetching({"a": {"n": 1}})
    assert await cache.load_many(["a"], fetch, {}) == [{"n": 1}]
    for _ in range(3):
        assert await cache.load_many(["a"], fetch, {}) == [{"n": 1}]
        assert await cache.peek_many(["a"]) == [{"n": 1}]
    assert adapter.decoded == 0


async def test_another_replica_decodes_a_value_once_and_a_changed_one_again() -> None:
    backend = MemoryBackend()
    writer = ReadThrough(backend, "test", TypeAdapter(list[int]), ttl=60)
    adapter = Counted(list[int])
    reader = ReadThrough(backend, "test", adapter.typed, ttl=60)
    values = {"a": [1, 2]}
    await writer.load_many(["a"], fetching(values), [])
    assert await reader.load_many(["a"], fetching({}), []) == [[1, 2]]
    assert await reader.load_many(["a"], fetching({}), []) == [[1, 2]]
    assert adapter.decoded == 1

    await writer.forget(["a"])
    values["a"] = [3]
    await writer.load_many(["a"], fetching(values), [])
    assert await reader.load_many(["a"], fetching({}), []) == [[3]]
    assert adapter.decoded == 2


async def test_a_remembered_value_past_its_ttl_is_fetched_again() -> None:
    cache = ReadThrough(MemoryBackend(), "test", TypeAdapter(int), ttl=60)
    values = {"a": 1}
    assert await cache.load_many(["a"], fetching(values), 0) == [1]
    values["a"] = 2
    assert await cache.load_many(["a"], fetching(values), 0) == [1]
    cache.ttl = -1.0  # every stored value is past it now
    assert await cache.load_many(["a"], fetching(values), 0) == [2]


def test_the_canonical_models_read_back_equal_to_what_was_stored() -> None:
    adapter = TypeAdapter(list[Ticket])
    raw = (
        b'[{"id":"7","requester_id":"9","subject":"Where is my order?","status":"open",'
        b'"created_at":"2026-12-01T10:00:00Z","updated_at":"2026-12-01T11:00:00Z"}]'
    )
    values = DecodedValues(adapter.validate_json)
    first = values(raw)
    assert values(bytes(raw)) is first  # equal bytes, not the same object
    assert first == adapter.validate_json(raw)


def test_the_least_recently_read_values_go_past_the_budget() -> None:
    decoded: list[bytes] = []

    def decode(raw: bytes) -> bytes:
        decoded.append(raw)
        return raw.upper()

    values = DecodedValues(decode, budget=10)
    for raw in (b"aaaa", b"bbbb", b"aaaa", b"cccc"):  # b is the oldest read
        values(raw)
    assert decoded == [b"aaaa", b"bbbb", b"cccc"]
    assert values(b"aaaa") == b"AAAA"
    assert values(b"bbbb") == b"BBBB"
    assert decoded[-1] == b"bbbb"  # was evicted: decoded again

    values(b"x" * 11)  # more than the whole budget: decoded, not kept
    values(b"x" * 11)
    assert decoded[-2:] == [b"x" * 11, b"x" * 11]


@pytest.mark.parametrize("raw", [b"", b"not json"])
def test_bytes_that_do_not_decode_raise_every_time(raw: bytes) -> None:
    adapter = TypeAdapter(int)
    values = DecodedValues(adapter.validate_json)
    for _ in range(2):
        with pytest.raises(ValidationError):
            values(raw)
