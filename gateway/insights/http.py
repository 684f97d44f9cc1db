"""``GET /segments/{name}/export?format=csv|jsonl&channel=email|sms``: a saved
segment streamed to the caller (see ``export.py``), and the lifespan helper
that runs the scheduled insights refresh.

The name is the whole path part between ``/segments/`` and ``/export``, so
every name a segment can have is addressable: with a ``/`` (sent as is or as
``%2F``, which the server decodes alike) or a line break (a segment saved
before names were bounded).

An export is audited per customer (``export_audit``), as the command line's is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.auth.admission import admit, client_address, take_token
from gateway.auth.policy import Role
from gateway.errors import BadUserInput, NotFound, Refused
from gateway.insights.export import ExportRequest, RolePolicy, export_segment
from gateway.insights.export_audit import audited_export
from gateway.insights.refresh import refresh_periodically
from gateway.insights.segment_filter import hidden_conditions
from gateway.insights.segments import segment_by_name
from gateway.runtime.services import Services

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class SegmentName(Convertor[str]):
    """Any text: Starlette's ``path`` stops at a line break, ``str`` at "/"."""

    regex = "(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment_name", SegmentName())


def export_route() -> Route:
    return Route("/segments/{name:segment_name}/export", export_segment_endpoint)


async def export_segment_endpoint(request: Request) -> Response:
    """Authenticated like ``/graphql``; the caller's role decides what each row
    shows (``RolePolicy``), and marketing must name the consented channel."""
    try:
        return await _export(request)
    except Refused as refused:
        return refused.response("plain")


async def _export(request: Request) -> Response:
    services: Services = request.app.state.services
    credentials = request.headers.get("authorization")
    principal = await admit(
        lambda: services.auth.authenticate(credentials),
        services.login_failures,
        client_address(request),
        credentials=credentials,
    )
    await take_token(services.rate_limiter, principal)
    if principal.role is Role.EMBED:
        raise Refused(403, "FORBIDDEN", "Embed tokens cannot export.")
    channel = request.query_params.get("channel")
    if principal.role is Role.MARKETING and channel is None:
        raise Refused(
            400,
            "BAD_USER_INPUT",
            "Marketing exports name a channel (email or sms): only "
            "customers who consented to it are exported.",
        )
    try:
        export = ExportRequest(
            segment=request.path_params["name"],
            format=request.query_params.get("format", "csv"),
            channel=request.query_params.get("channel"),
        )
        async with services.reads() as session:  # the replica, if any
            segment = await segment_by_name(session, export.segment)  # first
    except (NotFound, BadUserInput) as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        raise Refused(status, exc.code, exc.message) from exc
    if hidden := hidden_conditions(principal.role, segment.filter):
        raise Refused(
            403,
            "FORBIDDEN",
            f"The {principal.role} role may not export a segment that"
            f" filters by {', '.join(hidden)}: it does not see them in full.",
        )
    body = export_segment(
        services.reads,
        export,
        RolePolicy(principal.role),
        audited_export(services.audit, principal, export.segment),
    )
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[export.format],
        headers={
            "Content-Disposition": attachment(f"{export.segment}.{export.format}")
        },
    )


def attachment(filename: str) -> str:
    """``Content-Disposition`` for any name (RFC 6266): an ASCII fallback for
    old clients, the exact name percent-encoded in ``filename*``. A segment
    name with CR/LF or non-ASCII letters broke the header (a 500, or a header
    split); here neither can reach it raw."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
        for c in filename
    )
    exact = quote(filename, safe="", errors="replace")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


@contextlib.asynccontextmanager
async def scheduled_refresh(
    services: Services, after: Callable[[Services], Awaitable[None]] | None = None
) -> AsyncIterator[None]:
    """Run the periodic refresh while the app lives (when the interval is > 0);
    after each, cached responses are dropped, then ``after`` runs (the
    audiences' sync)."""
    if services.settings.insights_refresh_interval <= 0:
        yield
        return

    async def refreshed() -> None:
        await services.forget_responses()
        if after is not None:
            await after(services)

    task = asyncio.create_task(
        refresh_periodically(services.sessions, services.settings, refreshed)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
