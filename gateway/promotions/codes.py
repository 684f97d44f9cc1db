"""A promo code's text: readable, unguessable, and the same on every retry of
one automation run.

``SKINCARE20-K7Q3XPMN``: the category's letters (at most 12), the percentage,
and eight characters of an alphabet without look-alikes (no 0/O, 1/I). No name
or email: marketing and analysts see codes, and a code travels in emails and
webhooks. A run's suffix is an HMAC of the run id under ``CG_SECRET_KEY`` (a
retry derives the same code even if the reservation row were lost); a code
made by hand draws its suffix at random (32⁸ ≈ 10¹² codes per prefix).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SUFFIX = 8
STEM = 12


def promo_code(
    category: str, percentage: int, *, run_id: int | None, secret: bytes
) -> str:
    stem = re.sub(r"[^A-Z0-9]", "", category.upper())[:STEM] or "PROMO"
    if run_id is None:
        suffix = "".join(secrets.choice(ALPHABET) for _ in range(SUFFIX))
    else:
        digest = hmac.new(secret, f"promo-code:{run_id}".encode(), hashlib.sha256)
        suffix = "".join(ALPHABET[b % len(ALPHABET)] for b in digest.digest()[:SUFFIX])
    return f"{stem}{percentage}-{suffix}"
