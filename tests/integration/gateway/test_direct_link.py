"""Script calls on the direct link (``gateway.shared_redis.direct``) against
real Redis servers of the tests' own: the URL's password, user and database
honoured, a wrong password refused, calls of several loop turns answered in
order, a hung server timed out and a restarted one reached again, a server
turned replica left for the next connection, a Unix socket, and the clients
it leaves to redis-py; against a fake server, a connection lost at once and a
handshake never answered (its socket closed)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import AuthenticationError, ReadOnlyError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bench.redis_server import RedisServer
from bench.server import free_port
from gateway.shared_redis.batched import BatchedScript
from gateway.shared_redis.client import SharedRedis
from gateway.shared_redis.direct import DirectLink, command
from tests.redis_sends import watch_direct_sends

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
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[list[tuple[str, str]]] = []
    watch_direct_sends(monkeypatch, writes.append)
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
        # the calls went on the direct link: the first twice (refused by the
        # new server, which had not loaded the script), the three together
        assert [len(w) for w in writes] == [1, 1, 3, 1]
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


async def test_a_user_name_is_logged_in_with(server: RedisServer) -> None:
    admin = SharedRedis.open(url(server), timeout=2.0)
    try:
        await admin.client.execute_command(
            "ACL", "SETUSER", "direct", "on", ">user-secret", "~*", "+@all"
        )
    finally:
        await admin.aclose()
    shared = SharedRedis.open(
        f"redis://direct:user-secret@127.0.0.1:{server.port}/0", timeout=2.0
    )
    try:
        script = BatchedScript(shared.client, COUNT)
        assert (await script([key()], ["user"]))[1] == b"user"
        who = await shared.client.execute_command("CLIENT", "LIST")
        assert b"user=direct" in who
    finally:
        await shared.aclose()


async def test_a_server_turned_replica_is_left_for_a_new_connection(
    server: RedisServer,
) -> None:
    """A failover behind one address: the old master answers ``READONLY``;
    the link closes that connection, so the next call reaches whatever the
    address names then (here the same server, master again)."""
    shared = SharedRedis.open(url(server), timeout=2.0)
    admin = SharedRedis.open(url(server), timeout=2.0)
    try:
        script = BatchedScript(shared.client, COUNT)
        assert await script([key()], ["before"])
        link = DirectLink.of(shared.client)
        assert link is not None
        first = link._wire  # noqa: SLF001 - which connection answers
        await admin.client.execute_command("CONFIG", "SET", "masterauth", PASSWORD)
        await admin.client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
        try:
            with pytest.raises(ReadOnlyError):
                await script([key()], ["replica"])
        finally:
            await admin.client.execute_command("REPLICAOF", "NO", "ONE")
        assert (await script([key()], ["master"]))[1] == b"master"
        assert link._wire is not first  # noqa: SLF001 - a new connection
    finally:
        await admin.aclose()
        await shared.aclose()


async def test_a_closed_client_refuses_calls_at_once(server: RedisServer) -> None:
    shared = SharedRedis.open(url(server), timeout=2.0)
    script = BatchedScript(shared.client, COUNT)
    assert await script([key()], ["open"])
    await shared.aclose()
    with pytest.raises(RedisConnectionError):
        await script([key()], ["closed"])


@asynccontextmanager
async def faked(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    address: str,
    timeout: float,
) -> AsyncIterator[SharedRedis]:
    """A client of a fake server that ``serve``s each connection, at
    ``address`` (its ``{port}`` filled in)."""
    fake = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = fake.sockets[0].getsockname()[1]
    shared = SharedRedis.open(address.format(port=port), timeout=timeout)
    try:
        yield shared
    finally:
        await shared.aclose()
        fake.close()


async def test_a_connection_lost_at_once_fails_its_calls_at_once() -> None:
    """A server that closes every connection as it accepts it: the calls
    waiting to write fail as lost, not as timed out."""

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with faked(hang_up, "redis://127.0.0.1:{port}/0", 30.0) as shared:
        script = BatchedScript(shared.client, COUNT)
        answers = await asyncio.gather(
            *(script([key()], [str(i)]) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(a, RedisConnectionError) for a in answers), answers


async def test_a_handshake_never_answered_times_out_and_its_socket_closes() -> None:
    closed = asyncio.Event()

    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()  # until the client closes its end
        closed.set()
        writer.close()

    async with faked(silent, "redis://:pw@127.0.0.1:{port}/0", 0.3) as shared:
        script = BatchedScript(shared.client, COUNT)
        with pytest.raises(RedisTimeoutError):
            await script([key()], ["x"])
        await asyncio.wait_for(closed.wait(), 5)
