"""The jcsaml config file: one INI section per IdP account, saml2aws-compatible keys.

On the hot path of ``jcsaml exec``: standard library only at module level.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from jcsaml.errors import (
    ConfigFileError,
    FileLockedError,
    InvalidSettingError,
    UnknownAccountError,
)
from jcsaml.inifile import IniDocument, IniSyntaxError, edit_ini, read_ini

DEFAULT_CONSOLE_URL = "https://console.jumpcloud.com"
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_PUSH_TIMEOUT = 120.0
DEFAULT_STS_TIMEOUT = 30.0
MFA_CHOICES = ("Auto", "TOTP", "PUSH", "WEBAUTHN")
MIN_SESSION_DURATION = 900
MAX_SESSION_DURATION = 43200

T = TypeVar("T")

_ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclasses.dataclass(frozen=True)
class Account:
    """One IdP account section. Field names follow the config keys where saml2aws has them."""

    name: str
    url: str
    username: str = ""
    mfa: str = "Auto"
    role_arn: str = ""
    aws_profile: str = ""
    region: str = ""
    session_duration: int | None = None
    credentials_file: str = ""
    idp_cert: str = ""
    console_url: str = DEFAULT_CONSOLE_URL
    allow_sha1: bool = False
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    push_timeout: float = DEFAULT_PUSH_TIMEOUT
    sts_timeout: float = DEFAULT_STS_TIMEOUT
    #: SHA-256 of the IdP certificate this account trusts (64 lowercase hex digits): the one in
    #: ``idp_cert`` when configured, else the one pinned on the first signed sign-in.
    idp_cert_sha256: str = ""
    #: A NameID JumpCloud may issue assertions to besides the username (an alternate e-mail).
    saml_nameid: str = ""
    #: The config file the account was read from; certificate pinning writes there. None for an
    #: Account built in code (nothing is written).
    source: Path | None = dataclasses.field(default=None, compare=False)
    federation_url: str = ""
    #: ``(account id, alias)`` pairs from ``account_aliases``, for ``jcsaml list-roles``.
    account_aliases: tuple[tuple[str, str], ...] = ()

    @property
    def profile(self) -> str:
        """The AWS profile jcsaml writes: ``aws_profile``, else the account name."""
        return self.aws_profile or self.name

    def to_config(self) -> dict[str, str | None]:
        """The section's keys as written; empty values remove the key."""
        values: dict[str, str | None] = {
            "url": self.url,
            "console_url": None if self.console_url == DEFAULT_CONSOLE_URL else self.console_url,
            "username": self.username,
            "mfa": self.mfa,
            "role_arn": self.role_arn,
            "aws_profile": self.aws_profile,
            "region": self.region,
            "aws_session_duration": str(self.session_duration) if self.session_duration else None,
            "credentials_file": self.credentials_file,
            "idp_cert": self.idp_cert,
            "idp_cert_sha256": self.idp_cert_sha256,
            "saml_nameid": self.saml_nameid,
            "allow_sha1": "true" if self.allow_sha1 else None,
            "http_timeout": None
            if self.http_timeout == DEFAULT_HTTP_TIMEOUT
            else f"{self.http_timeout:g}",
            "push_timeout": None
            if self.push_timeout == DEFAULT_PUSH_TIMEOUT
            else f"{self.push_timeout:g}",
            "federation_url": self.federation_url,
            "account_aliases": ", ".join(f"{a}:{n}" for a, n in self.account_aliases),
            "sts_timeout": None
            if self.sts_timeout == DEFAULT_STS_TIMEOUT
            else f"{self.sts_timeout:g}",
        }
        return {key: (value or None) for key, value in values.items()}


def config_path(environ: Mapping[str, str] = os.environ, override: str | None = None) -> Path:
    """``--config``, else ``JCSAML_CONFIG``, else ``~/.jcsaml``."""
    chosen = override or environ.get("JCSAML_CONFIG") or "~/.jcsaml"
    return expand_home(chosen, environ)


def expand_home(path: str, environ: Mapping[str, str] = os.environ) -> Path:
    """``~`` means the HOME of ``environ`` (so tests and tools can point it elsewhere)."""
    if path.startswith("~"):
        home = environ.get("HOME") or str(Path.home())
        return Path(home + path[1:])
    return Path(path)


