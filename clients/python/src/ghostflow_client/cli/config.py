"""The `gf` command's files: its configuration and the stored login.

Everything lives in one directory: ``$GF_CONFIG_DIR``, else the platform's user configuration
directory (``~/.config/gf`` on Linux, ``~/Library/Application Support/gf`` on macOS). It is
created 0700 and every file in it 0600, written atomically (a new file renamed over the old one,
so a crash never leaves half a token).

- ``config.json``: the server, the chosen team, where the login is kept. No secret.
- ``credentials.json``: the login's token pair per server, unless the OS keyring keeps it
  (``pip install 'ghostflow-client[keyring]'``; ``GF_KEYRING=0`` turns it off).
- ``credentials.lock``: a lock file. Refresh tokens rotate and a spent one replayed signs the
  login out, so two `gf` commands refreshing at once would end the session; each refresh holds
  this lock and re-reads the stored pair first (see ``ghostflow_client.auth``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from ..auth import Tokens

try:  # POSIX: a real inter-process lock. Elsewhere refreshes are serialized per process only.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

CONFIG_DIR_ENV = "GF_CONFIG_DIR"
KEYRING_ENV = "GF_KEYRING"
KEYRING_SERVICE = "ghostflow-cli"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def config_dir() -> Path:
    """Where `gf` keeps its files (``GF_CONFIG_DIR`` overrides the platform default)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(click.get_app_dir("gf"))


def _ensure_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a directory we do not own (GF_CONFIG_DIR=/shared) stays as it is
        path.chmod(0o700)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only, atomically."""
    _ensure_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Created 0600 from the start (not chmod-ed after): no moment where others may read it.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path} is not readable JSON ({exc}); fix or delete it.") from exc
    return data if isinstance(data, dict) else {}


@dataclass
class Config:
    """``config.json``: what `gf` remembers between commands (no secrets)."""

    base_url: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    credential_store: str | None = None  # "file" or "keyring": where `gf login` put the tokens

    @classmethod
    def load(cls, directory: Path) -> Config:
        data = _read_json(directory / "config.json")
        known = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known and isinstance(value, str)})

    def save(self, directory: Path) -> None:
        data = {name: value for name, value in asdict(self).items() if value is not None}
        write_private(directory / "config.json", json.dumps(data, indent=2) + "\n")


class FileLock:
    """An exclusive ``flock`` on ``credentials.lock``, held while a refresh is in flight."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: int | None = None

    def __enter__(self) -> FileLock:
        _ensure_dir(self._path.parent)
        self._handle = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(self._handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            if fcntl is not None:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None


class FileTokenStore:
    """The login's tokens in ``credentials.json`` (0600), one entry per server."""

    kind = "file"

    def __init__(self, directory: Path, base_url: str) -> None:
        self._directory = directory
        self._path = directory / "credentials.json"
        self._base_url = base_url

    def load(self) -> Tokens | None:
        entry = _read_json(self._path).get(self._base_url)
        if not isinstance(entry, dict):
            return None
        try:
            return Tokens.from_dict(entry)
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, tokens: Tokens | None) -> None:
        data = _read_json(self._path)
        if tokens is None:
            if self._base_url not in data:
                return
            data.pop(self._base_url)
        else:
            data[self._base_url] = tokens.to_dict()
        write_private(self._path, json.dumps(data, indent=2) + "\n")

    def lock(self) -> AbstractContextManager[object]:
        return FileLock(self._directory / "credentials.lock")


class KeyringTokenStore:
    """The login's tokens in the OS keyring (service ``ghostflow-cli``, one entry per server)."""

    kind = "keyring"

    def __init__(self, directory: Path, base_url: str, keyring: ModuleType) -> None:
        self._directory = directory
        self._base_url = base_url
        self._keyring = keyring

    def load(self) -> Tokens | None:
        raw = self._keyring.get_password(KEYRING_SERVICE, self._base_url)
        if not raw:
            return None
        try:
            return Tokens.from_dict(json.loads(raw))
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, tokens: Tokens | None) -> None:
        if tokens is None:
            with contextlib.suppress(Exception):  # nothing stored is fine; backends raise their own types
                self._keyring.delete_password(KEYRING_SERVICE, self._base_url)
            return
        self._keyring.set_password(KEYRING_SERVICE, self._base_url, json.dumps(tokens.to_dict()))

    def lock(self) -> AbstractContextManager[object]:
        # The keyring has no lock of its own; the file lock serializes refreshes all the same.
        return FileLock(self._directory / "credentials.lock")


TokenFiles = FileTokenStore | KeyringTokenStore


def usable_keyring() -> ModuleType | None:
    """The ``keyring`` module when it is installed, allowed and has a working backend."""
    if os.environ.get(KEYRING_ENV, "1") == "0":
        return None
    try:
        keyring = importlib.import_module("keyring")
    except ImportError:
        return None
    try:  # headless Linux often has keyring installed but no backend: it raises here
        keyring.get_password(KEYRING_SERVICE, "__probe__")
    except Exception:
        return None
    return keyring


def store_for_login(directory: Path, base_url: str) -> TokenFiles:
    """Where a new login goes: the keyring when usable, else the 0600 file."""
    keyring = usable_keyring()
    if keyring is not None:
        return KeyringTokenStore(directory, base_url, keyring)
    return FileTokenStore(directory, base_url)


def stored_login(directory: Path, base_url: str, config: Config) -> TokenFiles:
    """Where the login made by `gf login` is (the store named in the config)."""
    if config.credential_store == "keyring":
        keyring = usable_keyring()
        if keyring is not None:
            return KeyringTokenStore(directory, base_url, keyring)
    return FileTokenStore(directory, base_url)
