"""The drain before a replica stops: what a SIGTERM starts in a worker.

uvicorn on SIGTERM stops accepting at once, closes idle keep-alive
connections and waits for the requests in flight. A balancer that still holds
one of those idle connections in its pool, and sends a request on it as it
closes, gets a reset — and a balancer retries only idempotent requests, so a
mutation sent that way fails. So before uvicorn's stop, a worker drains for
``CG_SHUTDOWN_DRAIN_SECONDS``:

- ``/readyz`` answers 503, so a balancer with health checks (Kubernetes, an
  AWS target group) takes the replica out;
- every response carries ``Connection: close``, so each connection a balancer
  pooled is let go of after an answer the balancer has read, never mid-send;
- requests are still served in full.

Then uvicorn's own stop runs: listening ends (a balancer's next connect is
refused, which it retries elsewhere, whatever the method), requests in
flight finish, WebSockets close with 1012 ("service restart": clients
reconnect, through the balancer, to another replica), and the lifespan's end
writes the audit batch (``AuditLog.aclose``).

Usage, in a server process's lifespan::

    drain = Drain(settings.shutdown_drain_seconds)
    with drain.on_sigterm():
        ...  # open the services
        drain.serving()
        yield
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("gateway.shutdown")


class Drain:
    """Whether this worker is draining, and the SIGTERM hook that starts it.

    The hook goes in before the services open: a worker stopped while it
    still starts (a rolling restart catching a worker the supervisor just
    replaced) drains once it serves, instead of accepting connections and
    resetting them a moment later."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = False
        self._serving = False
        self._stop: Callable[[], None] | None = None

    @contextlib.contextmanager
    def on_sigterm(self) -> Iterator[None]:
        """Put the drain in front of the SIGTERM handler installed now
        (uvicorn's), which runs ``seconds`` after the worker serves. Outside
        the main thread (a test's server) there is nothing to hook."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        handler = signal.getsignal(signal.SIGTERM)

        def begin(signum: int, frame: FrameType | None) -> None:
            if not callable(handler):
                return
            if self.active:  # a second SIGTERM: stop now
                handler(signum, frame)
                return
            self.active = True
            self._stop = lambda: handler(signum, frame)
            if self._serving:
                loop.call_soon_threadsafe(self._schedule)

        signal.signal(signal.SIGTERM, begin)
        try:
            yield
        finally:
            if signal.getsignal(signal.SIGTERM) is begin:
                signal.signal(signal.SIGTERM, handler)

    def serving(self) -> None:
        """Startup is over: a SIGTERM that came meanwhile drains from now."""
        self._serving = True
        if self.active:
            self._schedule()

    def _schedule(self) -> None:
        if self._stop is not None:
            asyncio.get_running_loop().call_later(self.seconds, self._stop)
            self._stop = None


class CloseWhenDraining:
    """ASGI middleware: while draining, each HTTP response says
    ``Connection: close`` (uvicorn then closes the connection after it)."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.drain.active:
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)
