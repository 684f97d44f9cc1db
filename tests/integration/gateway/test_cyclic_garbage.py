"""A view's objects (the 360 view's, a page of 50's) are freed as the view
ends, by their reference counts: none is left in a reference cycle for the
garbage collector. Before, the executor
(graphql-core's resolver helpers, bound methods of it) and two source loaders
(a bound method of their owner) were cycles through which every value a 360
view read — ~1,000 objects — waited for a young collection: 5 ms each, every
~10 uncached views (docs/benchmarks.md, session 25)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from bench.queries import CUSTOMER_360, CUSTOMER_PAGE, Shape
from bench.subject import richest_customer
from connectors.demo_world import World
from gateway.demo.simulation import Simulators
from gateway.runtime.services import Services
from tests.integration.gateway.conftest import Gateway, open_gateway

OURS = ("gateway.", "connectors.", "strawberry.", "sqlalchemy.orm.")
"""Modules whose objects a view makes. The simulators' are left out, and
graphql-core's: they serve in this process, and Shopify's executes its
documents with graphql-core's own executor, a cycle of its own (our
executor, ``FragmentExecutor``, is ``gateway``'s)."""


def ours(thing: object) -> bool:
    """SQLAlchemy's ORM objects count (the rows a view loads), its SQL
    expressions do not: cyclic by construction, and a page's statement is
    built per request (its filters and order vary)."""
    module = type(thing).__module__
    return module.startswith(OURS) and ".simulator" not in module


async def view(gateway: Gateway, shape: Shape) -> None:
    subject = richest_customer(gateway.world, gateway.simulators)
    variables = {"id": subject.global_id} if shape is CUSTOMER_360 else {}
    result = await gateway.gql(shape.document, variables)
    assert "errors" not in result, result
    assert result["data"]


@pytest.mark.parametrize("shape", [CUSTOMER_360, CUSTOMER_PAGE], ids=lambda s: s.key)
@pytest.mark.parametrize(
    "update",
    [{"cache_enabled": False}, {"response_cache_ttl": 0}],
    ids=["uncached", "executed from cached values"],
)
async def test_a_view_leaves_nothing_in_a_reference_cycle(
    seeded: Services,
    simulators: Simulators,
    world: World,
    update: dict[str, Any],
    shape: Shape,
) -> None:
    settings = seeded.settings.model_copy(update=update)
    async with open_gateway(settings, simulators, world) as gateway:
        for _ in range(2):  # links stored, values cached, statements built
            await view(gateway, shape)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept
        try:
            await view(gateway, shape)
            gc.collect()
            left = sorted({type(o).__qualname__ for o in gc.garbage if ours(o)})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert left == [], ", ".join(left)
