"""Where a message may place the user's traits and ids
(gateway/ingest/placements.py), and the body's gzip (gateway/ingest/gunzip.py)."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest

from gateway.ingest.fields import InvalidMessage
from gateway.ingest.gunzip import gunzip
from gateway.ingest.placements import Placed, place


def placed(raw: dict[str, Any], kind: str = "track") -> Placed:
    context = raw.get("context") or {}
    return place(raw, kind, context)


def test_identify_merges_both_trait_placements_and_the_top_level_wins() -> None:
    raw = {
        "userId": "u",
        "traits": {"email": "top@example.com", "plan": "pro"},
        "context": {
            "traits": {"email": "ctx@example.com", "firstName": "Ana", "plan": "x"}
        },
    }
    assert placed(raw, "identify").traits == {
        "email": "top@example.com",
        "firstName": "Ana",
        "plan": "pro",
    }


def test_a_whole_address_wins_not_its_parts() -> None:
    raw = {
        "userId": "u",
        "traits": {"address": {"country": "DE"}},
        "context": {"traits": {"address": {"country": "FR", "city": "Paris"}}},
    }
    assert placed(raw, "identify").traits == {"address": {"country": "DE"}}


def test_a_groups_traits_are_the_groups_and_context_traits_the_users() -> None:
    raw = {
        "anonymousId": "a",
        "groupId": "acme",
        "traits": {"id": "acme", "email": "billing@acme.test"},
        "context": {"traits": {"id": "u-7", "email": "ana@example.com"}},
    }
    result = placed(raw, "group")
    assert result.traits == {"id": "u-7", "email": "ana@example.com"}
    assert result.user_id == "u-7"
    assert result.email == ("context.traits.email", "ana@example.com")


@pytest.mark.parametrize(
    ("raw", "kind", "user_id"),
    [
        ({"userId": "top", "context": {"traits": {"id": "ctx"}}}, "track", "top"),
        ({"userId": 42}, "track", "42"),
        ({"anonymousId": "a", "traits": {"userId": "t-uid"}}, "identify", "t-uid"),
        ({"anonymousId": "a", "traits": {"id": "t-id"}}, "identify", "t-id"),
        (
            {"anonymousId": "a", "traits": {"id": "t-id", "userId": "t-uid"}},
            "identify",
            "t-uid",
        ),
        ({"anonymousId": "a", "context": {"traits": {"id": 7}}}, "track", "7"),
        (
            {"context": {"externalIds": [{"type": "user_id", "id": "ext"}]}},
            "page",
            "ext",
        ),
        ({"context": {"externalId": [{"type": "user_id", "id": "rs"}]}}, "page", "rs"),
        (
            {
                "context": {
                    "externalIds": [{"type": "user_id", "id": "segment"}],
                    "externalId": [{"type": "user_id", "id": "rudder"}],
                }
            },
            "page",
            "segment",
        ),
        ({"anonymousId": "a", "context": {"traits": {"id": 1.5}}}, "track", None),
        ({"anonymousId": "a", "context": {"traits": {"id": True}}}, "track", None),
        ({"anonymousId": "a", "context": {"traits": {"id": "x" * 256}}}, "track", None),
        ({"anonymousId": "a", "context": {"traits": "not an object"}}, "track", None),
        ({"anonymousId": "a", "context": {"externalIds": "nope"}}, "track", None),
        (
            {"anonymousId": "a", "context": {"externalIds": [1, {"id": "x"}]}},
            "track",
            None,
        ),
    ],
)
def test_the_user_id_is_read_from_its_first_placement_holding_an_id(
    raw: dict[str, Any], kind: str, user_id: str | None
) -> None:
    assert placed(raw, kind).user_id == user_id


def test_the_anonymous_id_may_be_an_external_id() -> None:
    raw = {"context": {"externalId": [{"type": "anonymous_id", "id": "anon-9"}]}}
    assert placed(raw).anonymous_id == "anon-9"


@pytest.mark.parametrize(
    ("raw", "kind", "email"),
    [
        (
            {
                "context": {"traits": {"email": "c@x.test"}},
                "properties": {"email": "p@x.test"},
            },
            "track",
            ("context.traits.email", "c@x.test"),
        ),
        (
            {"properties": {"email": "p@x.test"}},
            "page",
            ("properties.email", "p@x.test"),
        ),
        (
            {"properties": {"email": "p@x.test"}},
            "screen",
            ("properties.email", "p@x.test"),
        ),
        ({"traits": {"email": "g@x.test"}}, "group", None),
        (
            {"context": {"externalIds": [{"type": "email", "id": "e@x.test"}]}},
            "alias",
            ("context.externalIds", "e@x.test"),
        ),
        (
            {"context": {"externalId": [{"type": "email", "id": "r@x.test"}]}},
            "track",
            ("context.externalId", "r@x.test"),
        ),
        (
            {
                "context": {
                    "externalIds": [{"type": "email"}],
                    "externalId": [{"type": "email", "id": "r@x.test"}],
                }
            },
            "track",
            ("context.externalId", "r@x.test"),
        ),
        ({"context": {"traits": {"email": 7}}}, "track", None),
        ({"context": {"traits": {"email": "  "}}}, "track", None),
    ],
)
def test_the_email_naming_the_user_is_read_from_its_first_placement(
    raw: dict[str, Any], kind: str, email: tuple[str, str] | None
) -> None:
    assert placed({"userId": "u", **raw}, kind).email == email


def test_identify_takes_an_external_email_into_its_traits_only_when_it_has_none() -> (
    None
):
    external = {"externalIds": [{"type": "email", "id": "ext@x.test"}]}
    without = placed({"userId": "u", "context": external}, "identify")
    assert without.traits == {"email": "ext@x.test"}
    with_one = placed(
        {"userId": "u", "traits": {"email": "t@x.test"}, "context": external},
        "identify",
    )
    assert with_one.traits == {"email": "t@x.test"}


def test_identify_refuses_context_traits_that_are_not_an_object() -> None:
    with pytest.raises(InvalidMessage, match="context.traits must be a JSON object"):
        placed({"userId": "u", "context": {"traits": ["a"]}}, "identify")


def test_a_top_level_user_id_that_is_not_an_id_refuses_the_message() -> None:
    with pytest.raises(InvalidMessage, match="userId must be a string"):
        placed({"userId": 1.5, "context": {"traits": {"id": "fine"}}})


# gzip


def test_gzip_members_one_after_the_other_are_one_body() -> None:
    assert gunzip(gzip.compress(b'{"a":') + gzip.compress(b"1}"), 100) == b'{"a":1}'


def test_a_body_inflating_past_the_limit_stops_one_byte_past_it() -> None:
    assert gunzip(gzip.compress(b"x" * 101), 100) is None
    assert gunzip(gzip.compress(b"x" * 100), 100) == b"x" * 100
    assert gunzip(gzip.compress(b"x" * 60) * 2, 100) is None


def corrupt_crc(member: bytes) -> bytes:
    """The member with its CRC-32 (the trailer's first four bytes) changed."""
    crc = bytes(b ^ 0xFF for b in member[-8:-4])
    return member[:-8] + crc + member[-4:]


@pytest.mark.parametrize(
    "data",
    [
        b"not gzip at all",
        gzip.compress(b'{"batch": []}')[:-6],
        corrupt_crc(gzip.compress(b'{"batch": []}')),
        gzip.compress(b"{}") + b"trailing",
    ],
    ids=["not gzip", "truncated", "bad checksum", "garbage after a member"],
)
def test_malformed_gzip_raises(data: bytes) -> None:
    with pytest.raises(zlib.error):
        gunzip(data, 1000)
