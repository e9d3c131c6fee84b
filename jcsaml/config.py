"""The jcsaml config file: one INI section per IdP account, saml2aws-compatible keys.

Like saml2aws's ``~/.saml2aws``, the file may carry inline comments (``mfa = Auto  ; or PUSH``):
a ``;`` or ``#`` preceded by whitespace ends the value. Every key holds one line: a value
continued on an indented line is refused, naming the key and the line.

The table of keys and the small checks of their values are :mod:`jcsaml.config_keys`'s, which
the light lookup (:mod:`jcsaml.light_lookup`) reads too. Standard library only at module level.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from jcsaml import config_keys, variables
from jcsaml.config_keys import DEFAULT_CONSOLE_URL as DEFAULT_CONSOLE_URL
from jcsaml.config_keys import DEFAULT_HTTP_TIMEOUT as DEFAULT_HTTP_TIMEOUT
from jcsaml.config_keys import DEFAULT_PUSH_TIMEOUT as DEFAULT_PUSH_TIMEOUT
from jcsaml.config_keys import DEFAULT_STS_TIMEOUT as DEFAULT_STS_TIMEOUT
from jcsaml.config_keys import KEYS, MAX_POLICY_ARNS, MAX_TIMEOUT, MIN_TIMEOUT
from jcsaml.config_keys import MAX_SESSION_DURATION as MAX_SESSION_DURATION
from jcsaml.config_keys import MFA_CHOICES as MFA_CHOICES
from jcsaml.config_keys import MIN_SESSION_DURATION as MIN_SESSION_DURATION
from jcsaml.config_keys import TEMPLATE_FIELDS as TEMPLATE_FIELDS
from jcsaml.config_keys import is_region_name as is_region_name
from jcsaml.credentials_file import validate_profile_name
from jcsaml.errors import (
    ConfigFileError,
    ConfigFileReadError,
    ConfigFileWriteError,
    InvalidSettingError,
    UnknownAccountError,
)
from jcsaml.ini_edit import edit_ini
from jcsaml.inifile import IniAccessError, IniDocument, IniSyntaxError, read_ini
from jcsaml.names import RULE as NAME_RULE
from jcsaml.names import is_safe_name
from jcsaml.partitions import is_role_arn, policy_partition

#: A config section named ``group NAME`` lists accounts (``accounts = a, b``) that ``jcsaml login
#: -a NAME`` signs in to together; it is not an account itself.
GROUP_PREFIX = "group "

T = TypeVar("T")

#: The keys jcsaml reads; each holds a single line.
KNOWN_KEYS = tuple(KEYS)
#: configparser's (hence botocore's) defaults section: its keys apply to every other section.
DEFAULT_SECTION = "DEFAULT"
#: The largest config file (or saml2aws file) jcsaml reads: a real one is a few KiB.
MAX_CONFIG_BYTES = 1024 * 1024


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
    #: Accept an unsigned SAML response (with a warning each time); off, one is refused.
    allow_unsigned: bool = False
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
    #: How profiles are named when several roles are taken from this account's assertion, e.g.
    #: ``{account}-{role}`` (the default then); see :data:`TEMPLATE_FIELDS`.
    profile_template: str = ""
    #: ``exec --server``: the command gets SIGTERM when jcsaml dies (Linux), since its endpoint's
    #: port is free for any local process then; false keeps it running (``--no-kill-on-exit``).
    kill_on_exit: bool = True
    #: Session policies (saml2aws's policy_arn_list and policy_file): managed policy ARNs and a
    #: JSON policy file passed to AssumeRoleWithSAML, so the credentials can do no more than
    #: they allow.
    policy_arns: tuple[str, ...] = ()
    policy_file: str = ""
    #: Commands (run without a shell) whose first line of output is the password or the TOTP
    #: code: see :mod:`jcsaml.secret_command`.
    password_command: str = ""
    mfa_command: str = ""

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
            "allow_unsigned": "true" if self.allow_unsigned else None,
            "kill_on_exit": None if self.kill_on_exit else "false",
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
            "profile_template": self.profile_template,
            "policy_arns": ", ".join(self.policy_arns),
            "policy_file": self.policy_file,
            "password_command": self.password_command,
            "mfa_command": self.mfa_command,
        }
        return {key: (value or None) for key, value in values.items()}


def config_path(environ: Mapping[str, str] = os.environ, override: str | None = None) -> Path:
    """``--config``, else ``JCSAML_CONFIG``, else saml2aws's ``SAML2AWS_CONFIGFILE``, else
    ``~/.jcsaml``."""
    chosen = override or variables.lookup("config", environ) or "~/.jcsaml"
    return expand_home(chosen, environ)


def expand_home(path: str, environ: Mapping[str, str] = os.environ) -> Path:
    """``~`` means the HOME of ``environ`` (so tests and tools can point it elsewhere)."""
    expanded = config_keys.home_path(path, environ)
    return Path(expanded if expanded is not None else str(Path.home()) + path[1:])


def _read(path: Path) -> IniDocument | None:
    try:
        return read_ini(path, inline_comments=True, max_bytes=MAX_CONFIG_BYTES)
    except IniSyntaxError as exc:
        raise ConfigFileError(path=str(path), reason=f"line {exc.line}: {exc.reason}") from None
    except IniAccessError as exc:
        raise ConfigFileReadError(path=str(path), reason=exc.reason) from None


def _file_error(path: Path, exc: IniSyntaxError | IniAccessError) -> ConfigFileError:
    """The error for a failed edit of the config file, saying which operation failed."""
    if isinstance(exc, IniSyntaxError):
        return ConfigFileError(path=str(path), reason=f"line {exc.line}: {exc.reason}")
    if exc.operation == "read":
        return ConfigFileReadError(path=str(path), reason=exc.reason)
    directory = exc.path if exc.path != path and exc.path.is_dir() else exc.path.parent
    return ConfigFileWriteError(path=str(path), reason=exc.reason, directory=str(directory))


def check_single_lines(document: IniDocument, name: str, path: Path) -> None:
    """Refuse a known key whose value goes on over several lines (an indented line after it
    continues the value, which no key can use)."""
    for key in KNOWN_KEYS:
        line = document.continuation_line(name, key)
        if line is not None:
            raise InvalidSettingError(
                setting=key,
                reason=f"line {line} of {path} continues the value of {key} on another line; "
                "put the whole value on the key's line (an indented line continues the key "
                "above it)",
            )


def account_names(path: Path) -> list[str]:
    """The accounts in the config file, in file order (``group`` sections are not accounts)."""
    document = _read(path)
    sections = document.sections() if document else []
    return [name for name in sections if not name.startswith(GROUP_PREFIX)]


def group_names(path: Path) -> list[str]:
    """The names of the account groups (``[group NAME]`` sections) in the config file."""
    document = _read(path)
    sections = document.sections() if document else []
    return [name[len(GROUP_PREFIX) :] for name in sections if name.startswith(GROUP_PREFIX)]


def expand_accounts(names: Sequence[str], *, path: Path, all_accounts: bool = False) -> list[str]:
    """Account names for ``names``, where a name may also be a group (``[group NAME]``, its
    ``accounts = a, b`` key); every account once, in the order given. ``all_accounts`` gives
    every account in the file. Raises UnknownAccountError for a name that is neither, and
    InvalidSettingError for a name that is both or a group naming an unknown account."""
    document = _read(path)
    sections = document.sections() if document else []
    accounts = [name for name in sections if not name.startswith(GROUP_PREFIX)]
    if all_accounts:
        if not accounts:
            raise InvalidSettingError(
                setting="--all-accounts",
                reason=f"{path} has no account; create them with: jcsaml configure --discover",
            )
        return accounts
    chosen: list[str] = []
    for name in names:
        group = document.section(GROUP_PREFIX + name) if document else None
        if group is None:
            if name not in accounts:
                known = tuple(accounts + group_names(path))
                raise UnknownAccountError(account=name, path=str(path), known=known)
            members = [name]
        elif name in accounts:
            raise InvalidSettingError(
                setting="group",
                reason=f"{name!r} is both an account and a group in {path}; rename one",
            )
        else:
            members = [m.strip() for m in group.get("accounts", "").split(",") if m.strip()]
            unknown = [m for m in members if m not in accounts]
            if unknown or not members:
                raise InvalidSettingError(
                    setting=f"accounts of group {name!r}",
                    reason=f"{', '.join(unknown) or 'no account'} is not an account in {path}; "
                    "list accounts as: accounts = production, dev",
                )
        chosen.extend(m for m in members if m not in chosen)
    return chosen


def load_account(
    name: str, *, path: Path | None = None, environ: Mapping[str, str] = os.environ
) -> Account:
    """Read and validate account ``name``; raises ConfigError subclasses."""
    path = path or config_path(environ)
    _check_section_name(name)
    document = _read(path)
    section = document.section(name) if document else None
    if section is None or name.startswith(GROUP_PREFIX):
        if document and document.section(GROUP_PREFIX + name) is not None:
            raise InvalidSettingError(
                setting="account",
                reason=f"{name!r} is a group of accounts in {path}, which only jcsaml login "
                "takes; name one of its accounts with -a",
            )
        known = tuple(account_names(path)) if document else ()
        raise UnknownAccountError(
            account=name,
            path=str(path),
            known=known,
            profiles=_written_profiles(document, known),
            saml2aws=_saml2aws_file(environ) if document is None else "",
        )
    assert document is not None  # a section came from it
    check_single_lines(document, name, path)
    return dataclasses.replace(account_from_section(name, section), source=path)


def _written_profiles(
    document: IniDocument | None, names: Sequence[str]
) -> tuple[tuple[str, str], ...]:
    """(account, the AWS profile it writes) for each account, for "did you mean"."""
    found = []
    for name in names:
        section = document.section(name) if document else None
        found.append((name, ((section or {}).get("aws_profile") or "").strip() or name))
    return tuple(found)


def _saml2aws_file(environ: Mapping[str, str]) -> str:
    """``~/.saml2aws`` when it exists (a saml2aws user's first jcsaml command), else ""."""
    path = expand_home("~/.saml2aws", environ)
    return str(path) if path.is_file() else ""


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
        allow_unsigned=parsed("allow_unsigned", lambda v: _parse_bool("allow_unsigned", v), False),
        kill_on_exit=parsed("kill_on_exit", lambda v: _parse_bool("kill_on_exit", v), True),
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
        profile_template=parsed("profile_template", parse_profile_template, ""),
        policy_arns=parsed("policy_arns", parse_policy_arns, ()),
        policy_file=get("policy_file"),
        password_command=get("password_command"),
        mfa_command=get("mfa_command"),
    )
    if strict:
        validate_account(account)
    return account


