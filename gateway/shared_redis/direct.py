"""One connection of a process to a single Redis server on which script calls
are written and answered in order, without redis-py's pool and wrappers.

A warm hit spends one Redis round trip (its rate-limit token and its
versions, one script: ``gateway.shared_redis.batched``). Through redis-py's
pipeline or script call, a ``BatchedScript`` call cost the worker 157 µs of
CPU sent alone and 57 µs a call four at a time (the pool's checkout and
release, its timeout and retry wrappers, a pipeline object); written here as
RESP on a connection of its own and read by hiredis (redis-py's own parser),
90 and 29 µs (docs/benchmarks.md, "A hit's round trip on a connection of its
own"). Writes of several loop turns may be on the wire at once: Redis answers
a connection's commands in order, and so each answer goes to the oldest write
waiting.

What it does not handle goes redis-py's way (``DirectLink.of`` is ``None``):
a Redis Cluster or Sentinel (the keys or the sentinels decide the server), TLS,
an explicit ``?protocol=3``, credentials from a provider, and answers decoded
to text or another encoding than UTF-8. It speaks RESP2 to a server reached by
TCP or a Unix socket, with a password (and user name), a database and a
client name as the URL and the client give them.

Failures are redis-py's exceptions, so the breaker counts them as it counts
redis-py's: an error reply is made by redis-py's own parser (``NoScriptError``
for ``NOSCRIPT``, ``ReadOnlyError``, ``BusyLoadingError``…), a connection
refused or lost is a ``ConnectionError``, and a call not answered within the
client's socket timeout (``CG_REDIS_TIMEOUT``, connecting included) a
``TimeoutError``. A timeout or a lost connection closes the connection and
fails every call on it (their answers could no longer be told apart); so does
an answer saying the server is not the one to write to any more (read-only,
loading, a master down, logged out): a failover behind a stable address is
followed on the next connection, and the breaker's reset after an outage
drops the connection too. The next call connects again.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis._parsers.base import BaseParser  # redis-py's hiredis parser's
from redis.asyncio import Redis
from redis.asyncio.connection import (
    BlockingConnectionPool,
    Connection,
    ConnectionPool,
    UnixDomainSocketConnection,
)
from redis.exceptions import (
    AuthenticationError,
    MasterDownError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

Part = str | bytes | int | float | memoryview


def command(*parts: Part) -> bytes:
    """A command as RESP: an array of bulk strings (text as UTF-8, numbers
    written as redis-py writes them)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, str):
            data = part.encode()
        elif isinstance(part, bytes | memoryview):
            data = bytes(part)
        else:
            data = repr(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


GONE = (RedisConnectionError, ReadOnlyError, MasterDownError)
"""Error replies after which the connection is not used again: a server
loading its data or logged out (``ConnectionError`` subclasses), a replica
now, or a master down."""


class _Write:
    """One write's commands: the answers come in order, and its caller is
    answered once all of them are in."""

    __slots__ = ("count", "replies", "answer")

    def __init__(self, count: int, answer: asyncio.Future[list[Any]]) -> None:
        self.count = count
        self.replies: list[Any] = []
        self.answer = answer


class _Wire(asyncio.Protocol):
    """The connection: what it wrote, oldest first, and the answers read."""

    def __init__(self) -> None:
        # error replies as redis-py makes them, nested ones included
        self.reader = hiredis.Reader(replyError=BaseParser.parse_error)
        self.waiting: deque[_Write] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, commands: Sequence[bytes]) -> asyncio.Future[list[Any]]:
        if self.lost is not None:  # lost while its caller waited to write
            raise self.lost
        answer: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Write(len(commands), answer))
        assert self.transport is not None
        self.transport.write(b"".join(commands))
        return answer

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while self.waiting:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.close(
                    RedisConnectionError(f"Redis answered out of protocol: {exc}")
                )
                return
            if reply is False:
                return
            write = self.waiting[0]
            write.replies.append(reply)
            if len(write.replies) == write.count:
                self.waiting.popleft()
                if not write.answer.done():  # else its caller gave up
                    write.answer.set_result(write.replies)
            if isinstance(reply, GONE):
                self.close(RedisConnectionError(f"Redis answered: {reply}"))
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(RedisConnectionError("Redis closed the connection"))

    def close(self, why: BaseException) -> None:
        """Every write waiting fails with ``why``; the connection closes."""
        if self.lost is None:
            self.lost = why
        while self.waiting:
            answer = self.waiting.popleft().answer
            if not answer.done():
                answer.set_exception(why)
        if self.transport is not None:
            self.transport.close()


