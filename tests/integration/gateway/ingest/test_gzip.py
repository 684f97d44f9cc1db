"""Gzipped ingest bodies (gateway/ingest/gunzip.py): the size limit holds for
what a body inflates to, so a gzip bomb is a 413 and not memory; a body that
is not gzip is a coded 400; a coding other than gzip is a 415. Nothing of a
refused request is stored."""

from __future__ import annotations

import functools
import gzip
import tracemalloc
import zlib
from collections.abc import Callable

import httpx
import orjson
import pytest

from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.gateway.ingest.rows import count, events, track

MB = 1024 * 1024


@functools.cache
def bomb(inflated_mb: int) -> bytes:
    """A gzip member of ``inflated_mb`` MB of zeros (about 1 KB per MB)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\x00" * MB
    parts = [deflate.compress(chunk) for _ in range(inflated_mb)]
    return b"".join(parts) + deflate.flush()


@pytest.mark.parametrize(
    ("route", "limit_kb", "inflated_mb"),
    [("/v1/batch", 500, 400), ("/v1/track", 32, 30)],
)
async def test_a_gzip_bomb_is_413_without_inflating_it_in_memory(
    ingest: httpx.AsyncClient, db: Services, route: str, limit_kb: int, inflated_mb: int
) -> None:
    body = bomb(inflated_mb)
    assert len(body) < limit_kb * 1024  # passes the limit only once inflated
    tracemalloc.start()
    try:
        response = await ingest.post(
            route, content=body, headers={"Content-Encoding": "gzip"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert f"{limit_kb} KB" in response.json()["message"]
    assert peak < 16 * MB  # inflated, the bomb is 30 or 400 MB
    assert await count(db, models.TrackedEvent) == 0


async def test_a_body_inflating_to_just_the_limit_is_read(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    body = orjson.dumps({"batch": [track("m1")], "pad": ""})
    padded = body.replace(
        b'"pad":""', b'"pad":"' + b" " * (500 * 1024 - len(body)) + b'"'
    )
    assert len(padded) == 500 * 1024
    response = await ingest.post(
        "/v1/batch", content=gzip.compress(padded), headers={"Content-Encoding": "gzip"}
    )
    assert response.json() == {"success": True}
    assert await count(db, models.TrackedEvent) == 1


def corrupt_crc(member: bytes) -> bytes:
    """The member with its CRC-32 (the trailer's first four bytes) changed."""
    return member[:-8] + bytes(b ^ 0xFF for b in member[-8:-4]) + member[-4:]


NOT_GZIP: dict[str, Callable[[bytes], bytes]] = {
    "plain JSON": lambda plain: plain,
    "truncated": lambda plain: gzip.compress(plain)[: len(gzip.compress(plain)) // 2],
    "a wrong checksum": lambda plain: corrupt_crc(gzip.compress(plain)),
    "garbage after the member": lambda plain: gzip.compress(plain) + b"x",
}


@pytest.mark.parametrize("mangle", NOT_GZIP.values(), ids=NOT_GZIP.keys())
async def test_a_body_declared_gzip_that_is_not_valid_gzip_is_a_coded_400(
    ingest: httpx.AsyncClient, db: Services, mangle: Callable[[bytes], bytes]
) -> None:
    content = mangle(orjson.dumps({"batch": [track("m1")]}))
    response = await ingest.post(
        "/v1/batch", content=content, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_body",
        "message": "the body is not valid gzip",
    }
    assert await count(db, models.TrackedEvent) == 0


async def test_gzip_members_back_to_back_and_the_x_gzip_name_are_read(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    body = orjson.dumps({"batch": [track("m1"), track("m2")]})
    half = len(body) // 2
    members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    first = await ingest.post(
        "/v1/batch", content=members, headers={"Content-Encoding": "gzip"}
    )
    second = await ingest.post(
        "/v1/track",
        content=gzip.compress(orjson.dumps(track("m3"))),
        headers={"Content-Encoding": "x-gzip"},
    )
    assert first.json() == second.json() == {"success": True}
    assert [e.message_id for e in await events(db)] == ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    "codings",
    [
        ["br"],
        ["deflate"],
        ["gzip, gzip"],
        ["compress"],
        ["gzip", "br"],
        ["identity", "br"],
    ],
    ids=str,
)
async def test_a_content_coding_other_than_gzip_is_415(
    ingest: httpx.AsyncClient, db: Services, codings: list[str]
) -> None:
    """Every ``Content-Encoding`` line counts: a second line naming ``br``
    was once passed over (a helper's new-user pass)."""
    response = await ingest.post(
        "/v1/track",
        content=orjson.dumps(track("m1")),
        headers=[("Content-Encoding", coding) for coding in codings],
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_encoding"
    assert response.headers["Accept-Encoding"] == "gzip, identity"
    assert await count(db, models.TrackedEvent) == 0
