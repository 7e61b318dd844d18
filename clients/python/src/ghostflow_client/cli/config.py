"""The `gf` command's files: its configuration and the stored login.

Everything lives in one directory: ``$GF_CONFIG_DIR``, else the platform's user configuration
directory (``~/.config/gf`` on Linux, ``~/Library/Application Support/gf`` on macOS). It is
created 0700 and every file in it 0600, written atomically (a new file renamed over the old one,
so a crash never leaves half a token).

The directory may be one others can reach (``GF_CONFIG_DIR=/shared/...``), so nothing in it is
trusted blindly: the directory and each file must be our own, not a symbolic link, and not
writable by anyone else, or `gf` refuses to use them (a planted ``credentials.json`` link would
send the tokens to someone else's file, a planted ``config.json`` the tokens to someone else's
server). The directory is opened once (``O_NOFOLLOW``) and every file is opened relative to it,
so it cannot be swapped between the check and the use; a new file is created with ``O_EXCL |
O_NOFOLLOW``, mode 0600, under a random name, then renamed into place.

- ``config.json``: the server, the chosen team, where the login is kept. No secret.
- ``credentials.json``: the login's token pair per server, unless the OS keyring keeps it
  (``pip install 'ghostflow-client[keyring]'``; ``GF_KEYRING=0`` turns it off).
- ``credentials.lock``: a lock file. Refresh tokens rotate and a spent one replayed signs the
  login out, so two `gf` commands refreshing at once would end the session; each refresh holds
  this lock and re-reads the stored pair first (see ``ghostflow_client.auth``).
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
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
CREDENTIALS = "credentials.json"

# Opened relative to the directory's descriptor, never through a symbolic link. Where the system
# has no O_NOFOLLOW or dir_fd (Windows), files are opened by path: there the profile directory is
# the user's own and the threat of another local user planting links does not arise the same way.
# (os.replace takes src_dir_fd and dst_dir_fd wherever os.rename does; only os.rename is listed.)
_SAFE_OPEN = hasattr(os, "O_NOFOLLOW") and os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class ConfigProblem(click.ClickException):
    """The configuration directory or one of its files cannot be used as it is: a usage error
    (exit 2), for the person to fix."""

    exit_code = 2


class UnsafeConfig(ConfigProblem):
    """The configuration directory or one of its files cannot be trusted; nothing is read or written."""


def config_dir() -> Path:
    """Where `gf` keeps its files (``GF_CONFIG_DIR`` overrides the platform default)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(click.get_app_dir("gf"))


def _check_owned(status: os.stat_result, path: Path, what: str) -> None:
    """Refuse what another user controls: a symbolic link, someone else's, writable by others."""
    if stat.S_ISLNK(status.st_mode):
        raise UnsafeConfig(f"{path} is a symbolic link; gf does not follow links for its {what}. Remove it.")
    if hasattr(os, "geteuid") and status.st_uid != os.geteuid():
        raise UnsafeConfig(f"{path} belongs to another user; gf keeps its {what} in a directory of your own.")
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeConfig(
            f"{path} is writable by other users, who could replace what gf reads there; "
            f"make it yours alone (chmod go-w) and check its contents, or set {CONFIG_DIR_ENV}."
        )


