"""Script calls on the direct link (``gateway.shared_redis.direct``) against
real Redis servers of the tests' own: the URL's password, user and database
honoured, a wrong password refused, calls of several loop turns answered in
order, a hung server timed out and a restarted one reached again, a Unix
socket, and the clients it leaves to redis-py."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bench.redis_server import RedisServer
from bench.server import free_port
from gateway.shared_redis.batched import BatchedScript
from gateway.shared_redis.client import SharedRedis
from gateway.shared_redis.direct import DirectLink, command

pytestmark = pytest.mark.single_redis

COUNT = "redis.call('INCR', KEYS[1]) return {KEYS[1], ARGV[1]}"
PASSWORD = "direct-link-secret"


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A server of this test's own, with a password and a Unix socket."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with tempfile.TemporaryDirectory(prefix="cg-direct-") as directory:
        socket = Path(directory) / "redis.sock"
        options = ["--requirepass", PASSWORD, "--unixsocket", str(socket)]
        server = RedisServer(binary, free_port(), directory, options)
        server.start()
        try:
            yield server
        finally:
            server.kill()


def url(server: RedisServer, db: int = 0, password: str = PASSWORD) -> str:
    return f"redis://:{password}@127.0.0.1:{server.port}/{db}"


def key() -> str:
    return f"cg-test-direct:{uuid.uuid4().hex}"


async def test_calls_reach_the_urls_database_with_its_password(
    server: RedisServer,
) -> None:
    shared = SharedRedis.open(url(server, db=3), timeout=2.0)
    try:
        assert DirectLink.of(shared.client) is not None
        script = BatchedScript(shared.client, COUNT)
        keys = [key() for _ in range(5)]
        answers = await asyncio.gather(*(script([k], [i]) for i, k in enumerate(keys)))
        assert [(a.decode(), int(b)) for a, b in answers] == [
            (k, i) for i, k in enumerate(keys)
        ]
        assert await shared.client.mget(keys) == [b"1"] * 5  # database 3
    finally:
        await shared.aclose()
    other = SharedRedis.open(url(server, db=0), timeout=2.0)
    try:
        assert await other.client.mget(keys) == [None] * 5
    finally:
        await other.aclose()


async def test_a_wrong_password_is_refused_and_opens_the_breaker(
    server: RedisServer,
) -> None:
    shared = SharedRedis.open(url(server, password="wrong"), timeout=2.0)
    try:
        script = BatchedScript(shared.client, COUNT)
        with pytest.raises(AuthenticationError):
            await script([key()], ["x"])
        await shared.breaker.run("bucket", lambda: script([key()], ["x"]))
        assert not shared.breaker.closed
    finally:
        await shared.aclose()


async def test_calls_of_several_loop_turns_on_the_wire_get_their_own_answers(
    server: RedisServer,
) -> None:
    shared = SharedRedis.open(url(server), timeout=2.0)
    try:
        link = DirectLink.of(shared.client)
        assert link is not None
        sha = await shared.client.script_load(COUNT)
        keys = [key() for _ in range(30)]

        async def turn(i: int) -> list[Any]:
            await asyncio.sleep(0.0001 * (i % 3))
            return await link.send(
                [command("EVALSHA", sha, 1, keys[i], i), command("GET", keys[i])]
            )

        answers = await asyncio.gather(*(turn(i) for i in range(30)))
        assert [(a[0][0].decode(), int(a[0][1]), a[1]) for a in answers] == [
            (keys[i], i, b"1") for i in range(30)
        ]
        # an error reply is its own command's answer, not the others'
        mixed = await link.send(
            [command("GET", keys[0]), command("INCR", keys[0], "x"), command("PING")]
        )
        assert mixed[0] == b"1"
        assert isinstance(mixed[1], ResponseError)
        assert mixed[2] == b"PONG"
    finally:
        await shared.aclose()


async def test_a_hung_server_times_out_and_is_reached_again_once_back(
    server: RedisServer,
) -> None:
    shared = SharedRedis.open(url(server), timeout=0.5)
    try:
        script = BatchedScript(shared.client, COUNT)
        assert await script([key()], ["before"])
        server.pause()
        started = time.monotonic()
        try:
            answers = await asyncio.gather(
                *(script([key()], [str(i)]) for i in range(3)), return_exceptions=True
            )
        finally:
            server.resume()
        assert all(isinstance(a, RedisTimeoutError) for a in answers), answers
        assert time.monotonic() - started < 5  # cut by the timeout, not hung
        assert (await script([key()], ["after"]))[1] == b"after"
    finally:
        await shared.aclose()


async def test_a_restarted_server_is_reached_again(server: RedisServer) -> None:
    shared = SharedRedis.open(url(server), timeout=2.0)
    try:
        script = BatchedScript(shared.client, COUNT)
        assert await script([key()], ["before"])
        server.kill()
        server.start()
        first: object
        try:
            first = await script([key()], ["during"])
        except RedisConnectionError as exc:  # the old connection's close unread
            first = exc
        assert isinstance(first, RedisConnectionError | list)
        assert (await script([key()], ["after"]))[1] == b"after"
    finally:
        await shared.aclose()


async def test_a_unix_socket_is_spoken_to(server: RedisServer) -> None:
    path = Path(server.directory) / "redis.sock"
    shared = SharedRedis.open(f"unix://:{PASSWORD}@{path}?db=2", timeout=2.0)
    try:
        assert DirectLink.of(shared.client) is not None
        script = BatchedScript(shared.client, COUNT)
        k = key()
        assert (await script([k], ["unix"]))[1] == b"unix"
        assert await shared.client.get(k) == b"1"
    finally:
        await shared.aclose()


@pytest.mark.parametrize(
    "address",
    [
        "rediss://127.0.0.1:6379/0",
        "redis+sentinel://127.0.0.1:26379/mymaster/0",
        "redis://127.0.0.1:6379/0?protocol=3",
    ],
)
async def test_what_the_link_does_not_speak_goes_redis_pys_way(address: str) -> None:
    shared = SharedRedis.open(address, timeout=2.0)
    try:
        assert DirectLink.of(shared.client) is None
    finally:
        await shared.aclose()