class DirectLink:
    """Script calls to one Redis server, pipelined on a connection of their
    own (``of``: the client's, once per client and event loop)."""

    def __init__(self, connection: dict[str, Any], unix: bool) -> None:
        self._connection = connection
        self._unix = unix
        self._timeout: float | None = connection.get("socket_timeout")
        self._wire: _Wire | None = None
        self._connecting: asyncio.Task[_Wire] | None = None
        self._closed = False

    @classmethod
    def of(cls, client: Any) -> DirectLink | None:
        """The link of ``client``'s server in this event loop, ``None`` where
        redis-py must go (the module's docstring)."""
        if type(client) is not Redis:
            return None
        pool = client.connection_pool
        if type(pool) not in (ConnectionPool, BlockingConnectionPool):
            return None
        kind = pool.connection_class
        settings = pool.connection_kwargs
        if (
            kind not in (Connection, UnixDomainSocketConnection)
            or str(settings.get("protocol", 2)) != "2"
            or settings.get("credential_provider") is not None
            or settings.get("decode_responses")
            or str(settings.get("encoding", "utf-8")).lower().replace("_", "-")
            not in ("utf-8", "utf8")
        ):
            return None
        loop = asyncio.get_running_loop()
        links = _LINKS.setdefault(client, weakref.WeakKeyDictionary())
        link = links.get(loop)
        if link is None:
            link = links[loop] = cls(settings, kind is UnixDomainSocketConnection)
        return link

    async def send(self, commands: Sequence[bytes]) -> list[Any]:
        """The answers to ``commands``, in order: a value, or the exception
        of an error reply (one call's error is its own). A connection that
        fails or times out raises for them all, within the timeout in all."""
        if not commands:
            return []
        loop = asyncio.get_running_loop()
        started = loop.time()
        wire = await self._wire_up()
        left = None
        if self._timeout is not None:  # connecting counted in it
            left = max(self._timeout - (loop.time() - started), 0.0)
        return await _timed_write(wire, commands, left)

    @property
    def up(self) -> bool:
        """Whether the connection is up: ``write`` may be called."""
        wire = self._wire
        return not self._closed and wire is not None and wire.lost is None

    def write(self, commands: Sequence[bytes]) -> asyncio.Future[list[Any]]:
        """``send``'s answers as a future, the commands written now on the
        connection that is ``up`` (``send`` connects first): no task and no
        coroutine, for a caller that is a loop callback (``BatchedScript``)."""
        wire = self._wire
        assert wire is not None, "write only on a link that is up"
        return _timed_write(wire, commands, self._timeout)

    def drop(self) -> None:
        """The connection closed (the breaker's reset after an outage): the
        next call connects again, to whatever server the address names now."""
        if self._wire is not None:
            self._wire.close(RedisConnectionError("dropped"))
            self._wire = None

    def close(self) -> None:
        """Closed for good: a call after this fails at once."""
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        self.drop()

    async def _wire_up(self) -> _Wire:
        if self._closed:
            raise RedisConnectionError("the Redis client was closed")
        wire = self._wire
        if wire is not None and wire.lost is None:
            return wire
        if self._connecting is None:
            connecting = asyncio.ensure_future(self._connect())
            connecting.add_done_callback(self._connected)
            self._connecting = connecting
        return await asyncio.shield(self._connecting)

    def _connected(self, connecting: asyncio.Task[_Wire]) -> None:
        if self._connecting is connecting:  # done: the next call starts anew
            self._connecting = None
        if connecting.cancelled() or connecting.exception() is not None:
            return
        wire = connecting.result()
        if self._closed:  # closed while it connected
            wire.close(RedisConnectionError("the Redis client was closed"))
        else:
            self._wire = wire

    async def _connect(self) -> _Wire:
        settings = self._connection
        loop = asyncio.get_running_loop()
        wire: _Wire | None = None
        try:
            async with asyncio.timeout(settings.get("socket_connect_timeout")):
                if self._unix:
                    _, wire = await loop.create_unix_connection(_Wire, settings["path"])
                else:
                    _, wire = await loop.create_connection(
                        _Wire,
                        settings.get("host", "localhost"),
                        settings.get("port", 6379),
                    )
                password, user = settings.get("password"), settings.get("username")
                if password is not None:
                    login = (user, password) if user else (password,)
                    await _handshake(wire, command("AUTH", *login), AuthenticationError)
                if settings.get("db"):
                    await _handshake(
                        wire, command("SELECT", int(settings["db"])), ResponseError
                    )
                if settings.get("client_name"):
                    await _handshake(
                        wire,
                        command("CLIENT", "SETNAME", settings["client_name"]),
                        ResponseError,
                    )
        except BaseException as exc:
            if wire is not None:  # never left open: a handshake cut short
                wire.close(RedisConnectionError("not connected"))
            if isinstance(exc, TimeoutError):  # the builtin: ``asyncio.timeout``'s
                raise RedisTimeoutError("Redis did not answer in time") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(
                    f"Redis unreachable: {exc.strerror or exc}"
                ) from None
            raise
        return wire


async def _handshake(wire: _Wire, sent: bytes, refused: type[RedisError]) -> None:
    """``sent`` answered ``OK``, or ``refused`` (the caller closes)."""
    reply = (await wire.send([sent]))[0]
    if isinstance(reply, RedisError):
        raise refused(str(reply))


def _timed_write(
    wire: _Wire, commands: Sequence[bytes], timeout: float | None
) -> asyncio.Future[list[Any]]:
    """``commands`` written on ``wire``: their answers' future, failed with
    the wire (``_too_late``) when not answered within ``timeout`` seconds."""
    answer = wire.send(commands)
    if timeout is not None:
        late = asyncio.get_running_loop().call_later(timeout, _too_late, wire, answer)
        answer.add_done_callback(lambda _: late.cancel())
    return answer


def _too_late(wire: _Wire, answer: asyncio.Future[list[Any]]) -> None:
    """A write not answered within the timeout: its answers, and those of
    the writes after it, could no longer be told apart from late ones."""
    if not answer.done():
        wire.close(RedisTimeoutError("Redis did not answer in time"))


_LINKS: weakref.WeakKeyDictionary[
    Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DirectLink]
]
_LINKS = weakref.WeakKeyDictionary()
"""Per client, its link in each live event loop (a test runs several)."""


def reset_links(client: Any) -> None:
    """``client``'s link in this event loop dropped (the breaker's reset)."""
    links = _LINKS.get(client)
    link = links.get(asyncio.get_running_loop()) if links is not None else None
    if link is not None:
        link.drop()


def close_links(client: Any) -> None:
    """``client``'s links closed for good (``SharedRedis.aclose``); those of
    event loops already closed are only forgotten."""
    for loop, link in list(_LINKS.pop(client, {}).items()):
        if loop.is_closed():
            continue
        link.close()


__all__ = ["DirectLink", "close_links", "command", "reset_links"]