def parse_seconds(setting: str, text: str) -> float:
    """A positive number of seconds, at most an hour."""
    seconds = config_keys.timeout_seconds(text)
    if seconds is None:
        raise InvalidSettingError(
            setting=setting,
            reason=f"{text!r} must be a number of seconds from {MIN_TIMEOUT} to {MAX_TIMEOUT}",
        )
    return seconds


def check_name(name: str, setting: str = "account name") -> str:
    """The one name rule for what jcsaml writes (account, group and profile names): letters,
    digits and ``. _ - @ + = ,`` only (see :mod:`jcsaml.names`). Raises InvalidSettingError
    naming ``setting``; returns ``name``."""
    if not is_safe_name(name):
        raise InvalidSettingError(setting=setting, reason=f"{name!r}: use {NAME_RULE}")
    return name


def validate_account_name(name: str) -> str:
    """An IdP account name jcsaml may write: :func:`check_name`, and not a reserved section."""
    _check_section_name(name)
    return check_name(name)


def _check_section_name(name: str) -> None:
    """What reading an account needs of its name: a usable section name that is neither the
    defaults section nor a group. Names written before the name rule still load this way."""
    if name == DEFAULT_SECTION:
        raise InvalidSettingError(
            setting="account name",
            reason=f"{name!r} is the INI defaults section, whose keys would apply to every "
            "account; choose another name",
        )
    if not name or name != name.strip() or any(c in name for c in "[]") or not name.isprintable():
        raise InvalidSettingError(
            setting="account name",
            reason=f"{name!r} can't be a section name (no brackets, control characters or "
            "surrounding spaces)",
        )
    if name.startswith(GROUP_PREFIX):
        raise InvalidSettingError(
            setting="account name",
            reason=f"{name!r}: a section named 'group NAME' is an account group",
        )


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as 64 lowercase hex digits; colons (openssl's form) are allowed."""
    digits = config_keys.fingerprint(text)
    if digits is None:
        raise InvalidSettingError(
            setting="idp_cert_sha256",
            reason=f"{text!r} is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
        )
    return digits


def validate_account(account: Account) -> None:
    """Raise InvalidSettingError for the first value that can't work."""
    _check_section_name(account.name)
    for key, value in account.to_config().items():
        if value is not None:
            check_value_text(key, value)
    if account.profile_template:
        parse_profile_template(account.profile_template)
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
    _check_app_path(account.url)
    _canonical_mfa(account.mfa)
    if account.idp_cert_sha256:
        parse_fingerprint(account.idp_cert_sha256)
    if account.role_arn:
        validate_role(account.role_arn)
    if account.session_duration is not None:
        parse_duration(str(account.session_duration))
    if account.aws_profile:
        validate_profile_name(account.aws_profile, setting="aws_profile")
    if account.region:
        validate_region(account.region, source=f"region of account {account.name!r}")


def check_value_text(key: str, value: str) -> None:
    """A value must read back as written: one line, no surrounding spaces, and no ``;`` or
    ``#`` that would start an inline comment."""
    if "\n" in value or "\r" in value:
        raise InvalidSettingError(
            setting=key, reason="the value contains a line break; give it on one line"
        )
    if value != value.strip():
        raise InvalidSettingError(setting=key, reason="the value has surrounding spaces")
    if value.startswith(("#", ";")) or re.search(r"\s[;#]", value):
        raise InvalidSettingError(
            setting=key,
            reason="a ';' or '#' after a space (or at the start) would make the rest of the "
            "value a comment in the config file",
        )


def validate_setting(key: str, value: str) -> str:
    """Check one value given for ``key`` (say by ``configure``); returns it as it is stored
    (``mfa`` in its canonical spelling)."""
    check_value_text(key, value)
    kind = KEYS.get(key, config_keys.TEXT)
    if kind == config_keys.APP_URL:
        validate_url(value, key)
        _check_app_path(value)
    elif kind == config_keys.URL:
        validate_url(value, key)
    elif kind == config_keys.MFA:
        return _canonical_mfa(value)
    elif kind == config_keys.ROLE:
        validate_role(value)
    elif kind == config_keys.PROFILE:
        validate_profile_name(value, setting=key)
    elif kind == config_keys.REGION:
        validate_region(value, source=key)
    elif kind == config_keys.DURATION:
        parse_duration(value, setting=key)
    elif kind == config_keys.FINGERPRINT:
        return parse_fingerprint(value)
    elif kind == config_keys.BOOLEAN:
        _parse_bool(key, value)
    elif kind == config_keys.SECONDS:
        parse_seconds(key, value)
    elif kind == config_keys.ALIASES:
        return ", ".join(f"{a}:{n}" for a, n in parse_account_aliases(value))
    elif kind == config_keys.TEMPLATE:
        parse_profile_template(value)
    elif kind == config_keys.POLICIES:
        return ", ".join(parse_policy_arns(value, setting=key))
    return value


def _check_app_path(url: str) -> None:
    """A JumpCloud SAML application URL has ``/saml2/`` in its path."""
    if "/saml2/" not in urlsplit(url).path:
        raise InvalidSettingError(
            setting="url",
            reason=f"{url} is not a JumpCloud SAML application URL "
            "(expected https://sso.jumpcloud.com/saml2/<application>)",
        )


def validate_region(region: str, *, source: str = "region") -> str:
    """``region`` when it has AWS's region syntax (``us-east-1``); else InvalidSettingError
    naming ``source``, where the value came from (``--region``, ``AWS_REGION``, an account's
    ``region``)."""
    if not is_region_name(region):
        raise InvalidSettingError(
            setting=source,
            reason=f"{region!r} is not an AWS region name (such as us-east-1 or us-gov-west-1)",
        )
    return region


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
    if not is_role_arn(arn):
        raise InvalidSettingError(
            setting="role_arn",
            reason=f"{arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
        )
    return arn


def validate_role(role: str) -> str:
    """A role ARN, or a role name as ``jcsaml login --role`` takes it (matched at sign-in)."""
    if role.startswith("arn:"):
        return validate_role_arn(role)
    if not config_keys.is_role(role):
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
        pair = config_keys.alias_pair(item)
        if pair is None:
            raise InvalidSettingError(
                setting="account_aliases",
                reason=f"{item.strip()!r} is not ACCOUNT_ID:ALIAS (a 12-digit AWS account id, "
                "a colon, a name), e.g. 012345678987:acme-prod",
            )
        pairs.append(pair)
    return tuple(pairs)


def parse_policy_arns(text: str, *, setting: str = "policy_arns") -> tuple[str, ...]:
    """Managed policy ARNs separated by commas or spaces (at most 10, as STS allows)."""
    arns = tuple(config_keys.split_policy_arns(text))
    for arn in arns:
        if policy_partition(arn) is None:
            raise InvalidSettingError(
                setting=setting,
                reason=f"{arn!r} is not an IAM managed policy ARN "
                "(arn:aws:iam::ACCOUNT:policy/NAME)",
            )
    if len(arns) > MAX_POLICY_ARNS:
        raise InvalidSettingError(
            setting=setting, reason=f"STS takes at most {MAX_POLICY_ARNS} policy ARNs"
        )
    return arns


def parse_profile_template(text: str) -> str:
    """A profile-name template using only :data:`TEMPLATE_FIELDS`, e.g. ``{account}-{role}``."""
    import string

    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise InvalidSettingError(setting="profile_template", reason=f"{text!r}: {exc}") from None
    unknown = [name for name in fields if name not in TEMPLATE_FIELDS]
    if unknown or not text.strip():
        raise InvalidSettingError(
            setting="profile_template",
            reason=f"{text!r} may use only "
            + ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS),
        )
    return text


