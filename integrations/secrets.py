"""Integration secrets at rest: encrypted under SECRETS_ENCRYPTION_KEYS (infra/encryption.py).

An Admin key's secret cannot be stored as a digest: the server verifies the HMAC signatures a
client makes with it, so it must be able to recover it. The database alone therefore never
reveals it; the encryption keys live in the environment. The first key encrypts; every listed key
decrypts, so keys rotate like the API-key pepper: put a new key first, run
`manage.py rotate_integration_secrets` (re-encrypts every secret under it), then drop the old one.
"""

from __future__ import annotations

from infra.encryption import Unreadable as SecretUnreadable
from infra.encryption import decrypt, encrypt, rotate

__all__ = ["SecretUnreadable", "decrypt", "encrypt", "rotate"]
