"""What jcsaml holds right now: credentials it wrote and JumpCloud sessions it saved.

No network. Credentials come from the AWS credentials files the accounts write to and from the
credential-process cache; whether a JumpCloud session is saved is asked of the secret store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jcsaml.config import Account, account_names, config_path, find_account
from jcsaml.credentials import AwsCredentials
from jcsaml.credentials_file import CredentialsFile
from jcsaml.errors import JcsamlError
from jcsaml.secret_store import SecretStore

__all__ = ["CredentialStatus", "SessionStatus", "credential_status", "session_status"]

CREDENTIALS_FILE = "credentials file"
PROCESS_CACHE = "credential-process cache"


@dataclass(frozen=True)
class CredentialStatus:
    """One set of temporary credentials: where it is kept, for which account and role."""

    profile: str  # the AWS profile; for the credential-process cache, the account's profile
    account: str  # the jcsaml IdP account ("" when no account writes this profile)
    role_arn: str
    expiration: datetime
    source: str  # CREDENTIALS_FILE or PROCESS_CACHE
    path: str

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(0, int((self.expiration - (now or datetime.now(UTC))).total_seconds()))


@dataclass(frozen=True)
class SessionStatus:
    """Whether a JumpCloud console session is saved for a user of one or more accounts."""

    username: str
    console_url: str
    accounts: tuple[str, ...]
    saved: bool


def _raise(error: JcsamlError) -> None:
    raise error


def _accounts(path: Path, on_error: Callable[[JcsamlError], None]) -> list[Account]:
    try:
        accounts = [find_account(name, path=path) for name in account_names(path)]
    except JcsamlError as exc:
        on_error(exc)
        return []
    return [account for account in accounts if account is not None]


def credential_status(
    *,
    config: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    on_error: Callable[[JcsamlError], None] = _raise,
) -> list[CredentialStatus]:
    """Temporary credentials in the credentials files of the configured accounts (and the
    default one), then the credential-process cache entries, each with its account.

    A config or credentials file that cannot be read raises its error (ConfigError,
    CredentialsFileError) unless ``on_error`` takes it; then whatever else can be read is
    still listed.
    """
    from jcsaml import process_cache
    from jcsaml.signin import credentials_path

    accounts = _accounts(config or config_path(environ), on_error)
    files: dict[Path, list[Account]] = {CredentialsFile.default_path(environ): []}
    for account in accounts:
        files.setdefault(credentials_path(account, environ=environ), []).append(account)
    found: list[CredentialStatus] = []
    for path, writers in files.items():
        try:
            held = CredentialsFile(path).load_all()
        except JcsamlError as exc:
            on_error(exc)
            continue
        for profile, credentials in held.items():
            owner = next((a.name for a in writers if a.profile == profile), "")
            found.append(_entry(profile, owner, credentials, CREDENTIALS_FILE, str(path)))
    by_name = {account.name: account for account in accounts}
    for entry in process_cache.entries(environ=environ):
        known = by_name.get(entry.account)
        profile = known.profile if known else ""
        found.append(
            _entry(profile, entry.account, entry.credentials, PROCESS_CACHE, str(entry.path))
        )
    return found


def _entry(
    profile: str, account: str, credentials: AwsCredentials, source: str, path: str
) -> CredentialStatus:
    return CredentialStatus(
        profile=profile,
        account=account,
        role_arn=credentials.role_arn,
        expiration=credentials.expiration,
        source=source,
        path=path,
    )


def session_status(
    *,
    secrets: Callable[[], SecretStore],
    config: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    on_error: Callable[[JcsamlError], None] = _raise,
) -> list[SessionStatus]:
    """For each JumpCloud user of the configured accounts: is a console session saved?

    Accounts without a ``username`` are left out (the session is kept per user). ``secrets``
    makes the store; it is called only when there is a user to look up. A config file that
    cannot be read raises its ConfigError unless ``on_error`` takes it (then: no users).
    """
    from jcsaml.signin import session_key

    users: dict[tuple[str, str], list[Account]] = {}
    for account in _accounts(config or config_path(environ), on_error):
        if account.username:
            users.setdefault((account.username, account.console_url), []).append(account)
    if not users:
        return []
    store = secrets()
    return [
        SessionStatus(
            username=username,
            console_url=console_url,
            accounts=tuple(a.name for a in members),
            saved=store.get(session_key(members[0], username)) is not None,
        )
        for (username, console_url), members in users.items()
    ]