def parse_duration(text: str, *, setting: str = "aws_session_duration") -> int:
    """Seconds from 900 to 43200; ``setting`` names where the value came from in the error."""
    seconds = config_keys.session_seconds(text)
    if seconds is None:
        raise InvalidSettingError(
            setting=setting,
            reason=f"{text!r} must be a number of seconds from {MIN_SESSION_DURATION} to "
            f"{MAX_SESSION_DURATION}",
        )
    return seconds


def _canonical_mfa(value: str) -> str:
    choice = config_keys.canonical_mfa(value)
    if choice is not None:
        return choice
    raise InvalidSettingError(
        setting="mfa", reason=f"{value!r} is not one of {', '.join(MFA_CHOICES)}"
    )


def _parse_bool(setting: str, value: str) -> bool:
    parsed = config_keys.boolean(value)
    if parsed is not None:
        return parsed
    raise InvalidSettingError(setting=setting, reason=f"{value!r} is not true or false")


def save_account(account: Account, *, path: Path) -> None:
    """Validate, then create or update the account's section with every key of
    :meth:`Account.to_config`; the rest of the file survives. To change only some keys (and
    keep what others changed meanwhile), use :func:`update_account`."""
    validate_account(account)
    update_account(account.name, account.to_config(), path=path)


#: What :func:`update_account` did to one key: (old value, new value); None means absent.
Change = tuple[str | None, str | None]


