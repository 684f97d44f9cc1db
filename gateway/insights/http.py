"""``GET /segments/{name}/export?format=csv|jsonl&channel=email|sms``: a saved
segment streamed to the caller (see ``export.py``), and the lifespan helper
that runs the scheduled insights refresh."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from gateway.errors import BadUserInput, NotFound
from gateway.insights.export import ExportRequest, FullAccess, export_segment
from gateway.insights.refresh import refresh_periodically
from gateway.insights.segments import segment_by_name
from gateway.services import Services

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


async def export_route(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        export = ExportRequest(
            segment=request.path_params["name"],
            format=request.query_params.get("format", "csv"),
            channel=request.query_params.get("channel"),
        )
        async with services.sessions() as session:
            await segment_by_name(session, export.segment)  # before streaming
    except NotFound as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    except BadUserInput as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    body = export_segment(services.sessions, export, FullAccess())
    filename = f"{export.segment}.{export.format}".replace('"', "")
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[export.format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@contextlib.asynccontextmanager
async def scheduled_refresh(services: Services) -> AsyncIterator[None]:
    """Run the periodic refresh while the app lives (when the interval is > 0)."""
    if services.settings.insights_refresh_interval <= 0:
        yield
        return
    task = asyncio.create_task(
        refresh_periodically(services.sessions, services.settings)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
