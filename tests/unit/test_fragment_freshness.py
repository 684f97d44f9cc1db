"""What a customer's fragment executes after its versions were read shares no
upstream read begun before them (``connectors.scope.fresh_from_now``), and a
customer whose versions moved since the request first read them is not
stored: its loaders may hold what an earlier occurrence read before the
change."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.scope import Priority, call_scope, fresh_from
from gateway.cache.backends import MemoryBackend
from gateway.cache.fragments import Slot
from gateway.cache.responses import ResponseCache
from gateway.changes.bus import CustomerChange

UPDATED = datetime(2026, 12, 1, tzinfo=UTC)


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


async def test_a_customer_changed_between_two_of_its_reads_in_a_request_is_not_stored() -> (
    None
):
    """Customer 7 shows twice in one query (``customer(id:)`` and a page),
    read in two batches; a change lands between them. The second occurrence's
    fragment is not stored; customer 8, read for the first time after the
    change, is."""
    cache = ResponseCache(MemoryBackend(), "cg", 60)
    reader = cache.fragments("admin")
    by_id = Slot(7, reader.digest(b"{ email }"))
    in_page = [Slot(7, reader.digest(b"{ email orders }")), Slot(8, by_id.selection)]

    first = await reader.read(by_id)
    reader.store(by_id, first, UPDATED, {}, b'{"email":"a@b.c"}')
    await cache.forget_customers([CustomerChange(7, "shopify", "orders/create")])
    for slot in in_page:
        read = await reader.read(slot)
        reader.store(slot, read, UPDATED, {}, b'{"email":"a@b.c","orders":[]}')
    await reader.flush()

    later = cache.fragments("admin")
    kept = [(await later.read(s)).current(UPDATED) for s in [by_id, *in_page]]
    assert [hit is not None for hit in kept] == [False, False, True]
