"""What jcsaml manages for each IdP account: the AWS profiles it wrote, how each one is served,
and the credential-process cache entries it filled.

Every command that writes credentials records it here, ``status`` shows it and ``logout``
undoes it. A profile is served one way:

- ``keys`` (:data:`KEYS`): temporary keys in a credentials file, which ``login`` writes;
- ``credential_process`` (:data:`PROCESS`): jcsaml's ``credential_process`` line in the AWS
  config file, fed from the credential-process cache; nothing writes keys for such a profile,
  since the AWS tools would use them before the line.

One JSON file, ``$XDG_STATE_HOME/jcsaml/managed.json`` (else ``~/.local/state/...``), created
0600, rewritten under a lock through a temporary file that is fsynced and renamed, so a crash
never leaves half of it. A lost or unreadable file only means jcsaml no longer knows what it
wrote: it then finds the account's own profile as it always did. Standard library only at
module level.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jcsaml.aws_config import profile_section
from jcsaml.config import expand_home
from jcsaml.errors import AwsConfigFileError
from jcsaml.ini_edit import _Locked
from jcsaml.private_file import write_private_file

__all__ = [
    "KEYS",
    "PROCESS",
    "AccountRecord",
    "ManagedProfile",
    "forget_account",
    "is_jcsaml_process",
    "load",
    "record_cache",
    "record_profiles",
    "rename_account",
    "served_by_process",
    "state_path",
]

KEYS = "keys"
PROCESS = "credential_process"
_VERSION = 1
_LOCK_TIMEOUT = 10.0


@dataclass(frozen=True)
class ManagedProfile:
    """A profile an account wrote: its name, how it is served and the file that serves it (the
    credentials file for :data:`KEYS`, the AWS config file for :data:`PROCESS`)."""

    profile: str
    served: str
    path: str


@dataclass(frozen=True)
class AccountRecord:
    """Everything one account wrote: profiles, and the roles of its cache entries."""

    account: str
    profiles: tuple[ManagedProfile, ...] = ()
    cache_roles: tuple[str, ...] = field(default=())

    def profile(self, name: str) -> ManagedProfile | None:
        return next((p for p in self.profiles if p.profile == name), None)


def state_path(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_STATE_HOME/jcsaml/managed.json``, else ``~/.local/state/jcsaml/managed.json``
    (``~`` is ``HOME`` from ``environ``)."""
    state = environ.get("XDG_STATE_HOME", "")
    if not (state and os.path.isabs(state)):
        state = "~/.local/state"
    return expand_home(state, environ) / "jcsaml" / "managed.json"


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    accounts = document.get("accounts") if isinstance(document, dict) else None
    return accounts if isinstance(accounts, dict) else {}


def _record(name: str, data: object) -> AccountRecord:
    profiles: list[ManagedProfile] = []
    roles: list[str] = []
    if isinstance(data, dict):
        for entry in data.get("profiles") or []:
            if isinstance(entry, dict) and isinstance(entry.get("profile"), str):
                profiles.append(
                    ManagedProfile(
                        profile=entry["profile"],
                        served=str(entry.get("served") or KEYS),
                        path=str(entry.get("path") or ""),
                    )
                )
        roles = [str(role) for role in data.get("cache_roles") or [] if isinstance(role, str)]
    return AccountRecord(name, tuple(profiles), tuple(roles))


def load(environ: Mapping[str, str] = os.environ) -> dict[str, AccountRecord]:
    """Every account's record, by account name (empty when nothing is recorded)."""
    return {name: _record(name, data) for name, data in _read(state_path(environ)).items()}


def _to_json(record: AccountRecord) -> dict[str, object]:
    return {
        "profiles": [
            {"profile": p.profile, "served": p.served, "path": p.path} for p in record.profiles
        ],
        "cache_roles": list(record.cache_roles),
    }


