"""A ceiling on every request body, whatever its headers say.

Routes refuse a declared ``Content-Length`` over their own limits, each in its
protocol's error shape (GraphQL, webhooks, the ingest API). A body sent
without one (``Transfer-Encoding: chunked``), or longer than it declared,
would still be read whole into memory by ``request.body()``. ``BodyLimit``
counts the bytes as the app receives them and, past ``limit``, stops reading
raises ``BodyTooLarge`` (a ``Refused``: ``413 REQUEST_TOO_LARGE``) into the app,
which answers it in its own shape; an app that does not catch it gets a
GraphQL-shaped answer here::

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import Refused


class BodyTooLarge(Refused):
    """A body over ``limit`` bytes: declared so, or raised into the app by
    ``receive`` once the bytes read pass it."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "REQUEST_TOO_LARGE", f"The request body exceeds {limit} bytes."
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as refused:
            if started:  # too late for a status: the server drops the connection
                raise
            await refused.response()(scope, receive, send)
