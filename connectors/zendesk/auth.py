"""Zendesk credentials as the ``Authorization`` header they go in.

API tokens go as HTTP Basic with the user ``{email}/token``; OAuth access tokens
as Bearer. Zendesk ignores credentials in query strings, so headers are the only
way.
"""

from __future__ import annotations

import base64


def token_authorization(email: str, api_token: str) -> str:
    """``Basic base64("{email}/token:{api_token}")``."""
    raw = f"{email}/token:{api_token}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def bearer_authorization(oauth_token: str) -> str:
    """``Bearer {oauth_access_token}``."""
    return f"Bearer {oauth_token}"
