"""The access-log filter: credential-named query parameters and a GraphQL
GET's document and variables redacted, the rest of the line as uvicorn wrote
it; httpx's request lines without their query string."""

from __future__ import annotations

import logging

import httpx
import pytest

from gateway.cli.serving import server_config
from gateway.http.access_log import install
from gateway.settings import Settings
from tests.integration.gateway.test_access_log import collected


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/embed/timeline?token=abc.def", "/embed/timeline?token=[redacted]"),
        ("/x?a=1&TOKEN=t&b=2", "/x?a=1&TOKEN=[redacted]&b=2"),
        (
            "/v1/batch?write_key=w&writeKey=w",
            "/v1/batch?write_key=[redacted]&writeKey=[redacted]",
        ),
        ("/x?api_key=k&key=k", "/x?api_key=[redacted]&key=[redacted]"),
        (  # a GraphQL GET: a document or variables may hold contact data
            "/graphql?query=%7Bc(email:%22a%40b.example%22)%7D&variables=%7B%7D",
            "/graphql?query=[redacted]&variables=[redacted]",
        ),
        ("/graphql?operationName=Q", "/graphql?operationName=Q"),
        ("/x?monkey=1&tokens=2", "/x?monkey=1&tokens=2"),
    ],
)
def test_the_filter_redacts_only_credential_and_graphql_parameters(
    path: str, logged: str
) -> None:
    install()
    with collected() as log:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 200
        )
    assert log.lines == [f'127.0.0.1:1 - "GET {logged} HTTP/1.1" 200'], log.lines


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        (
            "https://d.zendesk.com/api/v2/users/search?query=email%3Aa%40b.example",
            "https://d.zendesk.com/api/v2/users/search?[redacted]",
        ),
        (
            "https://ph.example/api/persons/?email=a%40b.example",
            "https://ph.example/api/persons/?[redacted]",
        ),
        (
            "https://shop.example/admin/api/graphql.json",
            "https://shop.example/admin/api/graphql.json",
        ),
    ],
)
def test_httpx_request_lines_keep_the_url_without_its_query(
    url: str, logged: str
) -> None:
    install()
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            "GET",
            httpx.URL(url),
            "HTTP/1.1",
            200,
            "OK",
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert lines == [f'HTTP Request: GET {logged} "HTTP/1.1 200 OK"']


@pytest.mark.parametrize(
    ("level", "logged"),
    [("DEBUG", True), ("INFO", True), ("trace", True), ("WARNING", False)]
    + [("ERROR", False), ("critical", False)],
)
def test_serve_builds_access_lines_only_at_a_level_that_writes_them(
    level: str, logged: bool
) -> None:
    settings = Settings(log_level=level)
    assert server_config("127.0.0.1", 8000, 1, settings).access_log is logged
