"""Every list refuses a forged cursor the same way: BAD_USER_INPUT naming the
argument, whatever the list and whatever is wrong with the key."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.test_upstream_fields import shopper

pytestmark = pytest.mark.storage_independent

ROOT = "query($c: String) { %s }"
ON_CUSTOMER = "query($e: String!, $c: String) { customer(email: $e) { %s } }"

# list → (document with $c as the cursor, argument, cursor kind, a well-formed key)
LISTS: dict[str, tuple[str, str, str, list[object]]] = {
    "customers": (
        ROOT % "customers(orderBy: EMAIL_ASC, after: $c) { edges { cursor } }",
        "after",
        "customers:email_asc",
        ["a@example.com", 7],
    ),
    "notes": (
        ON_CUSTOMER % "notes(after: $c) { edges { cursor } }",
        "after",
        "notes",
        ["2025-01-01T00:00:00+00:00", 7],
    ),
    "tasks": (
        ON_CUSTOMER % "tasks(after: $c) { edges { cursor } }",
        "after",
        "tasks",
        ["2025-01-01T00:00:00+00:00", 7],
    ),
    "orders": (
        ON_CUSTOMER % "orders(after: $c) { edges { cursor } }",
        "after",
        "orders",
        ["2025-01-01T00:00:00+00:00", "gid://shopify/Order/1", 3],
    ),
    "tickets": (
        ON_CUSTOMER % "tickets(after: $c) { edges { cursor } }",
        "after",
        "tickets",
        ["2025-01-01T00:00:00+00:00", "00000000000000000001"],
    ),
    "activity": (
        ON_CUSTOMER % "activity(after: $c) { edges { cursor } }",
        "after",
        "activity",
        ["2025-01-01T00:00:00+00:00", "event-1"],
    ),
    "timeline after": (
        ON_CUSTOMER % "timeline(after: $c) { edges { cursor } }",
        "after",
        "timeline",
        ["2025-01-01T00:00:00+00:00", "crm", "note:1"],
    ),
    "timeline before": (
        ON_CUSTOMER % "timeline(before: $c) { edges { cursor } }",
        "before",
        "timeline",
        ["2025-01-01T00:00:00+00:00", "crm", "note:1"],
    ),
    "segmentPreview": (
        ROOT
        % 'segmentPreview(filter: {country: "US"}, after: $c) { edges { cursor } }',
        "after",
        "preview",
        [7],
    ),
}


def _forge(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def _forgeries(kind: str, key: list[object]) -> dict[str, str]:
    """Keys of the right list but the wrong shape, and a key of another list."""
    return {
        "a true in the last place": _forge([kind, *key[:-1], True]),
        "a float in the last place": _forge([kind, *key[:-1], 1.5]),
        "a null in the first place": _forge([kind, None, *key[1:]]),
        "an object in the first place": _forge([kind, {"k": 1}, *key[1:]]),
        "twice the key": _forge([kind, *key, *key]),
        "no key": _forge([kind]),
        "another list's kind": _forge(["another", *key]),
        "not base64 JSON": "!!" + _forge([kind, *key])[2:],
        "empty": "",  # not the argument left out
        "padded too much": _forge([kind, *key]) + "====",
    }


@pytest.mark.parametrize("name", list(LISTS))
async def test_a_forged_cursor_is_bad_user_input_naming_its_argument(
    gateway: Gateway, name: str
) -> None:
    """Each forgery of ``_forgeries`` in turn, on one list."""
    document, argument, kind, key = LISTS[name]
    for what, cursor in _forgeries(kind, key).items():
        result = await gateway.gql(document, {"e": shopper(gateway), "c": cursor})
        assert "cursor" not in orjson.dumps(result["data"]).decode(), (what, result)
        [error] = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (what, error)
        assert error["extensions"]["argument"] == argument, (what, error)