def _update(
    environ: Mapping[str, str],
    change: Callable[[dict[str, AccountRecord]], None],
) -> None:
    """Read, change and rewrite the record under its lock, atomically. A record that cannot be
    written is not worth failing a command whose credentials were saved: it is left as it was."""

    path = state_path(environ)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _Locked(path, _LOCK_TIMEOUT, environ):
            records = load(environ)
            change(records)
            document = {
                "version": _VERSION,
                "accounts": {
                    name: _to_json(record)
                    for name, record in sorted(records.items())
                    if record.profiles or record.cache_roles
                },
            }
            text = json.dumps(document, indent=1)
            write_private_file(path, text.encode("utf-8"))
    except Exception:  # see the docstring
        import logging

        logging.getLogger(__name__).debug("could not update %s", path, exc_info=True)


def record_profiles(
    account: str,
    profiles: Iterable[ManagedProfile],
    *,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Note that ``account`` wrote ``profiles`` (replacing what it noted for the same names).
    A profile another account had noted moves to this one: the last writer owns it."""
    given = {p.profile: p for p in profiles}
    records = load(environ)
    mine = records.get(account)
    if mine is not None and all(mine.profile(name) == p for name, p in given.items()):
        others = [r for name, r in records.items() if name != account]
        if not any(p.profile in given for r in others for p in r.profiles):
            return  # the usual case on every login: nothing to rewrite

    def change(records: dict[str, AccountRecord]) -> None:
        for name, record in list(records.items()):
            if name != account:
                kept = tuple(
                    p
                    for p in record.profiles
                    if not (p.profile in given and p.path == given[p.profile].path)
                )
                records[name] = AccountRecord(name, kept, record.cache_roles)
        current = records.get(account, AccountRecord(account))
        kept = tuple(p for p in current.profiles if p.profile not in given)
        records[account] = AccountRecord(account, kept + tuple(given.values()), current.cache_roles)

    _update(environ, change)


def record_cache(account: str, role: str, *, environ: Mapping[str, str] = os.environ) -> None:
    """Note that ``account`` filled the credential-process cache entry for ``role``."""
    current = load(environ).get(account)
    if current is not None and role in current.cache_roles:
        return  # the usual case on every refresh: nothing to rewrite

    def change(records: dict[str, AccountRecord]) -> None:
        record = records.get(account, AccountRecord(account))
        if role not in record.cache_roles:
            records[account] = AccountRecord(account, record.profiles, (*record.cache_roles, role))

    _update(environ, change)


def forget_account(
    account: str, *, environ: Mapping[str, str] = os.environ, keep_process: bool = True
) -> None:
    """Drop what ``account`` wrote from the record (after ``logout`` removed it). Profiles
    served by ``credential_process`` stay noted with ``keep_process``: their line remains in
    the AWS config file."""

    def change(records: dict[str, AccountRecord]) -> None:
        record = records.get(account)
        if record is None:
            return
        kept = tuple(p for p in record.profiles if keep_process and p.served == PROCESS)
        records[account] = AccountRecord(account, kept, ())

    _update(environ, change)


def rename_account(old: str, new: str, *, environ: Mapping[str, str] = os.environ) -> None:
    """Move ``old``'s record to ``new`` (``configure --rename``)."""

    def change(records: dict[str, AccountRecord]) -> None:
        record = records.pop(old, None)
        if record is not None:
            records[new] = AccountRecord(new, record.profiles, record.cache_roles)

    _update(environ, change)


def is_jcsaml_process(command: str | None, account: str | None = None) -> bool:
    """Whether a ``credential_process`` line runs ``jcsaml credential-process`` (for
    ``account`` when given)."""
    if not command:
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if "credential-process" not in words:
        return False
    if not any("jcsaml" in os.path.basename(word) for word in words):
        return False
    if account is None:
        return True
    named = [
        words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-a", "--idp-account")
    ] + [word.split("=", 1)[1] for word in words if word.startswith("--idp-account=")]
    return (named[-1] if named else "default") == account


def served_by_process(
    profile: str, account: str, *, environ: Mapping[str, str] = os.environ
) -> bool:
    """Whether ``profile`` is served by jcsaml's ``credential_process`` for ``account``: its
    section in the AWS config file runs ``jcsaml credential-process -a ACCOUNT``. The AWS
    config file is the truth (the user may have edited it); a file that cannot be read serves
    nothing."""

    try:
        section = profile_section(profile, environ=environ) or {}
    except AwsConfigFileError:
        return False
    return is_jcsaml_process(section.get("credential_process"), account)
