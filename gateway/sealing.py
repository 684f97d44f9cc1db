"""Secrets the gateway must read back, stored sealed: an outbound endpoint's
signing secret (Standard Webhooks signs with the secret itself, so it cannot
be hashed as API keys are).

Sealed with Fernet (``cryptography``: AES-128-CBC and HMAC-SHA256, a token
that says when it was made) under a key derived from ``CG_SECRET_KEY`` by
HKDF-SHA256, so a copy of the database alone (a backup, a replica, a dump)
signs nothing. ``CG_PREVIOUS_SECRET_KEYS`` lists the keys ``CG_SECRET_KEY``
had before: tokens sealed under them are still opened, new ones are sealed
under the current key (``MultiFernet``). A token no key opens raises
``Unreadable``, which names no value.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.settings import Settings

_INFO = b"customer-graph sealed secrets v1"


class Unreadable(Exception):
    """A sealed secret that no configured key opens (``CG_SECRET_KEY``
    changed without the old one in ``CG_PREVIOUS_SECRET_KEYS``)."""


def derive_key(secret_key: str, info: bytes) -> bytes:
    """32 bytes for one purpose (``info``) derived from ``CG_SECRET_KEY`` by
    HKDF-SHA256: each use of the secret gets a key of its own, and none of
    them reveals the secret or another use's key."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return derived.derive(secret_key.encode())


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, _INFO)))


class Sealer:
    def __init__(self, secret_key: str, previous: Sequence[str] = ()) -> None:
        self._keys = MultiFernet([_fernet(k) for k in (secret_key, *previous)])

    @classmethod
    def of(cls, settings: Settings) -> Sealer:
        return cls(
            settings.secret_key.get_secret_value(),
            [k.get_secret_value() for k in settings.previous_secret_keys],
        )

    def seal(self, secret: str) -> str:
        return self._keys.encrypt(secret.encode()).decode("ascii")

    def unseal(self, sealed: str) -> str:
        try:
            return self._keys.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise Unreadable("a sealed secret no configured key opens") from None