def update_account(
    name: str,
    values: Mapping[str, str | None],
    *,
    path: Path,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Change]:
    """Set (or, for None or "", remove) the given keys of account ``name``, creating the section
    if needed; returns the keys whose value changed, in the order given.

    The section is read, merged and written while the config file is locked, so a concurrent
    update of other keys is never lost; keys not given, comments and layout stay as they were.
    Each given value is checked with :func:`validate_setting`, and the merged section must have
    a ``url``. Raises InvalidSettingError (nothing written), ConfigFileError (unparseable file),
    ConfigFileReadError / ConfigFileWriteError, FileLockedError or LockFileError.
    """
    validate_account_name(name)
    wanted: dict[str, str | None] = {}
    for key, value in values.items():
        wanted[key] = validate_setting(key, value) if value else None
    changes: dict[str, Change] = {}

    def edit(document: IniDocument) -> None:
        current = document.section(name) or {}
        for key, value in wanted.items():
            old = current.get(key) or None
            if old != value:
                changes[key] = (old, value)
        merged = {**current, **{k: v for k, v in wanted.items() if v}}
        for key in (k for k, v in wanted.items() if not v):
            merged.pop(key, None)
        if not merged.get("url"):
            raise InvalidSettingError(
                setting="url",
                reason=f"account {name!r} has no url; set it with "
                f"jcsaml configure -a {name} --url URL",
            )
        document.update_section(name, {key: wanted[key] for key in changes})

    try:
        edit_ini(path, edit, inline_comments=True, environ=environ)
    except (IniSyntaxError, IniAccessError) as exc:
        raise _file_error(path, exc) from None
    return changes