def _read(path: Path) -> IniDocument | None:
    try:
        return read_ini(path)
    except IniSyntaxError as exc:
        raise ConfigFileError(path=str(path), reason=f"line {exc.line}: {exc.reason}") from None
    except FileLockedError:
        raise
    except OSError as exc:
        raise ConfigFileError(path=str(path), reason=exc.strerror or str(exc)) from None
    except ValueError as exc:  # a value the INI format cannot hold (a line break, say)
        raise InvalidSettingError(setting="configuration value", reason=str(exc)) from None


def account_names(path: Path) -> list[str]:
    document = _read(path)
    return document.sections() if document else []


def load_account(
    name: str, *, path: Path | None = None, environ: Mapping[str, str] = os.environ
) -> Account:
    """Read and validate account ``name``; raises ConfigError subclasses."""
    path = path or config_path(environ)
    document = _read(path)
    section = document.section(name) if document else None
    if section is None:
        known = tuple(document.sections()) if document else ()
        raise UnknownAccountError(account=name, path=str(path), known=known)
    return dataclasses.replace(account_from_section(name, section), source=path)


def find_account(name: str, *, path: Path) -> Account | None:
    """The account if it exists, for ``configure`` to offer current values."""
    document = _read(path)
    section = document.section(name) if document else None
    return account_from_section(name, section, strict=False) if section is not None else None


def account_from_section(name: str, section: Mapping[str, str], *, strict: bool = True) -> Account:
    """Build an Account from a section; ``strict=False`` skips bad values (for ``configure``,
    so a broken value can be corrected)."""

    def get(key: str) -> str:
        return section.get(key, "").strip()

    def parsed(key: str, parse: Callable[[str], T], default: T) -> T:
        text = get(key)
        if not text:
            return default
        try:
            return parse(text)
        except InvalidSettingError:
            if strict:
                raise
            return default

    account = Account(
        name=name,
        url=get("url"),
        username=get("username"),
        mfa=parsed("mfa", _canonical_mfa, "Auto"),
        role_arn=get("role_arn"),
        aws_profile=get("aws_profile"),
        region=get("region"),
        session_duration=parsed("aws_session_duration", parse_duration, None),
        credentials_file=get("credentials_file"),
        idp_cert=get("idp_cert"),
        idp_cert_sha256=parsed("idp_cert_sha256", parse_fingerprint, ""),
        saml_nameid=get("saml_nameid"),
        console_url=get("console_url") or DEFAULT_CONSOLE_URL,
        allow_sha1=parsed("allow_sha1", lambda v: _parse_bool("allow_sha1", v), False),
        http_timeout=parsed(
            "http_timeout", lambda v: parse_seconds("http_timeout", v), DEFAULT_HTTP_TIMEOUT
        ),
        push_timeout=parsed(
            "push_timeout", lambda v: parse_seconds("push_timeout", v), DEFAULT_PUSH_TIMEOUT
        ),
        federation_url=get("federation_url"),
        account_aliases=parsed("account_aliases", parse_account_aliases, ()),
        sts_timeout=parsed(
            "sts_timeout", lambda v: parse_seconds("sts_timeout", v), DEFAULT_STS_TIMEOUT
        ),
    )
    if strict:
        validate_account(account)
    return account


def parse_seconds(setting: str, text: str) -> float:
    """A positive number of seconds, at most an hour."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 1 <= seconds <= 3600:
        raise InvalidSettingError(
            setting=setting, reason=f"{text!r} must be a number of seconds from 1 to 3600"
        )
    return seconds


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as 64 lowercase hex digits; colons (openssl's form) are allowed."""
    digits = text.replace(":", "").strip().lower()
    if not _SHA256.fullmatch(digits):
        raise InvalidSettingError(
            setting="idp_cert_sha256",
            reason=f"{text!r} is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
        )
    return digits


def validate_account(account: Account) -> None:
    """Raise InvalidSettingError for the first value that can't work."""
    if not account.name or any(c in account.name for c in "[]\n\r"):
        raise InvalidSettingError(
            setting="account name", reason=f"{account.name!r} can't be a section name"
        )
    if not account.url:
        raise InvalidSettingError(
            setting="url",
            reason=f"account {account.name!r} has no url; set it with "
            f"jcsaml configure -a {account.name} --url URL",
        )
    validate_url(account.url, "url")
    validate_url(account.console_url, "console_url")
    if account.federation_url:
        validate_url(account.federation_url, "federation_url")
    if "/saml2/" not in urlsplit(account.url).path:
        raise InvalidSettingError(
            setting="url",
            reason=f"{account.url} is not a JumpCloud SAML application URL "
            "(expected https://sso.jumpcloud.com/saml2/<application>)",
        )
    _canonical_mfa(account.mfa)
    if account.idp_cert_sha256:
        parse_fingerprint(account.idp_cert_sha256)
    if account.role_arn:
        validate_role(account.role_arn)
    if account.session_duration is not None:
        parse_duration(str(account.session_duration))
    for key, value in (("aws_profile", account.aws_profile), ("region", account.region)):
        if any(c.isspace() or c in "[]" for c in value):
            raise InvalidSettingError(setting=key, reason=f"{value!r} contains spaces or brackets")


