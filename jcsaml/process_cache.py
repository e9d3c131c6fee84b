"""The credentials ``jcsaml credential-process`` hands out, kept between its runs.

One JSON file per IdP account and requested role under ``$XDG_CACHE_HOME/jcsaml/credential-process``
(else ``~/.cache/jcsaml/credential-process``): created 0600 in a 0700 directory, written to a
temporary file, fsynced and renamed over the old one, so a crash never leaves half a file. It is
never the AWS credentials file, whose profiles the SDKs would use before ``credential_process``.

Standard library only, imported by nothing heavy: :func:`cached_process_output` is what runs on
every AWS call of a profile with ``credential_process``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jcsaml.arn import role_matches
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.light_lookup import (
    PROCESS_CACHE_ENTRY_BYTES,
    PROCESS_REFRESH_MARGIN_SECONDS,
    process_cache_directory,
    process_cache_name,
    process_entry_is_text,
)

__all__ = [
    "PROCESS_REFRESH_MARGIN_SECONDS",
    "CacheEntry",
    "cache_directory",
    "cached_process_output",
    "delete_account",
    "entries",
    "load",
    "save",
    "write_problem",
]


@dataclass(frozen=True)
class CacheEntry:
    """Credentials cached for an IdP account and the role asked for (``""``: the only one)."""

    account: str
    role: str
    credentials: AwsCredentials
    path: Path


def cache_directory(environ: Mapping[str, str] = os.environ) -> Path:
    """:func:`jcsaml.light_lookup.process_cache_directory`, where ``~`` without ``HOME`` is the
    home directory the password database gives."""
    found = process_cache_directory(environ) or process_cache_directory({"HOME": str(Path.home())})
    assert found is not None  # a HOME is given
    return Path(found)


#: What the cache directory is for, in the line that refuses an unsafe one.
PURPOSE = "the credential-process cache"
#: A cache entry is a few hundred bytes: anything larger is not one of jcsaml's, and is not read.
MAX_ENTRY_BYTES = PROCESS_CACHE_ENTRY_BYTES
TEMP_PREFIX = ".tmp-"
#: A temporary file this old belongs to a writer that was killed: the next writer removes it.
STALE_TEMP_SECONDS = 60
_ENTRY_NAME = re.compile(r"[0-9a-f]{32}\.json")


def _open(environ: Mapping[str, str], *, create: bool) -> int | None:
    """The cache directory, open and checked (see :mod:`jcsaml.safe_directory`); None when it
    does not exist (and not ``create``). Raises UnsafeDirectoryError and OSError."""
    from jcsaml.safe_directory import open_directory

    try:
        return open_directory(
            cache_directory(environ), purpose=PURPOSE, create=create, environ=environ
        )
    except FileNotFoundError:
        if create:
            raise
        return None


def write_problem(error: OSError) -> str:
    """What went wrong writing the cache, in words that fit the errno."""
    number = error.errno
    if number in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "the disk is full (no space or no inodes left, or over quota); free some space"
    if number == errno.EROFS:
        return "the file system is read-only"
    if number in (errno.EACCES, errno.EPERM):
        return "permission denied; check that directory's permissions"
    if number in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return "something that is not a directory is in the way; remove it"
    return error.strerror or str(error)


def _entry_path(directory: Path, account: str, role: str) -> Path:
    # One naming for this module and the light entry's reader.
    return directory / process_cache_name(account, role)


def _to_json(account: str, role: str, credentials: AwsCredentials) -> str:
    return json.dumps(
        {
            "account": account,
            "role": role,
            "access_key_id": credentials.access_key_id,
            "secret_access_key": credentials.secret_access_key,
            "session_token": credentials.session_token,
            "expiration": credentials.expiration_rfc3339(),
            "role_arn": credentials.role_arn,
            "assumed_role_arn": credentials.assumed_role_arn,
        }
    )


def _read_entry(directory_fd: int, path: Path) -> CacheEntry | None:
    """The entry named ``path.name`` in the open directory; None unless it is a regular file of
    the user's, small, and one of jcsaml's entries (anything else is replaced, never read)."""
    from jcsaml.safe_directory import read_private_file

    raw = read_private_file(directory_fd, path.name, limit=MAX_ENTRY_BYTES)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        if not process_entry_is_text(data):
            return None
        expiration = datetime.fromisoformat(data["expiration"].replace("Z", "+00:00"))
        credentials = AwsCredentials(
            access_key_id=data["access_key_id"],
            secret_access_key=data["secret_access_key"],
            session_token=data["session_token"],
            expiration=expiration.astimezone(UTC),
            role_arn=data.get("role_arn", ""),
            assumed_role_arn=data.get("assumed_role_arn", ""),
        )
        return CacheEntry(data["account"], data["role"], credentials, path)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def load(
    account: str, role: str, *, environ: Mapping[str, str] = os.environ
) -> AwsCredentials | None:
    """The cached credentials for ``account`` and ``role`` (expired ones too), or None.

    Raises UnsafeDirectoryError when the cache directory, or one above it, could be changed by
    another user (see :mod:`jcsaml.safe_directory`).
    """
    try:
        directory = _open(environ, create=False)
    except OSError:
        return None  # not a directory, say: the save after the sign-in says what is wrong
    if directory is None:
        return None
    try:
        entry = _read_entry(directory, _entry_path(cache_directory(environ), account, role))
    finally:
        os.close(directory)
    if entry is None or entry.account != account or entry.role != role:
        return None
    return entry.credentials


def save(
    account: str,
    role: str,
    credentials: AwsCredentials,
    *,
    environ: Mapping[str, str] = os.environ,
) -> Path:
    """Cache ``credentials`` for ``account`` and ``role``, atomically and readable only by the
    user; whatever was in the entry's place (a link, a FIFO, a huge file) is replaced.

    Raises UnsafeDirectoryError for an unsafe cache directory, and OSError when it cannot be
    written (:func:`write_problem` words it).
    """
    path = _entry_path(cache_directory(environ), account, role)
    try:
        _write(path, _to_json(account, role, credentials), environ)
    except OSError as exc:
        if exc.errno is None:
            raise
        # Named for the directory, not for a temporary file in it.
        raise OSError(exc.errno, exc.strerror, str(path.parent)) from None
    return path


def _write(path: Path, text: str, environ: Mapping[str, str]) -> None:
    directory = _open(environ, create=True)
    assert directory is not None
    try:
        _remove_stale_temporaries(directory)
        # Created 0600 (O_EXCL, never through a link): the secret is never readable by others.
        temporary = f"{TEMP_PREFIX}{secrets.token_hex(8)}.json"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        handle = os.open(temporary, flags | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path.name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=directory)
            raise
    finally:
        os.close(directory)


def _remove_stale_temporaries(directory: int, *, now: float | None = None) -> None:
    """Remove the temporary files of writers killed more than STALE_TEMP_SECONDS ago (a live
    writer renames its file within moments)."""
    current = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if not name.startswith(TEMP_PREFIX):
                continue
            with contextlib.suppress(OSError):
                info = os.stat(name, dir_fd=directory, follow_symlinks=False)
                if current - info.st_mtime > STALE_TEMP_SECONDS:
                    os.unlink(name, dir_fd=directory)


def entries(*, environ: Mapping[str, str] = os.environ) -> list[CacheEntry]:
    """Every readable cache entry, by account and role (never a temporary file)."""
    base = cache_directory(environ)
    try:
        directory = _open(environ, create=False)
    except Exception:  # an unsafe or broken directory holds no entry jcsaml would use
        return []
    if directory is None:
        return []
    try:
        names = sorted(name for name in os.listdir(directory) if _ENTRY_NAME.fullmatch(name))
        found = [entry for name in names if (entry := _read_entry(directory, base / name))]
    except OSError:
        return []
    finally:
        os.close(directory)
    return sorted(found, key=lambda entry: (entry.account, entry.role))


def delete_account(account: str, *, environ: Mapping[str, str] = os.environ) -> int:
    """Remove every cache entry of ``account``; returns how many there were."""
    removed = 0
    for entry in entries(environ=environ):
        if entry.account == account:
            with contextlib.suppress(FileNotFoundError):
                entry.path.unlink()
                removed += 1
    return removed


def usable(
    credentials: AwsCredentials | None, *, role: str, now: datetime | None = None
) -> AwsCredentials | None:
    """``credentials`` when they stay valid past the margin (and are for ``role``), else None."""
    if credentials is None or credentials.expires_within(PROCESS_REFRESH_MARGIN_SECONDS, now=now):
        return None
    if role and not role_matches(credentials.role_arn, role):
        return None
    return credentials


def process_output(credentials: AwsCredentials) -> str:
    """The JSON document (version 1) a ``credential_process`` prints."""
    return json.dumps(credentials.to_credential_process())


def cached_process_output(
    account_name: str,
    *,
    role: str | None = None,
    config: str | None = None,
    environ: Mapping[str, str] = os.environ,
    now: datetime | None = None,
) -> str | None:
    """What ``jcsaml credential-process -a ACCOUNT [--role ROLE]`` prints while its cached
    credentials stay valid for more than 15 minutes; None when it must sign in.

    Reads the jcsaml config (for the account's ``role_arn``) and one cache file; standard library
    only. Raises ConfigError subclasses for a missing account or a broken config file.
    """
    from jcsaml.config import config_path, load_account

    account = load_account(account_name, path=config_path(environ, config), environ=environ)
    wanted = role or account.role_arn or ""
    found = usable(load(account.name, wanted, environ=environ), role=wanted, now=now)
    return process_output(found) if found is not None else None
