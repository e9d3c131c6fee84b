"""Where temporary AWS credentials are kept between commands: the AWS shared credentials file.

A profile is written with the keys saml2aws writes, so either tool reads the other's profiles:
``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``, ``aws_security_token``
(the same token, for old SDKs), ``x_principal_arn`` (the assumed-role ARN) and
``x_security_token_expires`` (RFC 3339), plus ``region`` when known. Everything else in the
file, and other keys of the profile, survive a save.

Standard library only at module level: ``load`` runs on every ``jcsaml exec``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from jcsaml.arn import principal_roles
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.errors import (
    CredentialsFileError,
    CredentialsFileReadError,
    CredentialsFileWriteError,
    InvalidSettingError,
    StaticCredentialsProfileError,
)
from jcsaml.inifile import (
    DEFAULT_LOCK_TIMEOUT,
    IniAccessError,
    IniDocument,
    IniSyntaxError,
    check_editable,
    edit_ini,
    read_ini,
    safe_target,
)
from jcsaml.names import RULE as NAME_RULE
from jcsaml.names import is_safe_name

__all__ = [
    "CredentialsFile",
    "CredentialsStore",
    "MemoryCredentialsStore",
    "validate_profile_name",
]

#: configparser's (hence botocore's) defaults section: its keys apply to every profile.
DEFAULT_SECTION = "DEFAULT"

ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"
SESSION_TOKEN = "aws_session_token"
SECURITY_TOKEN = "aws_security_token"
PRINCIPAL_ARN = "x_principal_arn"
EXPIRES = "x_security_token_expires"
REGION = "region"
# What ``delete`` removes: a user's region or other keys in the profile are theirs.
CREDENTIAL_KEYS = (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    SESSION_TOKEN,
    SECURITY_TOKEN,
    PRINCIPAL_ARN,
    EXPIRES,
)

_ENV_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})")


class CredentialsStore(Protocol):
    """Where credentials for named profiles are kept."""

    def load(self, profile: str) -> AwsCredentials | None:
        """The profile's credentials (expired ones included), or None when it holds none."""
        ...

    def save(self, profile: str, credentials: AwsCredentials) -> None:
        """Store ``credentials`` under ``profile``, replacing what jcsaml stored there."""
        ...

    def delete(self, profile: str) -> bool:
        """Forget the profile's credentials; False when there were none."""
        ...

    def save_many(self, profiles: Mapping[str, AwsCredentials]) -> None:
        """Store every profile at once: all are saved, or (on an error) none."""
        ...


