"""A request naming ``Authorization`` more than once is refused before any
route reads it; a WebSocket's ``connection_init`` payload or the embed
endpoint's query naming two credentials is refused where they are read
(``single``).

The field is a singleton (RFC 9110, 11.6.2): a sender must not repeat it.
Every surface reads the first value (``/graphql``, the embed endpoint, the
ingest API, the segment export), while a proxy, a web application firewall
or an access log in front of the gateway may read another: the request
would be allowed, throttled or recorded as one caller and served as
another. So a repeated field is ``400 BAD_REQUEST`` in the shape of the
surface it reached (``gateway.http.refusals``), before anything is read or
written; a WebSocket's handshake is refused (403: the server's answer to a
socket closed before it is accepted)::

    app.add_middleware(OneAuthorization)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import Refused
from gateway.http.refusals import shape_of

REPEATED = Refused(
    400, "BAD_REQUEST", "Send one Authorization header: this request has several."
)

T = TypeVar("T")


def single(credentials: Sequence[T]) -> T | None:
    """The one credential a request names, ``None`` for none; several (the
    payload's ``Authorization`` and ``authorization``, an embed socket's header
    and ``?token=``, or two tokens) are ``400 BAD_REQUEST``, for the reason
    above: which one counts would depend on who reads them."""
    if len(credentials) > 1:
        raise Refused(
            400, "BAD_REQUEST", "Send one credential: this request has several."
        )
    return credentials[0] if credentials else None


class OneAuthorization:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and _repeated(scope["headers"]):
            if scope["type"] == "http":
                await REPEATED.response(shape_of(scope["path"]))(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


def _repeated(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether ``Authorization`` is named twice or more (ASGI servers give
    names in lower case; an app called otherwise is held to it too)."""
    seen = False
    for name, _ in headers:
        if name.lower() == b"authorization":
            if seen:
                return True
            seen = True
    return False
