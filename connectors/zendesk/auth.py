"""Zendesk credentials as ``httpx.Auth`` flows.

API tokens go as HTTP Basic with the user ``{email}/token``; OAuth access tokens
as Bearer. Zendesk ignores credentials in query strings, so headers are the only
way.
"""

from __future__ import annotations

import base64
from collections.abc import Generator

import httpx


class ZendeskTokenAuth(httpx.Auth):
    """``Authorization: Basic base64("{email}/token:{api_token}")``."""

    def __init__(self, email: str, api_token: str) -> None:
        raw = f"{email}/token:{api_token}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class ZendeskBearerAuth(httpx.Auth):
    """``Authorization: Bearer {oauth_access_token}``."""

    def __init__(self, oauth_token: str) -> None:
        self._header = f"Bearer {oauth_token}"

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request
