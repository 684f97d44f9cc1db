"""A mutation that writes only our own data (a tag, a note, a task, consent,
loyalty points) keeps the customer's upstream data cached: the next view
reads its CRM data again (the response cache moved) and makes no upstream
call. A profile's update may change what links the customer to an upstream
(an email, a phone): it evicts, and the next view reads every source again.
Generated from the table of every customer write (``test_mutation_changes``)."""

from __future__ import annotations

import pytest

from gateway.cache.invalidation import OWN_DATA_ONLY
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.test_mutation_changes import WRITES
from tests.integration.gateway.test_response_cache import (
    NO_UPSTREAM_CALLS,
    first_customer,
    sidebar,
)

ON_A_CUSTOMER = sorted(set(WRITES) - {"createCustomer"})


def test_every_write_is_classified() -> None:
    """A write announcing a kind this table does not know would evict; each
    is on one side on purpose."""
    kinds = {WRITES[field].kind for field in ON_A_CUSTOMER}
    assert kinds - OWN_DATA_ONLY == {"profile_updated"}


@pytest.mark.parametrize("field", ON_A_CUSTOMER)
async def test_a_write_keeps_upstream_data_cached_unless_it_may_relink(
    cached: Gateway, field: str
) -> None:
    write = WRITES[field]
    customer = await first_customer(cached)
    task = await cached.gql(
        'mutation($c: ID!) { createTask(customerId: $c, title: "Call") { id } }',
        {"c": customer},
    )
    variables = {"c": customer, "t": task["data"]["createTask"]["id"]}
    await sidebar(cached, customer)  # links the customer, reads every source
    cached.simulators.reset_counts()

    written = await cached.gql(write.document, variables)
    assert "errors" not in written, written
    await sidebar(cached, customer)

    calls = cached.simulators.total_requests()
    if write.kind in OWN_DATA_ONLY:
        assert calls == NO_UPSTREAM_CALLS
    else:
        assert sum(calls.values()) >= 1
