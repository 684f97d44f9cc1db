"""Zendesk search as the simulator answers it: an index that lags writes, and
the part of the query language the connector speaks.

What Zendesk documents, and the simulator does [doc]:

* "It can take up to a few minutes for new tickets, users, and other
  resources to be indexed for search" (Search API,
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/);
  "typically … about a minute" (the FAQ of the Zendesk Support search
  reference, https://support.zendesk.com/hc/en-us/articles/4408886879258).
  A write reaches the index ``lag`` seconds later (``INDEX_LAG``, a minute, by
  default); until then search answers the previous version, or nothing.
* Property terms are ``keyword:value``. "You can search for multiple values of
  a single property by including the property keyword multiple times in a
  query … Search uses OR logic for matching in this case" (search reference,
  ``tags:silver tags:bronze``); different keywords, and bare words, must all
  match. "There is a 64 word limit in a search query."
* Up to 1,000 results per query, 100 per page, ``count`` the real total
  (``pages.offset_page``).

Keywords known here: tickets ``type``, ``requester`` (a user id), ``status``,
``tags``, and bare words as word prefixes of the subject; users ``email`` and
``phone``. Any other keyword matches nothing; quoted phrases and the ``<``,
``>`` and ``-`` operators are not spoken.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
Fields = Mapping[str, Callable[[JSON], Iterable[str]]]

INDEX_LAG = 60.0
MAX_WORDS = 64
WORDS = " "
"""The key of ``Fields`` for bare words (no keyword can hold a space)."""


class QueryTooLong(ValueError):
    """More words than Zendesk searches for."""


@dataclass(frozen=True, slots=True)
class Query:
    properties: Mapping[str, frozenset[str]]
    """Keyword → the values one of which a record must have."""
    words: tuple[str, ...]
    """Bare words, each of which a record must contain."""

    def matches(self, record: JSON, fields: Fields) -> bool:
        """``fields`` reads each keyword's values of a record (``WORDS``: the
        text bare words are looked for in)."""
        for keyword, wanted in self.properties.items():
            read = fields.get(keyword)
            if read is None or not wanted & {v.lower() for v in read(record)}:
                return False
        text = fields[WORDS](record) if WORDS in fields else ()
        found = [w.lower() for value in text for w in value.split()]
        return all(any(f.startswith(w) for f in found) for w in self.words)


def parse(text: str) -> Query:
    """``type:ticket requester:1 requester:2`` → a ``Query``."""
    terms = text.split()
    if len(terms) > MAX_WORDS:
        raise QueryTooLong(f"{len(terms)} words; search takes {MAX_WORDS}")
    properties: dict[str, set[str]] = {}
    words: list[str] = []
    for term in terms:
        keyword, colon, value = term.partition(":")
        if colon and keyword and value:
            properties.setdefault(keyword.lower(), set()).add(value.lower())
        else:
            words.append(term.lower())
    return Query({k: frozenset(v) for k, v in properties.items()}, tuple(words))


TICKET_FIELDS: Fields = {
    "type": lambda t: ("ticket",),
    "requester": lambda t: (str(t["requester_id"]),),
    "status": lambda t: (str(t["status"]),),
    "tags": lambda t: t.get("tags") or (),
    WORDS: lambda t: (t.get("subject") or "",),
}
USER_FIELDS: Fields = {
    "type": lambda u: ("user",),
    "email": lambda u: (u["email"],) if u.get("email") else (),
    "phone": lambda u: (u["phone"],) if u.get("phone") else (),
}


class SearchIndex:
    """What search sees of some records: each write shows ``lag`` seconds
    after it was made. Records start indexed, as the very objects the desk
    holds (a test that edits one in place edits what search sees)."""

    def __init__(
        self,
        records: Mapping[int, JSON],
        clock: Callable[[], float],
        lag: float = INDEX_LAG,
    ) -> None:
        self.clock = clock
        self.lag = lag
        self._indexed: dict[int, JSON] = dict(records)
        self._pending: deque[tuple[float, JSON]] = deque()

    def write(self, record: JSON) -> None:
        """A new version of ``record``, indexed ``lag`` seconds from now (and
        never before an earlier write: the index keeps their order)."""
        due = self.clock() + self.lag
        if self._pending:
            due = max(due, self._pending[-1][0])
        self._pending.append((due, record))

    def catch_up(self) -> None:
        """Index every write made so far, as if their lag had passed."""
        for _, record in self._pending:
            self._indexed[record["id"]] = record
        self._pending.clear()

    def records(self) -> list[JSON]:
        now = self.clock()
        later: deque[tuple[float, JSON]] = deque()
        for due, record in self._pending:
            if due <= now:
                self._indexed[record["id"]] = record
            else:
                later.append((due, record))
        self._pending = later
        return list(self._indexed.values())
