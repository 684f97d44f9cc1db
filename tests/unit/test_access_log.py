"""The access-log filter: credential-named query parameters redacted, the
rest of the line as uvicorn wrote it."""

from __future__ import annotations

import logging

import pytest

from gateway.http.access_log import install
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
        ("/graphql?query=%7B__typename%7D", "/graphql?query=%7B__typename%7D"),
        ("/x?monkey=1&tokens=2", "/x?monkey=1&tokens=2"),
    ],
)
def test_the_filter_redacts_only_credential_parameters(path: str, logged: str) -> None:
    install()
    with collected() as log:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 200
        )
    assert log.lines == [f'127.0.0.1:1 - "GET {logged} HTTP/1.1" 200'], log.lines
