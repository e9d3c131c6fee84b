"""Reading a saml2aws config file (``~/.saml2aws``) to carry its JumpCloud accounts over.

Only sections with ``provider = JumpCloud`` are taken, and of them only the keys jcsaml shares
with saml2aws. Values are read as saml2aws reads them (go-ini: backquoted values, inline ``#``/``;``
comments after a space, surrounding quotes) and each is validated. Keys that hold saml2aws's
default value are left out silently; every other key left out is reported with the reason. The
session policies (``policy_arn_list``, ``policy_file``) are kept: an account that cannot keep
them is not imported, so no imported account can do more than it could. The file is only read.
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
    parse_policy_arns,
    validate_account,
    validate_account_name,
    validate_region,
    validate_role_arn,
    validate_setting,
)
from jcsaml.credentials_file import validate_profile_name
from jcsaml.errors import InvalidSettingError, Saml2awsFileError
from jcsaml.inifile import IniAccessError, IniSyntaxError, go_ini_value, read_ini
from jcsaml.signin import read_policy_file

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
    "policy_arn_list": "policy_arns",
    "policy_file": "policy_file",
}
NOT_USED = "jcsaml has no such setting"
# Keys whose value changes what saml2aws does in a way worth a reason of its own.
_REASONS = {
    "skip_verify": "jcsaml always verifies TLS (behind a TLS-inspecting proxy set "
    "REQUESTS_CA_BUNDLE)",
}
#: The values saml2aws writes for settings left at their defaults (``false`` for flags): such
#: a key says nothing, and is left out without a word.
SAML2AWS_DEFAULTS = {
    "skip_verify": "false",
    "timeout": "0",
    "aws_urn": "urn:amazon:webservices",
    "aws_session_duration": "3600",
    "saml_cache": "false",
    "disable_remember_device": "false",
    "disable_sessions": "false",
    "download_browser_driver": "false",
    "headless": "false",
}
_GO_FALSE = ("false", "0", "f")


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
        section = {k.lower(): go_ini_value(v) for k, v in (document.section(name) or {}).items()}
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
        if not value or key in ("provider", "name") or _is_default(key, value):
            continue  # an empty value means "not set" to saml2aws too
        field = SHARED_KEYS.get(key)
        if field is None:
            skipped.append(Skipped(name, _reason(key, value), key, value))
            continue
        try:
            fields[field] = _value(key, value)
        except InvalidSettingError as exc:
            if key in ("policy_arn_list", "policy_file"):
                # Without its session policies the account could do more than it could.
                return None, [Skipped(name, f"its session policy cannot be kept: {exc}")]
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


def _is_default(key: str, value: str) -> bool:
    default = SAML2AWS_DEFAULTS.get(key)
    if default is None:
        return False
    if default == "false":
        return value.lower() in _GO_FALSE
    return value == default


def _reason(key: str, value: str) -> str:
    if key == "aws_urn":
        from jcsaml.saml import AWS_AUDIENCES

        if value in AWS_AUDIENCES:
            return "jcsaml accepts this AWS audience, as it accepts every AWS audience: no setting"
        return (
            "jcsaml accepts only AWS's audiences (urn:amazon:webservices, its govcloud and cn "
            "forms, the sign-in URLs); JumpCloud's SP Entity ID must be one of them"
        )
    if key == "skip_verify" and value.lower() not in _GO_FALSE:
        return _REASONS["skip_verify"]
    return NOT_USED


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
    if key == "policy_arn_list":
        return parse_policy_arns(value, setting="policy_arn_list")
    if key == "policy_file":
        read_policy_file(value)  # refused here, as a login would refuse it
        return value
    if key in ("username", "credentials_file"):
        return validate_setting(key, value)
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