class CredentialsFile:
    """A :class:`CredentialsStore` on the AWS shared credentials file (``~/.aws/credentials``).

    Writes are locked against other jcsaml processes and atomic (see
    :func:`jcsaml.inifile.edit_ini`); the file is mode 0600. A symlink is followed only to an
    existing regular file of this user, and a file or directory other users can write is
    refused (:class:`~jcsaml.errors.UnsafeFileError`). Other errors are
    :class:`~jcsaml.errors.CredentialsFileError` (a file that cannot be parsed is reported with
    the line number, never quoted, and never overwritten; its subclasses
    :class:`~jcsaml.errors.CredentialsFileReadError` and
    :class:`~jcsaml.errors.CredentialsFileWriteError` say which operation failed),
    :class:`~jcsaml.errors.FileLockedError` and :class:`~jcsaml.errors.LockFileError`.
    ``environ`` locates the lock files (see :func:`jcsaml.inifile.lock_directory`).
    """

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.environ = environ

    def __repr__(self) -> str:
        return f"CredentialsFile({str(self.path)!r})"

    @classmethod
    def default_path(cls, environ: Mapping[str, str] = os.environ) -> Path:
        """``AWS_SHARED_CREDENTIALS_FILE`` (with ``~`` and ``$VARIABLES`` expanded, as botocore
        does) when set and not empty, else ``~/.aws/credentials``; ``~`` is ``HOME`` from
        ``environ``."""
        configured = environ.get("AWS_SHARED_CREDENTIALS_FILE", "")
        return Path(expand_aws_path(configured or "~/.aws/credentials", environ))

    def load(self, profile: str) -> AwsCredentials | None:
        """The profile's credentials, expired or not.

        None when the file or the profile is missing, or when the profile is not one jcsaml
        (or saml2aws) wrote: no session token or no readable ``x_security_token_expires``, as
        with long-lived keys. ``role_arn`` is derived from ``x_principal_arn`` (the role's path
        is not recorded there, so it comes back without it).
        """
        doc = self._read()
        if doc is None:
            return None
        values = doc.section(profile)
        return None if values is None else _credentials_from(values)

    def load_all(self) -> dict[str, AwsCredentials]:
        """Every profile holding temporary credentials in jcsaml's (and saml2aws's) format, by
        name in file order; long-lived keys are left out."""
        doc = self._read()
        found: dict[str, AwsCredentials] = {}
        for profile in doc.sections() if doc is not None else []:
            values = doc.section(profile) if doc is not None else None
            credentials = _credentials_from(values) if values and EXPIRES in values else None
            if credentials is not None:
                found[profile] = credentials
        return found

    def holds_keys(self, profile: str) -> bool:
        """Whether ``profile`` holds an access key (temporary or not) that the AWS SDKs would use
        before the profile's ``credential_process``."""
        doc = self._read()
        values = doc.section(profile) if doc is not None else None
        return bool(values and values.get(ACCESS_KEY_ID))

    def save(self, profile: str, credentials: AwsCredentials) -> None:
        """Write the credentials into ``profile``, creating the file or the profile if needed.

        Other profiles, comments and the profile's other keys are kept; ``region`` is written
        only when ``credentials.region`` is set (a user's own region stays otherwise).
        Raises :class:`~jcsaml.errors.StaticCredentialsProfileError` when the profile holds
        long-lived keys, :class:`~jcsaml.errors.InvalidSettingError` for a profile name or a
        value that cannot be written, and :class:`~jcsaml.errors.CredentialsFileError` when the
        file cannot be parsed, read or written: in all these cases the file is left as it was.
        """
        self.save_many({profile: credentials})

    def save_many(self, profiles: Mapping[str, AwsCredentials]) -> None:
        """Write several profiles as :meth:`save` writes one, in one locked, atomic rewrite of
        the file: either every profile is written or, on any error, the file stays as it was."""
        values = {}
        for profile, credentials in profiles.items():
            validate_profile_name(profile)
            values[profile] = _values_for(credentials)

        def write(doc: IniDocument) -> None:
            for profile, profile_values in values.items():
                current = doc.section(profile)
                if current is not None and _holds_static_keys(current):
                    raise StaticCredentialsProfileError(
                        path=str(self.path), profile=profile, reason="long-lived access keys"
                    )
                doc.update_section(profile, profile_values)

        if values:
            self._edit(write)

    def check_writable(self, profile: str) -> None:
        """Check now, without writing, everything :meth:`save` into ``profile`` needs: a valid
        profile name, a readable and parseable file that is the user's alone, a profile that
        does not hold long-lived keys, a writable directory, and a lock no other process holds
        (:class:`~jcsaml.errors.FileBusyError` within a second instead of the long wait of a
        save). For use before a
        sign-in, so that nothing is spent on one whose result could not be saved."""
        validate_profile_name(profile)
        try:
            doc = check_editable(self.path, environ=self.environ)
        except (IniSyntaxError, IniAccessError) as exc:
            raise self._error(exc) from None
        current = doc.section(profile) if doc else None
        if current is not None and _holds_static_keys(current):
            raise StaticCredentialsProfileError(
                path=str(self.path), profile=profile, reason="long-lived access keys"
            )

    def delete(self, profile: str) -> bool:
        """Remove jcsaml's credential keys from ``profile``, and the profile when nothing else
        is left in it. Profiles jcsaml did not write (long-lived keys ...) are never touched:
        the answer is then False, as when the profile does not exist."""
        validate_profile_name(profile)
        doc = self._read()
        if doc is None or not _is_temporary(doc.section(profile)):
            return False
        deleted = False

        def remove(doc: IniDocument) -> None:
            nonlocal deleted
            if not _is_temporary(doc.section(profile)):
                return  # changed by another process since it was read
            doc.update_section(profile, dict.fromkeys(CREDENTIAL_KEYS))
            if not doc.section(profile):
                doc.remove_section(profile)
            deleted = True

        self._edit(remove)
        return deleted

    def _read(self) -> IniDocument | None:
        try:
            # Credentials from a file others can write could be anyone's: refuse it.
            safe_target(self.path)
            return read_ini(self.path)
        except (IniSyntaxError, IniAccessError) as exc:
            raise self._error(exc) from None

    def _edit(self, edit: Callable[[IniDocument], None]) -> None:
        try:
            edit_ini(self.path, edit, lock_timeout=self.lock_timeout, environ=self.environ)
        except (IniSyntaxError, IniAccessError) as exc:
            raise self._error(exc) from None

    def _error(self, exc: IniSyntaxError | IniAccessError) -> CredentialsFileError:
        """The error for a failure on the file, saying which operation failed."""
        path = str(self.path)
        if isinstance(exc, IniSyntaxError):
            return CredentialsFileError(path=path, reason=str(exc))
        if exc.operation == "read":
            return CredentialsFileReadError(path=path, reason=exc.reason)
        directory = exc.path if exc.path.is_dir() else exc.path.parent
        return CredentialsFileWriteError(path=path, reason=exc.reason, directory=str(directory))


