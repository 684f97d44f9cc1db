"""The guard every paginator follows its page tokens through: a token seen
before (an upstream answering the same cursor again) or too many pages is an
answer we cannot read, not a loop. The paginators themselves speak each
upstream's style (``connectors/zendesk/pagination.py``, Shopify's
``endCursor`` in ``connectors/shopify/client.py``)."""

from __future__ import annotations

from connectors.errors import UpstreamBadResponse


class PageGuard:
    """Follows server-issued page tokens and refuses to loop on a repeated one."""

    def __init__(self, connector: str, max_pages: int = 1000) -> None:
        self.connector = connector
        self.max_pages = max_pages
        self._seen: set[str] = set()

    def advance(self, token: str) -> str:
        if token in self._seen:
            raise UpstreamBadResponse(self.connector, "pagination token repeated")
        if len(self._seen) >= self.max_pages:
            raise UpstreamBadResponse(self.connector, "too many pages")
        self._seen.add(token)
        return token
