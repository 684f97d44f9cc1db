"""Only the admin role makes and reads privacy requests: every other role is
refused (FORBIDDEN) before anything is written."""

from __future__ import annotations

import pytest
from strawberry import relay

from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, Role
from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.gateway.simulated import count
from tests.integration.privacy.conftest import Api, plant

pytestmark = pytest.mark.storage_independent

DOCUMENTS = (
    "mutation($id: ID!) { exportCustomerData(id: $id) { id } }",
    "mutation($id: ID!) { eraseCustomer(id: $id) { id } }",
    "query($id: ID!) { privacyRequest(id: $id) { status } }",
)


@pytest.mark.parametrize("role", sorted(GRANTABLE_ROLES), ids=str)
async def test_only_the_admin_handles_privacy_requests(
    env: Services, api: Api, role: Role
) -> None:
    customer = await plant(env, f"{role}@example.com", {})
    secret, _ = await create_key(env.sessions, f"privacy-{role}", role)
    customer_id = {"id": str(relay.GlobalID("Customer", str(customer)))}
    answers = [await api(d, customer_id, key=secret) for d in DOCUMENTS[:2]]
    made = (answers[1].get("data") or {}).get("eraseCustomer") or {}
    request_id = {"id": made.get("id", "UHJpdmFjeVJlcXVlc3Q6MQ==")}  # :1
    answers.append(await api(DOCUMENTS[2], request_id, key=secret))
    if role is Role.ADMIN:
        assert [a.get("errors") for a in answers] == [None, None, None]
        assert await count(env, models.PrivacyRequest) == 2
        return
    for answer in answers:
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", answer
    assert await count(env, models.PrivacyRequest) == 0
