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
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jcsaml.aws_credentials import AwsCredentials, same_role
from jcsaml.cached import PROCESS_REFRESH_MARGIN_SECONDS, process_cache_name

__all__ = [
    "REFRESH_MARGIN_SECONDS",
    "CacheEntry",
    "cache_directory",
    "cached_process_output",
    "delete_account",
    "entries",
    "load",
    "save",
]

#: botocore runs the process again when fewer than 15 minutes remain; handing out credentials
#: closer to their end than that would run the process (and a sign-in) on every AWS call.
REFRESH_MARGIN_SECONDS = PROCESS_REFRESH_MARGIN_SECONDS


@dataclass(frozen=True)
class CacheEntry:
    """Credentials cached for an IdP account and the role asked for (``""``: the only one)."""

    account: str
    role: str
    credentials: AwsCredentials
    path: Path


def cache_directory(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CACHE_HOME/jcsaml/credential-process``, else ``~/.cache/...`` (``~`` is ``HOME``
    from ``environ``). A relative XDG_CACHE_HOME is ignored, as the XDG specification says."""
    configured = environ.get("XDG_CACHE_HOME", "")
    if configured and os.path.isabs(configured):
        base = Path(configured)
    else:
        base = Path(environ.get("HOME") or str(Path.home())) / ".cache"
    return base / "jcsaml" / "credential-process"


def _unsafe_directory(directory: Path) -> str | None:
    """Why ``directory`` may not hold credentials, or None: another user could replace its
    entries (and so hand out their credentials) when it is theirs or writable by others."""
    if not hasattr(os, "geteuid"):
        return None
    try:
        found = os.stat(directory)
    except FileNotFoundError:
        return None
    if found.st_uid != os.geteuid():
        return f"{directory} belongs to another user; remove it"
    if found.st_mode & 0o022:
        return f"{directory} is writable by other users; run: chmod go-w {directory}"
    return None


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


def _from_file(path: Path) -> CacheEntry | None:
    """The entry in ``path``; None for a missing, unreadable or foreign file (it is rewritten
    at the next sign-in)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        expiration = datetime.fromisoformat(data["expiration"].replace("Z", "+00:00"))
        credentials = AwsCredentials(
            access_key_id=str(data["access_key_id"]),
            secret_access_key=str(data["secret_access_key"]),
            session_token=str(data["session_token"]),
            expiration=expiration.astimezone(UTC),
            role_arn=str(data.get("role_arn", "")),
            assumed_role_arn=str(data.get("assumed_role_arn", "")),
        )
        return CacheEntry(str(data["account"]), str(data["role"]), credentials, path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def load(
    account: str, role: str, *, environ: Mapping[str, str] = os.environ
) -> AwsCredentials | None:
    """The cached credentials for ``account`` and ``role`` (expired ones too), or None (also
    when the cache directory is not safe: :func:`save` then says why)."""
    directory = cache_directory(environ)
    if _unsafe_directory(directory):
        return None
    entry = _from_file(_entry_path(directory, account, role))
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
    user. Raises OSError when the cache directory cannot be written, or is another user's or
    writable by others."""
    directory = cache_directory(environ)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    unsafe = _unsafe_directory(directory)
    if unsafe:
        raise PermissionError(errno.EPERM, unsafe)
    target = _entry_path(directory, account, role)
    # mkstemp creates the file 0600: the secret is never readable by others, even for a moment.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(_to_json(account, role, credentials))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target


def entries(*, environ: Mapping[str, str] = os.environ) -> list[CacheEntry]:
    """Every readable cache entry, by account and role."""
    directory = cache_directory(environ)
    try:
        names = sorted(p for p in directory.iterdir() if p.suffix == ".json")
    except OSError:
        return []
    found = [entry for entry in map(_from_file, names) if entry is not None]
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
    if credentials is None or credentials.expires_within(REFRESH_MARGIN_SECONDS, now=now):
        return None
    if role and not (
        same_role(credentials.role_arn, role) or credentials.role_arn.endswith("/" + role)
    ):
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
