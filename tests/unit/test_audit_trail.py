"""``AuditTrail``: one entry per customer shown, whether its fields were shown
by execution, by stored answers replayed, or by both."""

from __future__ import annotations

import pytest

from gateway.auth import audit as audit_module
from gateway.auth.audit import AuditTrail, fields_text, shown_by_fields
from gateway.auth.policy import Role
from gateway.auth.principal import Principal

CALLER = Principal(subject="key:k", role=Role.SUPPORT, rate_key="k")
NAME = fields_text(["displayName"])
CONTACT = fields_text(["email", "displayName"])


def fields(trail: AuditTrail) -> dict[int | None, str]:
    """Each entry's customer and fields, asserting one entry per customer."""
    rows = trail.rows(CALLER, "Page")
    found = {row[4]: row[6] for row in rows if row[3] == "read"}
    assert len(found) == len([row for row in rows if row[3] == "read"])
    return found


def test_fields_are_held_sorted_as_json() -> None:
    assert CONTACT == '["displayName","email"]'
    assert shown_by_fields(
        {1: {"email", "displayName"}, 2: {"displayName"}, 3: {"displayName", "email"}}
    ) == {CONTACT: [1, 3], NAME: [2]}


def test_a_replayed_answer_gives_its_stored_text_without_encoding_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page hit replays 50 customers: their entries take the text as stored."""

    def encoded(names: object) -> str:
        raise AssertionError("encoded again")

    monkeypatch.setattr(audit_module, "_json", encoded)
    trail = AuditTrail()
    trail.replay({CONTACT: [1, 2], NAME: [3]})
    trail.replay({CONTACT: [2]})  # the same customer, the same fields
    assert fields(trail) == {1: CONTACT, 2: CONTACT, 3: NAME}
    assert trail


@pytest.mark.parametrize("read_first", [True, False])
def test_a_customer_shown_by_execution_and_a_stored_part_has_one_entry_of_both(
    read_first: bool,
) -> None:
    trail = AuditTrail()
    if read_first:
        trail.read(1, "email")
    trail.replay({NAME: [1, 2]})
    if not read_first:
        trail.read(1, "email")
    assert fields(trail) == {1: CONTACT, 2: NAME}
    assert trail.shown() == {CONTACT: [1], NAME: [2]}


def test_one_customer_replayed_with_two_field_sets_has_one_entry_of_both() -> None:
    trail = AuditTrail()
    trail.replay({NAME: [1]})
    trail.replay({fields_text(["email"]): [1], NAME: [2]})
    assert fields(trail) == {1: CONTACT, 2: NAME}


def test_a_cleared_trail_holds_nothing() -> None:
    trail = AuditTrail()
    trail.replay({NAME: [1]})
    trail.read(2, "email")
    trail.clear()
    assert not trail
    assert trail.rows(CALLER, None) == []
    assert trail.shown() == {}
