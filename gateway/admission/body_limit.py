"""A ceiling on every request body, whatever its headers say.

Routes refuse a declared ``Content-Length`` over their own limits, each in its
protocol's error shape (GraphQL, webhooks, the ingest API). A body sent
without one (``Transfer-Encoding: chunked``), or longer than it declared,
would still be read whole into memory by ``request.body()``. ``BodyLimit``
counts the bytes as the app receives them and, past ``limit``, stops reading
and answers ``413`` with a GraphQL-shaped error (``REQUEST_TOO_LARGE``)::

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body passes the limit."""


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
                    raise BodyTooLarge()
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:  # too late for a status: the server drops the connection
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"The request body exceeds {self.limit} bytes."
        body = {
            "errors": [
                {"message": message, "extensions": {"code": "REQUEST_TOO_LARGE"}}
            ]
        }
        await JSONResponse(body, status_code=413)(scope, receive, send)
