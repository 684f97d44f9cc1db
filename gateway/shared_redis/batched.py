"""A Lua script whose calls, made in one turn of the event loop, go to Redis
together: one pipeline, one connection and one round trip for them all.

redis-py spends ~80 µs of the worker's CPU on a script call sent alone (the
pool's checkout and release, the retry and timeout wrappers, encoding,
parsing) and ~35 µs a call in a pipeline of four, ~26 µs in one of eight
(docs/benchmarks.md, "Concurrent token takes in one pipeline"). Under load
the requests a worker reads from its connections at once reach their
rate-limit token together, so they share one pipeline; a call alone is sent
alone, one loop turn later than it was made.

Each call keeps its own answer and its own failure: a script error (a Lua
error) is that call's, an argument redis-py cannot encode fails its caller
before it joins, and a connection error or timeout is every call's of the
pipeline, each handed to its caller's breaker as a call of its own would have
been. A script Redis lost (a restart, ``SCRIPT FLUSH``) is loaded again and
the calls it refused are sent once more — those only: a flush between two
commands of a pipeline leaves the first ones run, and a token taken twice
would be wrong. On a Redis Cluster each call is sent alone: its keys decide
its node.

One script has one instance per client (``SharedRedis.script``): the
upstreams' budget buckets take through the same one, so a view's three
takes, made in one turn, go in one write.

On a single server the calls go on a connection of their own
(``gateway.shared_redis.direct``), written as one and answered in order,
without redis-py's pool: a call of this class, alone, cost 157 µs of the
worker's CPU through redis-py (the batching's own task and future included)
and 90 µs there; four at a time, 57 and 29 µs a call. Once that connection
is up, the loop callback that collected the calls writes them itself and
their answers are handed out by the write's callback: no task and no
coroutine per write (a held answer's hit: 3–4 % fewer instructions). Where that link
cannot go (Cluster, Sentinel, TLS…), redis-py sends them, as a pipeline or
alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from gateway.shared_redis.direct import DirectLink, command

Argument = str | bytes | int | float
_Call = tuple[Sequence[str], Sequence[Argument], asyncio.Future[object]]


class BatchedScript:
    def __init__(self, client: Redis | RedisCluster, script: str) -> None:
        self.client = client
        self.script = client.register_script(script)
        self._encoder = client.get_encoder()
        self._calls: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._link: tuple[asyncio.AbstractEventLoop, DirectLink | None] | None = None

    def _direct(self) -> DirectLink | None:
        """The client's direct link in this event loop (looked up once)."""
        loop = asyncio.get_running_loop()
        if self._link is None or self._link[0] is not loop:
            self._link = (loop, DirectLink.of(self.client))
        return self._link[1]

    async def __call__(self, keys: Sequence[str], args: Sequence[Argument]) -> Any:
        """The script's answer for ``keys`` and ``args`` (as redis-py's: a
        script's answer has no static type)."""
        if isinstance(self.client, RedisCluster):
            return await self.script(keys=keys, args=args)
        # encoded here: an argument redis-py refuses fails its own call only
        encode = self._encoder.encode
        encoded = [encode(arg) for arg in args]
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[object] = loop.create_future()
        self._calls.append((keys, encoded, answer))
        if len(self._calls) == 1:
            loop.call_soon(self._send)
        return await answer

    def _send(self) -> None:
        calls, self._calls = self._calls, []
        link = self._direct()
        if link is not None and link.up:  # written now, answered by callback
            try:
                written = link.write(self._commands(calls))
            except Exception as exc:  # noqa: BLE001 - each caller's, as a task's
                _fail(calls, exc)
                return
            written.add_done_callback(partial(self._landed, calls))
            return
        self._start(calls)

    def _start(self, calls: list[_Call], load: bool = False) -> None:
        """``_answer`` of ``calls`` in a task of its own, kept till it ends."""
        task = asyncio.ensure_future(self._answer(calls, load))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _landed(
        self, calls: list[_Call], written: asyncio.Future[list[object]]
    ) -> None:
        """The answers to calls written at once (``_send``), each to its
        caller, as ``_answer`` hands them; those Redis refused for a lost
        script are sent again once it is loaded (``_answer``)."""
        if written.cancelled():
            for _, _, answer in calls:
                answer.cancel()
            return
        error = written.exception()
        if error is not None:
            _fail(calls, error)
            return
        answered = list(zip(calls, written.result(), strict=True))
        lost = [call for call, value in answered if isinstance(value, NoScriptError)]
        if lost:
            self._start(lost, load=True)
        _hand([(c, v) for c, v in answered if not isinstance(v, NoScriptError)])

    async def _answer(self, calls: list[_Call], load: bool = False) -> None:
        try:
            if load:  # refused for a lost script: loaded, then sent again
                await self.client.script_load(self.script.script)
            if len(calls) == 1 and self._direct() is None:
                keys, args, _ = calls[0]
                answers: list[object] = [await self.script(keys=keys, args=args)]
            else:
                answers = await self._piped(calls)
        except asyncio.CancelledError:
            for _, _, answer in calls:
                answer.cancel()
            raise
        except Exception as exc:  # each caller's, as if it had sent its own
            _fail(calls, exc)
            return
        _hand(list(zip(calls, answers, strict=True)))

    async def _piped(self, calls: list[_Call]) -> list[object]:
        answers = await self._pipeline(calls)
        lost = [
            i for i, value in enumerate(answers) if isinstance(value, NoScriptError)
        ]
        if lost:  # sent again: those only, the others ran (a flush in between)
            await self.client.script_load(self.script.script)
            again = await self._pipeline([calls[i] for i in lost])
            for i, value in zip(lost, again, strict=True):
                answers[i] = value
        return answers

    def _commands(self, calls: list[_Call]) -> list[bytes]:
        sha = self.script.sha
        return [
            command("EVALSHA", sha, len(keys), *keys, *args) for keys, args, _ in calls
        ]

    async def _pipeline(self, calls: list[_Call]) -> list[object]:
        """The calls sent once, together: each one's answer or error."""
        link = self._direct()
        if link is not None:
            return await link.send(self._commands(calls))
        async with self.client.pipeline(transaction=False) as pipe:
            for keys, args, _ in calls:
                pipe.evalsha(self.script.sha, len(keys), *keys, *args)
            answers: list[object] = await pipe.execute(raise_on_error=False)
        return answers


def _hand(answered: list[tuple[_Call, object]]) -> None:
    """Each call's answer, or its error reply, to its caller."""
    for (_, _, answer), value in answered:
        if answer.done():  # its caller gave up waiting
            continue
        if isinstance(value, Exception):
            answer.set_exception(value)
        else:
            answer.set_result(value)


def _fail(calls: list[_Call], error: BaseException) -> None:
    """Every call's caller fails with ``error``, as if it had sent its own."""
    for _, _, answer in calls:
        if not answer.done():
            answer.set_exception(error)


__all__ = ["BatchedScript"]
