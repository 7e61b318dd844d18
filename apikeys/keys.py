"""The gf_ key format: `gf_` + 32 base62 characters from `secrets` + a 6-character base62 CRC32.

The checksum lets us (and secret scanners) reject a mistyped or made-up key without touching the
database. Keys are stored only as an HMAC-SHA256 digest under a server-side pepper: a key has
~190 bits of entropy, so a slow password hash would add latency to every request and no safety.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

from django.conf import settings

KEY_PREFIX = "gf_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
DISPLAY_LENGTH = 8
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
_KEY_RE = re.compile(rf"^{KEY_PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}$")


def _base62(number: int, width: int) -> str:
    chars = []
    while number:
        number, remainder = divmod(number, 62)
        chars.append(ALPHABET[remainder])
    return "".join(reversed(chars)).rjust(width, ALPHABET[0])


def checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


@dataclass(frozen=True)
class ParsedKey:
    raw: str
    random_part: str

    @property
    def display_prefix(self) -> str:
        return KEY_PREFIX + self.random_part[:DISPLAY_LENGTH]

    @property
    def digest(self) -> str:
        """Under the newest pepper: what a new or regenerated key is stored as."""
        return digest(self.raw)

    @property
    def digests(self) -> dict[int, str]:
        """Under every configured pepper: what a presented key is looked up by."""
        return {pepper_id: digest(self.raw, pepper_id) for pepper_id in settings.API_KEY_PEPPERS}


def generate() -> ParsedKey:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return ParsedKey(raw=KEY_PREFIX + random_part + checksum(random_part), random_part=random_part)


def parse(raw: str) -> ParsedKey | None:
    """A well-formed key with a valid checksum, or None. Pure: no database, no settings."""
    if not _KEY_RE.match(raw):
        return None
    body = raw[len(KEY_PREFIX) :]
    random_part, check = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    if not hmac.compare_digest(checksum(random_part), check):
        return None
    return ParsedKey(raw=raw, random_part=random_part)


def newest_pepper_id() -> int:
    return max(settings.API_KEY_PEPPERS)


def digest(raw: str, pepper_id: int | None = None) -> str:
    """HMAC-SHA256 of the key under a pepper of API_KEY_PEPPERS (by default the newest). Peppers
    have ids so one can be added without invalidating the keys made under the others (NetBox's
    API_TOKEN_PEPPERS): see the README's "Rotating the API-key pepper"."""
    pepper = settings.API_KEY_PEPPERS[pepper_id if pepper_id is not None else newest_pepper_id()]
    return hmac.new(pepper.encode(), raw.encode("ascii"), hashlib.sha256).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)
