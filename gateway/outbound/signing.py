"""Secrets and signatures, by the Standard Webhooks specification, through
its reference implementation (the ``standardwebhooks`` package).

A secret is ``whsec_`` + base64 of 32 random bytes (the spec asks for 24 to
64). Each attempt is signed anew, because the signed content includes the
attempt's timestamp: ``{msg_id}.{timestamp}.{body}`` with HMAC-SHA256 of each
current secret, the signatures space-separated in ``webhook-signature``
(``v1,<base64> v1,<base64>``) — the spec's way to rotate a secret without a
window where receivers reject the sender's deliveries.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(
    msg_id: str, body: str, signing_secrets: Sequence[str], now: datetime
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` of one
    attempt, signed by every secret in ``signing_secrets``."""
    moment = now.astimezone(UTC)
    signatures = " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body)
        for secret in signing_secrets
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signatures,
    }