def validate_url(url: str, setting: str) -> str:
    """https anywhere; plain http only for loopback hosts (that is how tests run)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise InvalidSettingError(
        setting=setting,
        reason=f"{url!r} must be an https:// URL "
        "(plain http is only allowed for loopback addresses)",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_role_arn(arn: str) -> str:
    if not _ROLE_ARN.match(arn):
        raise InvalidSettingError(
            setting="role_arn",
            reason=f"{arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
        )
    return arn


def validate_role(role: str) -> str:
    """A role ARN, or a role name as ``jcsaml login --role`` takes it (matched at sign-in)."""
    if role.startswith("arn:"):
        return validate_role_arn(role)
    if not _ROLE_NAME.match(role):
        raise InvalidSettingError(
            setting="role_arn",
            reason=f"{role!r} is neither an IAM role ARN (arn:aws:iam::123456789012:role/NAME) "
            "nor a role name",
        )
    return role


def parse_account_aliases(text: str) -> tuple[tuple[str, str], ...]:
    """``012345678987:acme-prod, 210987654321:acme-dev`` -> ((id, alias), ...)."""
    pairs = []
    for item in text.split(","):
        if not item.strip():
            continue
        account_id, _, alias = (part.strip() for part in item.partition(":"))
        if not (len(account_id) == 12 and account_id.isdigit() and alias):
            raise InvalidSettingError(
                setting="account_aliases",
                reason=f"{item.strip()!r} is not ACCOUNT_ID:ALIAS (a 12-digit AWS account id, "
                "a colon, a name), e.g. 012345678987:acme-prod",
            )
        pairs.append((account_id, alias))
    return tuple(pairs)


def parse_duration(text: str, *, setting: str = "aws_session_duration") -> int:
    """Seconds from 900 to 43200; ``setting`` names where the value came from in the error."""
    try:
        seconds = int(text)
    except ValueError:
        seconds = -1
    if not MIN_SESSION_DURATION <= seconds <= MAX_SESSION_DURATION:
        raise InvalidSettingError(
            setting=setting,
            reason=f"{text!r} must be a number of seconds from {MIN_SESSION_DURATION} to "
            f"{MAX_SESSION_DURATION}",
        )
    return seconds


def _canonical_mfa(value: str) -> str:
    for choice in MFA_CHOICES:
        if value.lower() == choice.lower():
            return choice
    raise InvalidSettingError(
        setting="mfa", reason=f"{value!r} is not one of {', '.join(MFA_CHOICES)}"
    )


def _parse_bool(setting: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidSettingError(setting=setting, reason=f"{value!r} is not true or false")


def save_account(account: Account, *, path: Path) -> None:
    """Validate, then create or update the account's section; the rest of the file survives."""
    validate_account(account)

    def edit(document: IniDocument) -> None:
        document.update_section(account.name, account.to_config())

    try:
        edit_ini(path, edit)
    except IniSyntaxError as exc:
        raise ConfigFileError(path=str(path), reason=f"line {exc.line}: {exc.reason}") from None
    except OSError as exc:
        raise ConfigFileError(path=str(path), reason=exc.strerror or str(exc)) from None


def update_account_keys(name: str, values: Mapping[str, str | None], *, path: Path) -> None:
    """Set (None: remove) only the given keys of an existing account's section, under the
    config file's lock; every other key, account and comment stays as it is."""

    def edit(document: IniDocument) -> None:
        if document.section(name) is None:
            raise UnknownAccountError(account=name, path=str(path))
        document.update_section(name, values)

    try:
        edit_ini(path, edit)
    except IniSyntaxError as exc:
        raise ConfigFileError(path=str(path), reason=f"line {exc.line}: {exc.reason}") from None
    except OSError as exc:
        raise ConfigFileError(path=str(path), reason=exc.strerror or str(exc)) from None
