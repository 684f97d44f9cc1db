"""Credentials in a URL's query never reach the server's log: uvicorn logs
every request's path with its query (``uvicorn.access``) and every
WebSocket's (``uvicorn.error``), and an embed page or socket carries its
token there (``/embed/timeline?token=…``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import websockets
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.auth.embed_tokens import create_token
from gateway.runtime.services import Services
from tests.conftest import ANSWER_WAIT, graphql_socket

LOGGERS = ("uvicorn.access", "uvicorn.error")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def collected() -> Iterator[Collect]:
    """Every line of uvicorn's loggers, whatever handlers and levels earlier
    servers of the test run left them with."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@contextlib.asynccontextmanager
async def served_with_access_log(app: object) -> AsyncIterator[str]:
    async with serve_app(
        app,  # type: ignore[arg-type]
        log_config=None,
        log_level="info",
        access_log=True,
    ) as url:
        yield url.removeprefix("http://")


async def test_tokens_keys_and_graphql_in_a_query_string_are_redacted_in_the_log(
    db: Services,
) -> None:
    secret = db.settings.secret_key.get_secret_value()
    token, _ = create_token(secret, 1, 600)
    app = create_app(services=db)
    with collected() as log:
        async with served_with_access_log(app) as host:
            async with httpx.AsyncClient(
                base_url=f"http://{host}", timeout=ANSWER_WAIT
            ) as http:
                await http.get("/embed/timeline", params={"token": token})
                await http.get(
                    "/embed/timeline", params={"customer": "Q3", "token": token}
                )
                await http.post(
                    "/v1/track?writeKey=wk_in_the_url&key=cg_in_the_url",
                    json={"userId": "u", "event": "e"},
                )
                await http.get(  # GraphQL over GET: contact data in the URL
                    "/graphql",
                    params={
                        "query": '{customer(email: "marker-7f3a@pii.example"){id}}',
                        "variables": '{"phone": "+15550173"}',
                    },
                )
            with contextlib.suppress(websockets.WebSocketException):
                async with graphql_socket(f"ws://{host}/embed/graphql?token={token}"):
                    pass
    text = "\n".join(log.lines)
    assert "/embed/timeline" in text, text  # the lines are there...
    assert "WebSocket /embed/graphql" in text, text
    for secret in (token, "wk_in_the_url", "cg_in_the_url", "marker-7f3a", "5550173"):
        assert secret not in text, text  # ...not the secrets nor contact data
    assert text.count("token=[redacted]") >= 3, text
    assert "query=[redacted]&variables=[redacted]" in text, text


class FormattedLines(Collect):
    """Lines as a handler formats them: with any traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter().format(record))


async def test_an_uncaught_exception_is_one_line_without_its_message_or_traceback(
    db: Services,
) -> None:
    app = create_app(services=db)

    async def broken(request: Request) -> Response:
        raise RuntimeError("INSERT INTO customers (email) VALUES ('maya@example.com')")

    app.router.routes.append(Route("/broken", broken))
    handler = FormattedLines()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        async with (
            served_with_access_log(app) as host,
            httpx.AsyncClient(base_url=f"http://{host}", timeout=ANSWER_WAIT) as http,
        ):
            answer = await http.get("/broken")
    finally:
        logger.removeHandler(handler)
    assert answer.status_code == 500
    text = "\n".join(handler.lines)
    assert "builtins.RuntimeError" in text, text  # the line is there...
    assert " at gateway/" in text, text  # ...with where (in our code) it passed
    for leak in ("maya@example.com", "INSERT", "Traceback"):
        assert leak not in text, text
