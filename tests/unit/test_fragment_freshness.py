"""What a customer's fragment executes after its versions were read shares no
upstream read begun before them (``connectors.scope.fresh_from_now``): a read
begun earlier may predate a change those versions follow."""

from __future__ import annotations

from connectors.scope import Priority, call_scope, fresh_from
from gateway.cache.backends import MemoryBackend
from gateway.cache.fragments import Slot
from gateway.cache.responses import ResponseCache


async def test_reading_fragments_makes_the_request_fresh_from_then() -> None:
    reader = ResponseCache(MemoryBackend(), "cg", 60).fragments("admin")
    with call_scope(10.0, Priority.INTERACTIVE):
        opened = fresh_from()
        assert opened is not None
        with call_scope(None, Priority.INTERACTIVE):  # a loader's, inside
            await reader.read(Slot(7, reader.digest(b"{ email }")))
        after = fresh_from()
        assert after is not None
        assert after > opened
    assert fresh_from() is None
