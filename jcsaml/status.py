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

from jcsaml import process_cache
from jcsaml.aws_config import config_file_path
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import Account, account_names, config_path, find_account
from jcsaml.credentials_file import CredentialsFile
from jcsaml.errors import JcsamlError
from jcsaml.inifile import IniSyntaxError, read_ini
from jcsaml.managed import is_jcsaml_process
from jcsaml.secret_store import SecretStore, session_key
from jcsaml.signin import credentials_path

__all__ = [
    "CredentialStatus",
    "SessionStatus",
    "ShadowedProfile",
    "credential_status",
    "session_status",
    "shadowed_profiles",
]

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


@dataclass(frozen=True)
class ShadowedProfile:
    """A profile with a ``credential_process`` line in the AWS config file and access keys in
    the credentials file: the AWS tools use the keys (``temporary`` ones expire and then fail
    instead of refreshing through the line)."""

    profile: str
    config_path: str
    credentials_path: str
    temporary: bool
    account: str  # the jcsaml account whose credential_process it is ("" for another's)


def shadowed_profiles(
    *,
    environ: Mapping[str, str] = os.environ,
    on_error: Callable[[JcsamlError], None] = _raise,
) -> list[ShadowedProfile]:
    """Every profile whose ``credential_process`` the AWS tools skip because the credentials
    file they read holds keys for it. Files that cannot be read raise their error unless
    ``on_error`` takes it."""
    import shlex

    config_file = config_file_path(environ)
    try:
        document = read_ini(config_file)
    except (IniSyntaxError, OSError):
        return []  # status reports the credentials; the AWS tools report their own config
    if document is None:
        return []
    processes: dict[str, str] = {}
    for name in document.sections():
        command = (document.section(name) or {}).get("credential_process", "").strip()
        try:
            words = shlex.split(name)
        except ValueError:
            continue
        if len(words) == 2 and words[0] == "profile":
            profile = words[1]
        elif name == "default":
            profile = "default"
        else:
            continue
        if command:
            processes[profile] = command
    if not processes:
        return []
    store = CredentialsFile(CredentialsFile.default_path(environ), environ=environ)
    try:
        temporary = store.load_all()
    except JcsamlError as exc:
        on_error(exc)
        return []
    found = []
    for profile, command in processes.items():
        if not store.holds_keys(profile):
            continue
        account = ""
        if is_jcsaml_process(command):
            words = shlex.split(command)
            named = [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-a", "--idp-account")]
            account = named[-1] if named else "default"
        found.append(
            ShadowedProfile(
                profile=profile,
                config_path=str(config_file),
                credentials_path=str(store.path),
                temporary=profile in temporary,
                account=account,
            )
        )
    return found
