"""``connectors.scope.departures``: a wait for reads begun ahead, until each
is over or a call of the scope has left for its source, bounded. Its futures
are the event loop's own: no test waits on a clock but the bound's."""

from __future__ import annotations

import asyncio

from connectors.scope import Priority, call_scope, departed, departures

LONG = 30.0
"""A bound no passing test reaches."""


async def _pending() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


async def test_outside_a_scope_nothing_is_waited_for() -> None:
    read = await _pending()
    await asyncio.wait_for(departures([("shopify", read)], LONG), 1.0)


async def test_a_departure_ends_the_wait_for_its_source() -> None:
    read = await _pending()
    with call_scope(None, Priority.INTERACTIVE):
        waiting = asyncio.ensure_future(departures([("shopify", read)], LONG))
        await asyncio.sleep(0)
        assert not waiting.done()
        departed("zendesk")  # another source's: still waiting
        await asyncio.sleep(0)
        assert not waiting.done()
        with call_scope(1.0, Priority.FALLBACK):  # a loader's scope, inside
            departed("shopify")
        await asyncio.wait_for(waiting, 1.0)
    assert not read.done()


async def test_a_read_over_ends_the_wait_for_it() -> None:
    shopify, posthog = await _pending(), await _pending()
    with call_scope(None, Priority.INTERACTIVE) as scope:
        reads = [("shopify", shopify), ("posthog", posthog)]
        waiting = asyncio.ensure_future(departures(reads, LONG))
        shopify.set_result(None)  # a cache hit: no call leaves
        await asyncio.sleep(0)
        assert not waiting.done()
        posthog.set_exception(RuntimeError("refused"))  # failed before sending
        posthog.exception()
        await asyncio.wait_for(waiting, 1.0)
        assert scope.departures.listeners == []


async def test_the_wait_is_bounded() -> None:
    read = await _pending()
    with call_scope(None, Priority.INTERACTIVE) as scope:
        await asyncio.wait_for(departures([("shopify", read)], 0.01), 1.0)
        assert scope.departures.listeners == []
    assert not read.done()


async def test_departures_already_noted_end_it_at_once() -> None:
    read = await _pending()
    with call_scope(None, Priority.INTERACTIVE):
        departed("shopify")
        await asyncio.wait_for(departures([("shopify", read)], LONG), 1.0)
