"""What every fuzz run shares: its Hypothesis settings, the checks applied to
each answer and log record, and the tally.

``CG_FUZZ_EXAMPLES`` sets the examples per fuzz test (default 25, enough for
CI); runs are derandomized, so CI is repeatable. By default the first problem
fails the test (Hypothesis then shrinks it). With ``CG_FUZZ_TALLY=<file>`` a
test runs all its examples, counts every problem by class, appends the counts,
a few examples of each class and the count of each outcome a test reports
(``"400 invalid_json"``, ``"200 processed"``) to ``<file>`` (JSON lines) and
fails at the end if there were any problems — the mode for the long run::

    CG_FUZZ_EXAMPLES=2000 CG_FUZZ_TALLY=/tmp/fuzz.jsonl pytest tests/security -k fuzz
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings

from tests.security.leaks import internals

EXAMPLES = int(os.environ.get("CG_FUZZ_EXAMPLES", "25"))
TALLY_FILE = os.environ.get("CG_FUZZ_TALLY")

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)

SQL_IN_LOGS = re.compile(
    r"SELECT [\w*\"]|INSERT INTO|UPDATE \w+ SET|DELETE FROM|\[parameters:"
)


def answer_problems(status: int, text: str, *, graphql: bool = True) -> list[str]:
    """Classes of problem in one HTTP answer: 5xx, internals, and (GraphQL
    answers) errors without a code."""
    problems = []
    if status >= 500:
        problems.append(f"5xx ({status})")
    if internals(text):
        problems.append("internals in the answer")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if graphql and isinstance(body, dict):
        for error in body.get("errors") or []:
            if not isinstance(error, dict) or not (error.get("extensions") or {}).get(
                "code"
            ):
                problems.append("an error without extensions.code")
                break
    return problems


def personal_in(text: str, secrets: set[str]) -> bool:
    return any(secret in text for secret in secrets)


def log_problems(records: list[logging.LogRecord], secrets: set[str]) -> list[str]:
    """Personal data or SQL in any log record (message and traceback)."""
    formatter = logging.Formatter("%(message)s")
    problems = []
    for record in records:
        line = formatter.format(record)
        if personal_in(line, secrets):
            problems.append(f"personal data in a log record ({record.name})")
        if SQL_IN_LOGS.search(line):
            problems.append(f"SQL in a log record ({record.name})")
    return sorted(set(problems))


@dataclass
class Tally:
    """Problems per class across a test's examples."""

    test: str
    examples: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    outcomes: Counter[str] = field(default_factory=Counter)

    def check(self, problems: list[str], example: str, outcome: str = "") -> None:
        self.examples += 1
        if outcome:
            self.outcomes[outcome] += 1
        if not problems:
            return
        if TALLY_FILE is None:
            raise AssertionError(f"{problems}\n{example[:3000]}")
        for problem in problems:
            self.counts[problem] += 1
            if len(self.samples[problem]) < 3 and example not in self.samples[problem]:
                self.samples[problem].append(example[:1500])

    def finish(self) -> None:
        if TALLY_FILE is not None:
            with open(TALLY_FILE, "a") as out:
                line = {
                    "test": self.test,
                    "examples": self.examples,
                    "problems": dict(self.counts),
                    "samples": self.samples,
                    "outcomes": dict(sorted(self.outcomes.items())),
                }
                out.write(json.dumps(line) + "\n")
        assert not self.counts, f"{self.test}: {dict(self.counts)}"


def describe(**parts: Any) -> str:
    return json.dumps(parts, default=repr)[:3000]


async def run_examples(strategy: Any, check: Any) -> None:
    """Run ``await check(example)`` for each example Hypothesis draws from
    ``strategy`` (with ``FUZZ``), on the running loop: Hypothesis drives a
    plain function in a worker thread, each example is handed back to the loop."""
    import asyncio

    from hypothesis import given

    loop = asyncio.get_running_loop()

    @FUZZ
    @given(strategy)
    def each(example: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(example), loop).result()

    await asyncio.to_thread(each)
