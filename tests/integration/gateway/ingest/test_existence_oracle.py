"""The public write key ships in browsers: its answers must not tell anyone
whether an email, a phone or a userId belongs to a customer.

Each probe is sent twice with the public key, once naming the stored
customer's contact (``test_trust``'s victim) and once a contact nobody has;
the two answers must be equal (message ids aside, which the sender chose).
The server write key still gets the detailed warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.runtime.services import Services
from tests.integration.gateway.ingest.test_trust import (
    VICTIM_EMAIL,
    VICTIM_PHONE,
    add_victim,
    identify,
)

KNOWN = {"email": VICTIM_EMAIL, "phone": VICTIM_PHONE, "uid": "victim-uid"}
UNKNOWN = {"email": "nobody@example.com", "phone": "+49301239999", "uid": "nobody"}

Probe = Callable[[dict[str, str], str], list[dict[str, Any]]]
"""(contact, a userId of the probe's own) → the messages of one batch."""

PROBES: dict[str, Probe] = {
    "a new userId with the email": lambda c, me: [identify(me, email=c["email"])],
    "an anonymousId with the email": lambda c, me: [identify(None, email=c["email"])],
    "a new email with the phone": lambda c, me: [
        identify(me, email=f"{me}@example.com", phone=c["phone"])
    ],
    "the userId alone": lambda c, me: [identify(c["uid"], plan="free")],
    "the userId with a name and an address": lambda c, me: [
        identify(
            c["uid"],
            name="Mallory Attacker",
            address={"country": "FR", "city": "Paris"},
        )
    ],
    "the userId with an email": lambda c, me: [
        identify(c["uid"], email=f"{me}@example.com")
    ],
    "an alias of the userId": lambda c, me: [
        {"type": "alias", "userId": me, "previousId": c["uid"]}
    ],
    "the email with an invalid phone": lambda c, me: [
        identify(me, email=c["email"], phone="12345")
    ],
    "a batch of them all": lambda c, me: [
        identify(f"{me}-1", email=c["email"]),
        identify(c["uid"], name="Mallory Attacker", plan="free"),
        identify(f"{me}-2", email=f"{me}@example.com", phone=c["phone"]),
        {"type": "alias", "userId": f"{me}-3", "previousId": c["uid"]},
        {"type": "track", "userId": c["uid"], "event": "Viewed"},
    ],
}


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    warnings = [{**w, "messageId": None} for w in body.get("warnings", [])]
    return {**body, "warnings": warnings} if warnings else body


@pytest.mark.parametrize("probe", PROBES)
async def test_the_public_key_answers_the_same_whether_the_contact_exists(
    ingest: httpx.AsyncClient, db: Services, probe: str
) -> None:
    await add_victim(db)
    answers = []
    for contact, me in ((KNOWN, "probe-a"), (UNKNOWN, "probe-b")):
        batch = PROBES[probe](contact, me)
        response = await ingest.post("/v1/batch", json={"batch": batch})
        assert response.status_code == 200, response.text
        answers.append(_without_ids(response.json()))
    known, unknown = answers
    assert known == unknown
    assert known["success"] is True


async def test_the_public_key_is_still_told_what_its_message_got_wrong(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    await add_victim(db)
    batch = PROBES["the email with an invalid phone"](KNOWN, "probe")
    response = await ingest.post("/v1/batch", json={"batch": batch})
    assert [w["field"] for w in response.json()["warnings"]] == ["traits.phone"]


async def test_the_server_key_is_told_why_a_change_was_refused(
    trusted_ingest: httpx.AsyncClient, db: Services
) -> None:
    await add_victim(db)
    other = identify("other-uid", email="other@example.com")
    await trusted_ingest.post("/v1/batch", json={"batch": [other]})
    batch = [
        identify("victim-uid", email="other@example.com"),  # someone else's
        identify("nobody"),  # an unknown userId, no email to create it
    ]
    response = await trusted_ingest.post("/v1/batch", json={"batch": batch})
    warnings = response.json()["warnings"]
    assert [(w["index"], w["field"]) for w in warnings] == [
        (0, "traits.email"),
        (1, "traits.email"),
    ]
    assert "another customer" in warnings[0]["message"]
