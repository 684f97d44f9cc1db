"""``decode_json``: an upstream's body as JSON, or ``UpstreamBadResponse``."""

from __future__ import annotations

import codecs

import pytest

from connectors.answers import Answer, decode_json
from connectors.errors import UpstreamBadResponse

JSON = {"content-type": "application/json; charset=utf-8"}


def answer(body: bytes, headers: dict[str, str] = JSON) -> Answer:
    return Answer(200, headers, body)


@pytest.mark.parametrize(
    ("body", "decoded"),
    [
        (b'{"id": 1, "name": "Ren\xc3\xa9e"}', {"id": 1, "name": "Renée"}),
        (codecs.BOM_UTF8 + b'{"ok": true}', {"ok": True}),
        (b"[]", []),
        (b"9007199254740993", 9007199254740993),
    ],
)
def test_json_bodies_decode(body: bytes, decoded: object) -> None:
    assert decode_json("shopify", answer(body)) == decoded


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1',  # truncated
        b'{"a": NaN}',  # not JSON, though Python's json takes it
        b'{"a": 1e400}',  # no finite number
        b"[" * 2000 + b"]" * 2000,  # nested past the decoder's limit
        b"<html>502 Bad Gateway</html>",
        b"",
    ],
)
def test_what_is_not_json_is_a_bad_response(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        decode_json("zendesk", answer(body))


def test_a_body_not_declared_json_is_a_bad_response() -> None:
    with pytest.raises(UpstreamBadResponse):
        decode_json("posthog", answer(b"{}", {"content-type": "text/html"}))