class MemoryCredentialsStore:
    """A :class:`CredentialsStore` in a dict, for tests of code that needs a store."""

    def __init__(self, profiles: Mapping[str, AwsCredentials] | None = None) -> None:
        self.profiles: dict[str, AwsCredentials] = dict(profiles or {})

    def load(self, profile: str) -> AwsCredentials | None:
        return self.profiles.get(profile)

    def save(self, profile: str, credentials: AwsCredentials) -> None:
        self.profiles[profile] = credentials

    def save_many(self, profiles: Mapping[str, AwsCredentials]) -> None:
        self.profiles.update(profiles)

    def delete(self, profile: str) -> bool:
        return self.profiles.pop(profile, None) is not None

    def check_writable(self, profile: str) -> None:
        validate_profile_name(profile)


def expand_aws_path(path: str, environ: Mapping[str, str]) -> str:
    def variable(match: re.Match[str]) -> str:
        return environ.get(match.group(1).strip("{}"), match.group(0))

    path = _ENV_VARIABLE.sub(variable, path)
    home = environ.get("HOME")
    if home and (path == "~" or path.startswith(("~/", "~" + os.sep))):
        return home + path[1:]
    return os.path.expanduser(path)


def validate_profile_name(profile: str, *, setting: str = "profile") -> str:
    """The one check of an AWS profile name, wherever one is given (``--profile``,
    ``aws_profile``): it must be usable as a section of the credentials file, and not be
    ``DEFAULT``, whose keys botocore would apply to every profile. ``setting`` names where the
    value came from in the error."""
    if profile == DEFAULT_SECTION:
        raise InvalidSettingError(
            setting=setting,
            reason=f"{profile!r} is the INI defaults section, whose keys the AWS tools apply "
            "to every profile; choose another name",
        )
    if not is_safe_name(profile):
        raise InvalidSettingError(
            setting=setting,
            reason=f"{profile!r} is not a usable AWS profile name: use {NAME_RULE}",
        )
    return profile


def _values_for(credentials: AwsCredentials) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        ACCESS_KEY_ID: credentials.access_key_id,
        SECRET_ACCESS_KEY: credentials.secret_access_key,
        SESSION_TOKEN: credentials.session_token,
        SECURITY_TOKEN: credentials.session_token,
        # Without an assumed-role ARN, the role's own ARN keeps ``role_arn`` recoverable.
        PRINCIPAL_ARN: credentials.assumed_role_arn or credentials.role_arn,
        EXPIRES: credentials.expiration_rfc3339(),
    }
    if credentials.region:
        values[REGION] = credentials.region
    for key, value in values.items():
        if value is not None and (value != value.strip() or "\n" in value or "\r" in value):
            # Never the value itself: it may be a secret.
            raise InvalidSettingError(
                setting=key, reason="line breaks or surrounding spaces cannot be stored"
            )
    return values


def _holds_static_keys(values: Mapping[str, str]) -> bool:
    return ACCESS_KEY_ID in values and EXPIRES not in values


def _is_temporary(values: Mapping[str, str] | None) -> bool:
    return values is not None and EXPIRES in values


def _parse_expiration(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        return None  # RFC 3339 requires an offset; guessing one could keep dead credentials
    return value.astimezone(UTC)


def _credentials_from(values: Mapping[str, str]) -> AwsCredentials | None:
    access_key_id = values.get(ACCESS_KEY_ID)
    secret_access_key = values.get(SECRET_ACCESS_KEY)
    session_token = values.get(SESSION_TOKEN) or values.get(SECURITY_TOKEN)
    expiration = _parse_expiration(values.get(EXPIRES, ""))
    if not (access_key_id and secret_access_key and session_token and expiration):
        return None
    role_arn, assumed_role_arn = principal_roles(values.get(PRINCIPAL_ARN, ""))
    return AwsCredentials(
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
        expiration=expiration,
        role_arn=role_arn,
        assumed_role_arn=assumed_role_arn,
        region=values.get(REGION) or None,
    )
