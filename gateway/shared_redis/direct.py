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
RESP3, and credentials from a provider. It speaks for a server reached by TCP
or a Unix socket, with a password (and user name) and a database as the URL
gives them.

Failures are redis-py's exceptions, so the breaker counts them as it counts
redis-py's: an error reply is a ``ResponseError`` (``NoScriptError`` for
``NOSCRIPT``), a connection refused or lost a ``ConnectionError``, and a call
not answered within the client's socket timeout (``CG_REDIS_TIMEOUT``) a
``TimeoutError``. A timeout or a lost connection closes the connection and
fails every call on it (their answers could no longer be told apart); the
next call connects again.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import (
    BlockingConnectionPool,
    Connection,
    ConnectionPool,
    UnixDomainSocketConnection,
)
from redis.exceptions import (
    AuthenticationError,
    NoScriptError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

Part = str | bytes | int | float


def command(*parts: Part) -> bytes:
    """A command as RESP: an array of bulk strings (numbers written as
    redis-py writes them)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, str):
            data = part.encode()
        elif isinstance(part, bytes):
            data = part
        else:
            data = repr(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _failure(reply: hiredis.ReplyError) -> ResponseError:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


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
        self.reader = hiredis.Reader()
        self.waiting: deque[_Write] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, commands: Sequence[bytes]) -> asyncio.Future[list[Any]]:
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
            write.replies.append(
                _failure(reply) if isinstance(reply, hiredis.ReplyError) else reply
            )
            if len(write.replies) == write.count:
                self.waiting.popleft()
                if not write.answer.done():  # else its caller gave up
                    write.answer.set_result(write.replies)

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

    @classmethod
    def of(cls, client: Any) -> DirectLink | None:
        """The link of ``client``'s server, ``None`` where redis-py must go:
        a cluster, Sentinel, TLS, RESP3 or a credential provider."""
        if type(client) is not Redis:
            return None
        pool = client.connection_pool
        if type(pool) not in (ConnectionPool, BlockingConnectionPool):
            return None
        kind = pool.connection_class
        settings = pool.connection_kwargs
        if (
            kind not in (Connection, UnixDomainSocketConnection)
            or settings.get("protocol") not in (None, 2, "2")
            or settings.get("credential_provider") is not None
        ):
            return None
        loop = asyncio.get_running_loop()
        links = _LINKS.setdefault(client, {})
        link = links.get(loop)
        if link is None:
            link = links[loop] = cls(settings, kind is UnixDomainSocketConnection)
        return link

    async def send(self, commands: Sequence[bytes]) -> list[Any]:
        """The answers to ``commands``, in order: a value, or the exception
        of an error reply (one call's error is its own). A connection that
        fails or times out raises for them all."""
        wire = await self._wire_up()
        answer = wire.send(commands)
        if self._timeout is None:
            return await answer
        late = asyncio.get_running_loop().call_later(
            self._timeout, _too_late, wire, answer
        )
        try:
            return await answer
        finally:
            late.cancel()

    async def aclose(self) -> None:
        if self._wire is not None:
            self._wire.close(RedisConnectionError("closed"))
            self._wire = None

    async def _wire_up(self) -> _Wire:
        wire = self._wire
        if wire is not None and wire.lost is None:
            return wire
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            wire = await asyncio.shield(connecting)
        finally:
            if connecting.done():
                self._connecting = None
        return wire

    async def _connect(self) -> _Wire:
        settings = self._connection
        loop = asyncio.get_running_loop()
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
        except TimeoutError:  # the builtin: ``asyncio.timeout``'s
            raise RedisTimeoutError("Redis did not answer in time") from None
        except OSError as exc:
            raise RedisConnectionError(
                f"Redis unreachable: {exc.strerror or exc}"
            ) from None
        self._wire = wire
        return wire


async def _handshake(wire: _Wire, sent: bytes, refused: type[RedisError]) -> None:
    """``sent`` answered ``OK``, or the connection closed and ``refused``."""
    reply = (await wire.send([sent]))[0]
    if isinstance(reply, ResponseError):
        wire.close(RedisConnectionError("refused"))
        raise refused(str(reply))


def _too_late(wire: _Wire, answer: asyncio.Future[list[Any]]) -> None:
    """A write not answered within the timeout: its answers, and those of
    the writes after it, could no longer be told apart from late ones."""
    if not answer.done():
        wire.close(RedisTimeoutError("Redis did not answer in time"))


_LINKS: weakref.WeakKeyDictionary[Any, dict[asyncio.AbstractEventLoop, DirectLink]]
_LINKS = weakref.WeakKeyDictionary()
"""Per client, its link in each event loop (a test runs several loops)."""


async def close_links(client: Any) -> None:
    """Close ``client``'s links (``SharedRedis.aclose``)."""
    for link in _LINKS.pop(client, {}).values():
        await link.aclose()


__all__ = ["DirectLink", "close_links", "command"]
