"""``exportCustomerData``: one JSON document with what our tables hold, what
each linked upstream holds (with provenance), the derived traits, and who
read the customer — dropped when the customer is erased."""

from __future__ import annotations

from strawberry import relay

from gateway.demo.simulation import Simulators
from gateway.runtime.services import Services
from tests.integration.privacy.conftest import (
    WORLD,
    Api,
    Drain,
    linked_everywhere,
    links_of,
    orphan_events,
    plant,
)

EXPORT = "mutation($id: ID!) { exportCustomerData(id: $id) { id status } }"
READ = "query($id: ID!) { privacyRequest(id: $id) { status export } }"


async def test_the_export_holds_every_source_with_provenance_and_the_audit(
    env: Services, simulators: Simulators, api: Api, work: Drain
) -> None:
    index = linked_everywhere(simulators)[5]
    links = links_of(simulators, index)
    email = WORLD.customers[index].email
    customer = await plant(env, email, links)
    await orphan_events(env, "user-not-linked", f"anon-{customer}")
    customer_id = str(relay.GlobalID("Customer", str(customer)))
    read = await api(
        "query($id: ID!) { customer(id: $id) { email } }", {"id": customer_id}
    )
    assert read["data"]["customer"]["email"] == email
    await env.audit.flush()

    made = await api(EXPORT, {"id": customer_id})
    request_id = made["data"]["exportCustomerData"]["id"]
    await work()
    answer = (await api(READ, {"id": request_id}))["data"]["privacyRequest"]

    assert answer["status"] == "DONE"
    document = answer["export"]
    assert document["customerId"] == customer
    assert document["local"]["customers"][0]["email"] == email
    assert [n["body"] for n in document["local"]["notes"]] == ["Called back."]
    events = document["local"]["tracked_events"]
    assert [e["message_id"] for e in events] == [f"m-{customer}", "orphan-1"]
    assert document["local"]["posthog_events"][0]["distinct_id"] == links["posthog"]
    assert {k: len(v) for k, v in document["derived"].items()} == {
        "customer_traits": 1,
        "customer_rfm": 1,
        "segment_members": 1,
    }
    sources = document["sources"]
    assert {s: (e["status"], e["externalIds"]) for s, e in sources.items()} == {
        s: ("done", [links[s]]) for s in links
    }
    assert all(e["fetchedAt"] for e in sources.values())
    assert {c["email"] for e in sources.values() for c in e["customers"]} == {email}
    store = simulators.shopify.store
    assert len(sources["shopify"]["orders"]) == len(
        store.orders_by_customer[store.by_gid[links["shopify"]]["_number"]]
    )
    requested = [
        t
        for t in simulators.zendesk.desk.tickets.values()
        if str(t["requester_id"]) == links["zendesk"]
    ]
    assert len(sources["zendesk"]["tickets"]) == len(requested)
    assert isinstance(sources["posthog"]["events"], list)
    reads = [a for a in document["audit"] if a["action"] == "read"]
    assert [(a["role"], a["fields"]) for a in reads] == [("admin", ["email"])]

    await api(
        "mutation($id: ID!) { eraseCustomer(id: $id) { id } }", {"id": customer_id}
    )
    await work()
    gone = (await api(READ, {"id": request_id}))["data"]["privacyRequest"]
    assert gone["export"] is None
