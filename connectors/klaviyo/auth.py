"""Klaviyo's private-key credential as an ``httpx.Auth`` flow.

Every ``/api`` endpoint takes the account's private API key in the header
``Authorization: Klaviyo-API-Key {key}`` (developers.klaviyo.com/en/docs/
authenticate_); the key never goes in a URL.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx


class KlaviyoKeyAuth(httpx.Auth):
    def __init__(self, api_key: str) -> None:
        self._header = f"Klaviyo-API-Key {api_key}"

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request
