"""Segment exports × roles × formats: each column shows what the policy's
export table (``EXPORT_COLUMNS`` → ``PII_POLICY``, with each customer's
consents) says for the role, every
exported customer gets an audit entry, and an export column that looks
personal has a kind in the table."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import pytest

from gateway.auth import policy
from gateway.auth.policy import EXPORT_COLUMNS, Role
from gateway.insights.export import COLUMNS
from tests.security import audit
from tests.security.conftest import API_ROLES, SEGMENT, Stage
from tests.security.leaks import assert_no_leak
from tests.security.schema_walk import kind_by_name


async def export(stage: Stage, role: Role, format: str) -> tuple[int, list[dict]]:
    response = await stage.http.get(
        f"/segments/{SEGMENT}/export",
        params={"format": format, "channel": "email"},
        headers={"Authorization": stage.keys[role]},
    )
    if response.status_code != 200:
        return response.status_code, []
    if format == "jsonl":
        return 200, [json.loads(line) for line in response.text.splitlines() if line]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    return 200, [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]


def test_every_personal_looking_export_column_has_a_kind() -> None:
    unlisted = [c for c in COLUMNS if kind_by_name(c) and c not in EXPORT_COLUMNS]
    assert not unlisted


@pytest.mark.parametrize("format", ["jsonl", "csv"])
@pytest.mark.parametrize("role", API_ROLES, ids=str)
async def test_an_export_shows_each_column_as_the_policy_says_and_is_audited(
    stage: Stage, role: Role, format: str
) -> None:
    status, reference = await export(stage, Role.ADMIN, format)
    assert status == 200
    assert reference, "the stage's segment exports nothing"
    before = await audit.reads(stage, role, stage.subject.pk)
    status, rows = await export(stage, role, format)
    assert status == 200
    granted = await stage.granted_by_contact()
    want = [
        {
            column: policy.apply(
                role, EXPORT_COLUMNS[column], value, granted.get(str(value), ())
            )
            if column in EXPORT_COLUMNS
            else value
            for column, value in row.items()
        }
        for row in reference
    ]
    assert rows == want
    ids = {str(r["customer_id"]) for r in rows}
    assert str(stage.subject.pk) in ids
    shown = any(
        policy.apply(role, kind, "x@y.z", ("email", "sms")) is not None
        for kind in EXPORT_COLUMNS.values()
    )
    if shown:
        after = await audit.wait_for_more_reads(stage, role, stage.subject.pk, before)
        assert after > before, (
            f"a {role} export of the subject left no audit entry for it"
        )


HOSTILE_NAMES = {
    "nul": "a%00b",
    "newline": "a%0Ab",
    "delete": "%7F",
    "5,000 characters": "a" * 5000,
    "invalid utf-8": "%ED%A0%80%FF",
}
"""Raw path parts no segment can be named (1–100 printable characters)."""


@pytest.mark.parametrize("raw", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
async def test_an_export_of_a_name_no_segment_can_have_is_404(
    stage: Stage, raw: str
) -> None:
    response = await stage.http.get(
        f"/segments/{raw}/export", headers={"Authorization": stage.keys[Role.ADMIN]}
    )
    assert response.status_code == 404, response.text[:300]
    assert_no_leak(stage, response.text)
    assert len(response.text) < 200, "the refusal echoes the name"


ODD_NAMES = ["sec/slash/ed", "sec?query#frag", "sec 100% & more+", "sec/export"]
"""Valid names that a path must percent-encode (``/`` included)."""


@pytest.mark.parametrize("name", ODD_NAMES)
async def test_every_valid_segment_name_can_be_exported(
    stage: Stage, name: str
) -> None:
    from tests.security.conftest import TAG

    await stage.admin(
        "mutation($n: String!, $t: String!) { createSegment(name: $n,"
        " filter: {tagsAny: [$t]}) { name } }",
        n=name,
        t=TAG,
    )
    headers = {"Authorization": stage.keys[Role.ADMIN]}
    paths = [f"/segments/{quote(name, safe='')}/export"]
    if "/" in name:  # a slash left as it is names the segment too
        paths.append(f"/segments/{quote(name, safe='/')}/export")
    for path in paths:
        response = await stage.http.get(
            path, params={"format": "jsonl"}, headers=headers
        )
        assert response.status_code == 200, (path, response.text[:300])
        exported = {
            json.loads(line)["customer_id"] for line in response.text.splitlines()
        }
        assert stage.subject.pk in exported, path