@contextlib.contextmanager
def _open_dir(directory: Path, *, create: bool) -> Iterator[int | None]:
    """The configuration directory, checked and opened (a descriptor); None when it does not exist
    and `create` is false."""
    if create:
        directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    try:
        _check_owned(os.lstat(directory), directory, "configuration directory")
    except FileNotFoundError:
        if create:
            raise
        yield None
        return
    if not _SAFE_OPEN:
        yield None
        return
    try:
        descriptor = os.open(directory, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a link since the check
            raise UnsafeConfig(f"{directory} is not a directory of its own (a symbolic link?).") from None
        raise
    try:
        status = os.fstat(descriptor)
        _check_owned(status, directory, "configuration directory")
        if stat.S_IMODE(status.st_mode) & 0o077:
            os.fchmod(descriptor, 0o700)  # ours: readable by others is tightened, not refused
        yield descriptor
    finally:
        os.close(descriptor)


def _open_file(directory: Path, descriptor: int | None, name: str, flags: int, mode: int = 0o600) -> int:
    """A file of the directory, opened without following a link, and checked."""
    path = directory / name
    try:
        if descriptor is not None:
            handle = os.open(name, flags | _NOFOLLOW | _CLOEXEC, mode, dir_fd=descriptor)
        else:
            handle = os.open(path, flags | _CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeConfig(f"{path} is a symbolic link; gf does not follow links to its files.") from None
        if exc.errno == errno.EEXIST:
            raise UnsafeConfig(f"{path} already exists: gf writes only into files it has just created.") from None
        raise
    try:
        _check_owned(os.fstat(handle), path, "files")
    except BaseException:
        os.close(handle)
        raise
    return handle


def read_private(directory: Path, name: str) -> str | None:
    """The text of a file of the directory, or None when there is none."""
    with _open_dir(directory, create=False) as descriptor:
        if descriptor is None and not (directory / name).exists():
            return None
        try:
            handle = _open_file(directory, descriptor, name, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(handle, encoding="utf-8") as file:
            return file.read()


def write_private(directory: Path, name: str, text: str) -> None:
    """Write `text` to a file of the directory, readable by the owner only, atomically: a new file
    (``O_CREAT | O_EXCL | O_NOFOLLOW``, 0600, a random name: nothing planted can be opened in its
    place) renamed over the old one. Written here rather than with ``tempfile.mkstemp``, which
    takes a path: every step is relative to the directory checked once."""
    with _open_dir(directory, create=True) as descriptor:
        path = directory / name
        with contextlib.suppress(FileNotFoundError):
            if descriptor is not None:
                _check_owned(os.stat(name, dir_fd=descriptor, follow_symlinks=False), path, "files")
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        handle = _open_file(directory, descriptor, temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            if descriptor is not None:
                os.replace(temporary, name, src_dir_fd=descriptor, dst_dir_fd=descriptor)
                os.fsync(descriptor)
            else:
                os.replace(directory / temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                if descriptor is not None:
                    os.unlink(temporary, dir_fd=descriptor)
                else:
                    (directory / temporary).unlink()
            raise


def _read_json(directory: Path, name: str) -> dict[str, Any]:
    text = read_private(directory, name)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigProblem(f"{directory / name} is not readable JSON ({exc}); fix or delete it.") from exc
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
        data = _read_json(directory, "config.json")
        known = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known and isinstance(value, str)})

    def save(self, directory: Path) -> None:
        data = {name: value for name, value in asdict(self).items() if value is not None}
        write_private(directory, "config.json", json.dumps(data, indent=2) + "\n")


class FileLock:
    """An exclusive ``flock`` on ``credentials.lock``, held while a refresh is in flight."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._handle: int | None = None

    def __enter__(self) -> FileLock:
        with _open_dir(self._directory, create=True) as descriptor:
            self._handle = _open_file(self._directory, descriptor, "credentials.lock", os.O_RDWR | os.O_CREAT)
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
        self._base_url = base_url

    def load(self) -> Tokens | None:
        entry = _read_json(self._directory, CREDENTIALS).get(self._base_url)
        if not isinstance(entry, dict):
            return None
        try:
            return Tokens.from_dict(entry)
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, tokens: Tokens | None) -> None:
        data = _read_json(self._directory, CREDENTIALS)
        if tokens is None:
            if self._base_url not in data:
                return
            data.pop(self._base_url)
        else:
            data[self._base_url] = tokens.to_dict()
        write_private(self._directory, CREDENTIALS, json.dumps(data, indent=2) + "\n")

    def lock(self) -> AbstractContextManager[object]:
        return FileLock(self._directory)


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
        return FileLock(self._directory)


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
