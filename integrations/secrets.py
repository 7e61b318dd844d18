"""Integration secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256, an AEAD) under
SECRETS_ENCRYPTION_KEYS.

An Admin key's secret cannot be stored as a digest: the server verifies the HMAC signatures a
client makes with it, so it must be able to recover it. The database alone therefore never
reveals it; the encryption keys live in the environment. The first key encrypts; every listed key
decrypts, so keys rotate like the API-key pepper: put a new key first, run
`manage.py rotate_integration_secrets` (re-encrypts every secret under it), then drop the old one.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret that no configured key decrypts (its key was dropped too early)."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.SECRETS_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("No configured SECRETS_ENCRYPTION_KEYS entry decrypts this secret.") from exc


def rotate(token: str) -> str:
    """The same secret, encrypted under the first (newest) key."""
    return _fernet().rotate(token.encode()).decode()
