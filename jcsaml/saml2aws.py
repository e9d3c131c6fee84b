"""Reading a saml2aws config file (``~/.saml2aws``) to carry its JumpCloud accounts over.

Only sections with ``provider = JumpCloud`` are taken, and of them only the keys jcsaml shares
with saml2aws. Everything left out is reported with the reason. The file is only read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from jcsaml.config import (
    MAX_CONFIG_BYTES,
    MFA_CHOICES,
    Account,
    parse_duration,
    validate_account,
    validate_account_name,
    validate_region,
    validate_role_arn,
)
from jcsaml.credentials_file import validate_profile_name
from jcsaml.errors import InvalidSettingError, Saml2awsFileError
from jcsaml.inifile import IniAccessError, IniSyntaxError, read_ini

DEFAULT_PATH = "~/.saml2aws"
#: saml2aws keys jcsaml reads too, and the Account field each fills.
SHARED_KEYS = {
    "url": "url",
    "username": "username",
    "mfa": "mfa",
    "role_arn": "role_arn",
    "aws_profile": "aws_profile",
    "region": "region",
    "aws_session_duration": "session_duration",
    "credentials_file": "credentials_file",
}
NOT_USED = "jcsaml has no such setting"
# Keys whose value changes what saml2aws does in a way worth a reason of its own.
_REASONS = {
    "skip_verify": "jcsaml always verifies TLS (behind a TLS-inspecting proxy set "
    "REQUESTS_CA_BUNDLE)",
    "aws_urn": "jcsaml expects the AWS audience urn:amazon:webservices",
}


@dataclass(frozen=True)
class Skipped:
    """Something not imported: a whole section (``key`` None) or one key of it."""

    section: str
    reason: str
    key: str | None = None
    value: str = ""


@dataclass(frozen=True)
class Saml2awsImport:
    """The accounts to add and what was left out."""

    accounts: list[Account]
    skipped: list[Skipped]


def read_saml2aws(path: Path) -> Saml2awsImport:
    """Read ``path``; raises Saml2awsFileError when it is missing or not an INI file."""
    try:
        document = read_ini(path, max_bytes=MAX_CONFIG_BYTES)
    except IniSyntaxError as exc:
        raise Saml2awsFileError(path=str(path), reason=f"line {exc.line}: {exc.reason}") from None
    except IniAccessError as exc:
        raise Saml2awsFileError(path=str(path), reason=exc.reason) from None
    except OSError as exc:
        raise Saml2awsFileError(path=str(path), reason=exc.strerror or str(exc)) from None
    if document is None:
        raise Saml2awsFileError(path=str(path), reason="No such file")
    accounts: list[Account] = []
    skipped: list[Skipped] = []
    for name in document.sections():
        section = {k.lower(): v.strip() for k, v in (document.section(name) or {}).items()}
        account, left_out = _account(name, section)
        skipped.extend(left_out)
        if account is not None:
            accounts.append(account)
    return Saml2awsImport(accounts, skipped)


def _account(name: str, section: dict[str, str]) -> tuple[Account | None, list[Skipped]]:
    provider = section.get("provider", "")
    if provider.lower() != "jumpcloud":
        reason = (
            f"provider is {provider}; jcsaml signs in to JumpCloud only"
            if provider
            else "it names no provider"
        )
        return None, [Skipped(name, reason)]
    try:
        validate_account_name(name)
    except InvalidSettingError as exc:
        return None, [Skipped(name, str(exc))]
    skipped: list[Skipped] = []
    fields: dict[str, object] = {}
    for key, value in section.items():
        if not value or key == "provider":
            continue  # an empty value means "not set" to saml2aws too
        field = SHARED_KEYS.get(key)
        if field is None:
            reason = _REASONS.get(key, NOT_USED)
            if key == "skip_verify" and value.lower() == "false":
                reason = NOT_USED
            if key == "aws_urn" and value == "urn:amazon:webservices":
                reason = NOT_USED
            skipped.append(Skipped(name, reason, key, value))
            continue
        try:
            fields[field] = _value(key, value)
        except InvalidSettingError as exc:
            skipped.append(Skipped(name, str(exc), key, value))
    if "url" not in fields:
        return None, [Skipped(name, "it has no url")]
    account = Account(name=name, url=str(fields.pop("url")))
    account = dataclasses.replace(account, **fields)  # type: ignore[arg-type]
    try:
        validate_account(account)
    except InvalidSettingError as exc:
        return None, [Skipped(name, str(exc))]
    return account, skipped


def _value(key: str, value: str) -> object:
    if key == "mfa":
        for choice in MFA_CHOICES:
            if value.lower() == choice.lower():
                return choice
        raise InvalidSettingError(
            setting="mfa", reason=f"{value!r} is not one of {', '.join(MFA_CHOICES)}"
        )
    if key == "role_arn":
        return validate_role_arn(value)
    if key == "aws_session_duration":
        return parse_duration(value)
    if key == "aws_profile":
        return validate_profile_name(value, setting="aws_profile")
    if key == "region":
        return validate_region(value, source="region")
    return value


def merged(imported: Account, existing: Account | None) -> Account:
    """``imported`` over ``existing``: the keys saml2aws has come from the import (absent ones
    return to their defaults); jcsaml's own settings (idp_cert, console_url ...) are kept."""
    if existing is None:
        return imported
    shared = {field: getattr(imported, field) for field in SHARED_KEYS.values()}
    return dataclasses.replace(existing, **shared)
