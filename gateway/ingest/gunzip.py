"""Inflating a gzipped request body without ever holding more than the limit.

RudderStack's Python SDK gzips every request by default (rudder-sdk-python
2.1.9, ``rudderstack/analytics/request.py``: ``post(..., gzip=True)`` sets
``Content-Encoding: gzip``), Segment's on ``Client(gzip=True)``. A body of a
few hundred kilobytes can inflate to gigabytes (a gzip bomb), so the size
limit applies to what it inflates to: inflation stops one byte past the
limit. Several gzip members one after the other are one body (RFC 1952 2.2,
as ``gzip.decompress`` reads them); a stream that ends inside a member is
malformed, not a shorter body.
"""

from __future__ import annotations

import zlib

_GZIP = 16 + zlib.MAX_WBITS
"""``wbits`` for a gzip header and trailer (zlib's documented value)."""


def gunzip(data: bytes, limit: int) -> bytes | None:
    """``data`` inflated, or None when that is more than ``limit`` bytes.

    Raises:
        zlib.error: ``data`` is not gzip, has a bad checksum or is truncated.
    """
    inflated = bytearray()
    rest = data
    while rest:
        member = zlib.decompressobj(_GZIP)
        inflated += member.decompress(rest, limit + 1 - len(inflated))
        if len(inflated) > limit or member.unconsumed_tail:
            return None
        if not member.eof:
            raise zlib.error("the gzip stream ends inside a member")
        rest = member.unused_data
    return bytes(inflated)
