"""Script calls made together go to Redis in one pipeline
(``gateway.shared_redis.batched``), each keeping its own answer and its own
failure, on the real Redis; on a Redis Cluster each goes alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

from bench.redis_server import RedisServer
from bench.server import free_port
from gateway.shared_redis.batched import BatchedScript
from gateway.shared_redis.client import SharedRedis

ECHO = """
if ARGV[1] == 'fail' then return redis.error_reply('failed as asked') end
redis.call('INCR', KEYS[1])
return {KEYS[1], ARGV[1]}
"""
"""Counts its calls per key, answers its key and argument (or fails)."""


def fresh(script: str) -> str:
    """``script`` under a text of its own: Redis has never loaded it."""
    return f"-- {uuid.uuid4().hex}\n{script}"


@pytest.fixture
async def shared(redis_url: str) -> AsyncIterator[SharedRedis]:
    opened = SharedRedis.open(redis_url, timeout=2.0)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def pipelines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each pipeline written on the direct link (by a task, or
    at once on a link up)."""
    sizes: list[int] = []
    commands = BatchedScript._commands

    def counted(self: BatchedScript, calls: list[Any]) -> list[bytes]:
        sizes.append(len(calls))
        return commands(self, calls)

    monkeypatch.setattr(BatchedScript, "_commands", counted)
    return sizes


def key() -> str:
    return f"cg-test-batched:{{{uuid.uuid4().hex}}}"


async def test_calls_made_together_share_one_pipeline_each_its_own_answer(
    shared: SharedRedis, pipelines: list[int]
) -> None:
    script = BatchedScript(shared.client, fresh(ECHO))
    keys = [key() for _ in range(8)]
    answers = await asyncio.gather(*(script([k], [str(i)]) for i, k in enumerate(keys)))
    assert [(a.decode(), b.decode()) for a, b in answers] == [
        (k, str(i)) for i, k in enumerate(keys)
    ]
    for k in keys:  # each ran once, the pipeline sent again after loading
        assert await shared.client.get(k) == b"1"
    if isinstance(shared.client, Redis):
        assert pipelines == [8, 8]  # NOSCRIPT, loaded, sent again
        assert await script([key()], ["alone"])  # a call alone: one command,
        assert pipelines == [8, 8, 1]  # on the direct link (direct.py)
    else:  # a cluster: each call alone, to its keys' node
        assert pipelines == []


async def test_a_failing_call_fails_alone(shared: SharedRedis) -> None:
    script = BatchedScript(shared.client, ECHO)
    answers = await asyncio.gather(
        script([key()], ["one"]),
        script([key()], ["fail"]),
        script([key()], ["three"]),
        return_exceptions=True,
    )
    assert answers[0][1] == b"one"
    assert isinstance(answers[1], ResponseError)
    assert "failed as asked" in str(answers[1])
    assert answers[2][1] == b"three"


async def test_a_caller_that_gives_up_leaves_the_others_answered(
    shared: SharedRedis,
) -> None:
    script = BatchedScript(shared.client, ECHO)
    gone = asyncio.ensure_future(script([key()], ["gone"]))
    kept = asyncio.ensure_future(script([key()], ["kept"]))
    await asyncio.sleep(0)
    gone.cancel()
    assert (await kept)[1] == b"kept"
    assert gone.cancelled()


async def test_a_connection_error_is_every_callers_and_opens_the_breaker() -> None:
    down = SharedRedis.open(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        script = BatchedScript(down.client, ECHO)
        answers = await asyncio.gather(
            *(script([key()], [str(i)]) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(a, RedisConnectionError) for a in answers)
        ran = await asyncio.gather(
            *(down.breaker.run("bucket", lambda: script([key()], ["x"])) for _ in "ab")
        )
        assert not down.breaker.closed
        assert len(ran) == 2
    finally:
        await down.aclose()


async def test_after_a_flush_only_the_calls_redis_refused_run_again(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``SCRIPT FLUSH`` between two commands of one pipeline: the first
    ran, the others were refused; only those are sent again (a token is
    never taken twice). On a server of the test's own: a flush of the shared
    one would make other tests load their scripts again."""
    shared = SharedRedis.open(redis_server.url, timeout=2.0)
    script = BatchedScript(shared.client, fresh(ECHO))
    await shared.client.script_load(script.script.script)
    pipeline = BatchedScript._pipeline
    flushed = False

    async def flushed_midway(self: BatchedScript, calls: list[Any]) -> list[object]:
        nonlocal flushed
        if flushed:
            return await pipeline(self, calls)
        flushed = True
        head = await pipeline(self, calls[:1])
        await shared.client.script_flush()
        return head + await pipeline(self, calls[1:])

    monkeypatch.setattr(BatchedScript, "_pipeline", flushed_midway)
    keys = [key() for _ in range(3)]
    try:
        answers = await asyncio.gather(*(script([k], ["x"]) for k in keys))
        assert [a[0].decode() for a in answers] == keys
        assert [int(v) for v in await shared.client.mget(keys)] == [1, 1, 1]
    finally:
        await shared.client.delete(*keys)
        await shared.aclose()


async def test_calls_written_at_once_after_a_flush_run_once_each(
    redis_server: RedisServer, pipelines: list[int]
) -> None:
    """On a link already up the calls are written by a loop callback, not a
    task: those Redis refused for a script it lost (a restart, a flush) are
    sent again once it is loaded, each run once."""
    shared = SharedRedis.open(redis_server.url, timeout=2.0)
    script = BatchedScript(shared.client, fresh(ECHO))
    keys = [key() for _ in range(3)]
    try:
        assert await script([key()], ["up"])  # the link up, the script loaded
        await shared.client.script_flush()
        answers = await asyncio.gather(*(script([k], ["x"]) for k in keys))
        assert [a[0].decode() for a in answers] == keys
        assert [int(v) for v in await shared.client.mget(keys)] == [1, 1, 1]
        assert pipelines == [1, 1, 3, 3]  # NOSCRIPT twice: once to connect
    finally:
        await shared.client.delete(*keys)
        await shared.aclose()


async def test_an_argument_redis_py_refuses_fails_its_own_call_only(
    shared: SharedRedis,
) -> None:
    script = BatchedScript(shared.client, ECHO)
    answers = await asyncio.gather(
        script([key()], ["one"]),
        script([key()], [None]),  # type: ignore[list-item]
        script([key()], ["three"]),
        return_exceptions=True,
    )
    assert answers[0][1] == b"one"
    assert isinstance(answers[1], DataError)
    assert answers[2][1] == b"three"
