"""Values the server must read back but the database must not reveal: encrypted with Fernet
(AES-128-CBC + HMAC-SHA256, an AEAD) under SECRETS_ENCRYPTION_KEYS, which live in the environment.

The first key encrypts; every listed key decrypts, so keys rotate: put a new key first, re-encrypt
what is stored (`rotate`), then drop the old one. Used for integrations' Admin-key secrets
(integrations/secrets.py) and for the arguments of queued background work (infra/background.py).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class Unreadable(Exception):
    """A value that no configured key decrypts (its key was dropped too early), or was altered."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.SECRETS_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise Unreadable("No configured SECRETS_ENCRYPTION_KEYS entry decrypts this value.") from exc


def rotate(token: str) -> str:
    """The same value, encrypted under the first (newest) key."""
    return _fernet().rotate(token.encode()).decode()