def rename_account(
    old: str, new: str, *, path: Path, environ: Mapping[str, str] = os.environ
) -> None:
    """Rename account ``old`` to ``new`` in place (its keys and comments stay). The AWS profile
    it writes stays too: an account without ``aws_profile`` wrote the profile named after it,
    so that name becomes its ``aws_profile``. Raises UnknownAccountError, InvalidSettingError
    (``new`` is not a usable name or is taken) and the file errors of :func:`update_account`."""
    validate_account_name(new)

    def edit(document: IniDocument) -> None:
        current = document.section(old)
        if current is None or old.startswith(GROUP_PREFIX):
            raise UnknownAccountError(
                account=old, path=str(path), known=tuple(n for n in document.sections())
            )
        if document.section(new) is not None:
            raise InvalidSettingError(
                setting="--rename", reason=f"{new!r} already exists in {path}"
            )
        document.rename_section(old, new)
        if not current.get("aws_profile", "").strip():
            document.update_section(new, {"aws_profile": old})

    try:
        edit_ini(path, edit, inline_comments=True, environ=environ)
    except (IniSyntaxError, IniAccessError) as exc:
        raise _file_error(path, exc) from None


def update_account_keys(name: str, values: Mapping[str, str | None], *, path: Path) -> None:
    """Set (None: remove) only the given keys of an existing account's section, under the
    config file's lock; every other key, account and comment stays as it is. Unlike
    :func:`update_account`, the values are not checked beyond what the file can hold."""
    for key, value in values.items():
        if value is not None:
            check_value_text(key, value)

    def edit(document: IniDocument) -> None:
        if document.section(name) is None:
            raise UnknownAccountError(account=name, path=str(path))
        document.update_section(name, values)

    try:
        edit_ini(path, edit, inline_comments=True)
    except (IniSyntaxError, IniAccessError) as exc:
        raise _file_error(path, exc) from None
