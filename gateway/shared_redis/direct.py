"""One connection of a process to a single Redis server on which script calls
are written and answered in order, without redis-py's pool and wrappers.

A warm hit spends one Redis round trip (its rate-limit token and its
versions, one script: ``gateway.shared_redis.batched``). Through redis-py
that round trip cost the worker ~95 µs of CPU (the pool's checkout and
release, the timeout and retry wrappers, a pipeline object), about half of
the hit; written here as RESP on a connection of its own and read by hiredis
(redis-py's own parser), ~40 µs (docs/benchmarks.md, "A hit's round trip
without redis-py's pool"). Calls of several loop turns may be on the wire at
once: Redis answers a connection's commands in order, and so each answer goes
to the oldest call waiting.

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
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
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


class _Wire(asyncio.Protocol):
    """The connection: what it writes, and its answers to the calls waiting."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

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
            waiter = self.waiting.popleft()
            if waiter.done():  # its caller gave up: the answer is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                waiter.set_exception(_failure(reply))
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(RedisConnectionError("Redis closed the connection"))

    def close(self, why: BaseException) -> None:
        """Every waiting call fails with ``why``; the connection closes."""
        if self.lost is None:
            self.lost = why
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(why)
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
        loop = asyncio.get_running_loop()
        answers = [loop.create_future() for _ in commands]
        wire.waiting.extend(answers)
        assert wire.transport is not None
        wire.transport.write(b"".join(commands))
        try:
            async with asyncio.timeout(self._timeout):
                done = await asyncio.gather(*answers, return_exceptions=True)
        except TimeoutError:  # the builtin: ``asyncio.timeout``'s
            late = RedisTimeoutError("Redis did not answer in time")
            wire.close(late)
            raise late from None
        for value in done:
            if isinstance(value, RedisConnectionError):
                raise value
        return done

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
                handshake = []
                password, user = settings.get("password"), settings.get("username")
                if password is not None:
                    handshake.append(
                        command("AUTH", user, password)
                        if user
                        else command("AUTH", password)
                    )
                if settings.get("db"):
                    handshake.append(command("SELECT", int(settings["db"])))
                if handshake:
                    answers = [loop.create_future() for _ in handshake]
                    wire.waiting.extend(answers)
                    assert wire.transport is not None
                    wire.transport.write(b"".join(handshake))
                    for answer in answers:
                        try:
                            await answer
                        except ResponseError as exc:
                            wire.close(RedisConnectionError("refused"))
                            raise AuthenticationError(str(exc)) from None
        except TimeoutError:  # the builtin: ``asyncio.timeout``'s
            raise RedisTimeoutError("Redis did not answer in time") from None
        except OSError as exc:
            raise RedisConnectionError(
                f"Redis unreachable: {exc.strerror or exc}"
            ) from None
        self._wire = wire
        return wire


_LINKS: weakref.WeakKeyDictionary[Any, dict[asyncio.AbstractEventLoop, DirectLink]]
_LINKS = weakref.WeakKeyDictionary()
"""Per client, its link in each event loop (a test runs several loops)."""


async def close_links(client: Any) -> None:
    """Close ``client``'s links (``SharedRedis.aclose``)."""
    for link in _LINKS.pop(client, {}).values():
        await link.aclose()


__all__ = ["DirectLink", "close_links", "command"]
