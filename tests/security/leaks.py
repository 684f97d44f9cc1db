"""What must never reach a client or a log: stack traces, SQL, internal paths,
and the seeded customers' contact data."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.security.conftest import Stage

INTERNALS = re.compile(
    r"Traceback \(most recent|File \"/|SELECT [\w*\"]|INSERT INTO|UPDATE \w+ SET"
    r"|DELETE FROM|sqlalchemy|asyncpg\.|aiosqlite|/site-packages/|/work/|gateway/\w+\.py"
)


def internals(text: str) -> list[str]:
    return sorted({m.group(0) for m in INTERNALS.finditer(text)})


def assert_no_leak(stage: Stage, text: str) -> None:
    found = internals(text)
    assert not found, f"internals in a refusal: {found}: {text[:500]}"
    for secret in (stage.subject.email, stage.subject.phone):
        assert secret not in text, f"personal data in a refusal: {text[:500]}"
