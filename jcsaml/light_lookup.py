"""Valid cached credentials, found with nothing heavier than ``os``, ``re`` and ``time``.

The instant paths (:mod:`jcsaml.launcher`) ask one question: does the account's profile hold
credentials that the full CLI would reuse as they are? The full CLI answers it with
:func:`jcsaml.config.load_account`, :func:`jcsaml.signin.credentials_path`,
:class:`jcsaml.credentials_file.CredentialsFile` and :func:`jcsaml.signin.cached_credentials`,
which bring in ``dataclasses``, ``datetime``, ``pathlib`` and ``typing``: more than the whole
rest of a cached ``jcsaml exec`` costs.

:func:`lookup` gives the same answer from the same files, parsed by the same INI reader
(:mod:`jcsaml.inifile`), or declines (None) whenever it cannot be sure of that: a config value
the full reader might reject, a timestamp not in the plain ``YYYY-MM-DDTHH:MM:SS(Z|+HH:MM)``
form, credentials within the refresh margin, any file that is missing or unreadable. A caller
that gets None takes the full path, which signs in or reports the error as always. The
agreement is a tested property (``tests/test_light_lookup.py`` generates config and credentials
files and compares the two readers).
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING

from jcsaml import config_keys
from jcsaml.arn import principal_roles, role_matches
from jcsaml.config_keys import KEYS, home_path
from jcsaml.environment import credential_process_document, credential_variables
from jcsaml.ini_edit import is_private_file
from jcsaml.inifile import read_ini
from jcsaml.names import is_safe_name
from jcsaml.partitions import policy_partition

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


__all__ = [
    "PROCESS_REFRESH_MARGIN_SECONDS",
    "REFRESH_MARGIN_SECONDS",
    "CachedCredentials",
    "account_section",
    "exec_region",
    "lookup",
    "process_cache_directory",
    "process_cache_name",
    "process_credentials",
    "process_output",
]

# The two refresh margins, defined here (the lowest module that needs them) for every path.
#: Profile credentials (login, exec, script, console) closer than this to their expiry are not
#: reused: a command started with them should not see them end.
REFRESH_MARGIN_SECONDS = 300
#: Credentials handed to the AWS SDKs (credential-process's cache, the exec --server endpoint)
#: are renewed when fewer than this many seconds remain: botocore asks again below 15 minutes,
#: so handing out less would run the process, and a sign-in, on every AWS call.
PROCESS_REFRESH_MARGIN_SECONDS = 15 * 60
#: A credential-process cache entry is a few hundred bytes: a larger file is not read.
PROCESS_CACHE_ENTRY_BYTES = 64 * 1024

# Subsets of what jcsaml.config accepts: a value outside them is not wrong, only not vouched for.
_HTTPS_URL = re.compile(
    r"(?:https://[A-Za-z0-9][A-Za-z0-9.-]*|http://(?:127\.0\.0\.1|localhost))(?::[0-9]{1,5})?"
    r"(?P<path>/[^\s?#]*)?(?:[?#]\S*)?",
    re.ASCII,
)
# Plain text and the fields jcsaml.config.parse_profile_template allows, nothing fancier.
_FIELDS = "|".join(config_keys.TEMPLATE_FIELDS)
_PROFILE_TEMPLATE = re.compile(rf"(?:[^{{}}]|\{{(?:{_FIELDS})\}})+")
# The whitespace shlex splits on, as botocore splits ``[profile NAME]``.
_SHELL_SPACE = re.compile(r"[ \t\r\n]+")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)


class CachedCredentials:
    """Credentials found in a profile, valid past the refresh margin."""

    __slots__ = (
        "access_key_id",
        "account_name",
        "account_region",
        "expiration",
        "expires_at",
        "profile",
        "region",
        "role_arn",
        "secret_access_key",
        "session_token",
    )

    def __init__(
        self,
        *,
        account_name: str,
        profile: str,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
        expires_at: float,
        role_arn: str,
        region: str | None,
        account_region: str | None = None,
    ) -> None:
        self.account_name = account_name
        self.profile = profile
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        #: Seconds since the epoch, and the same instant as RFC 3339 in UTC.
        self.expires_at = expires_at
        self.expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))
        self.role_arn = role_arn
        self.region = region
        #: The account's ``region`` in the jcsaml config file.
        self.account_region = account_region

    def __repr__(self) -> str:
        # Never the secret key or the token.
        return (
            f"CachedCredentials(profile={self.profile!r}, access_key_id={self.access_key_id!r}, "
            f"expiration={self.expiration!r})"
        )

    def to_environment(self, *, region: str | None = None) -> dict[str, str]:
        """The variables ``jcsaml exec`` sets, exactly as ``AwsCredentials.to_environment``."""
        return credential_variables(
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            session_token=self.session_token,
            expiration=self.expiration,
            region=region or self.region,
        )

    def to_credential_process(self) -> dict[str, object]:
        """As ``AwsCredentials.to_credential_process``."""
        return credential_process_document(
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            session_token=self.session_token,
            expiration=self.expiration,
        )


def lookup(
    account_name: str,
    *,
    profile: str | None = None,
    role: str | None = None,
    config: str | None = None,
    environ: Mapping[str, str] = os.environ,
    now: float | None = None,
) -> CachedCredentials | None:
    """The credentials the full CLI would reuse for this account, or None to decline.

    ``profile``, ``role`` and ``config`` are the command's ``--profile``, ``--role`` and
    ``--config``; ``now`` is seconds since the epoch. Never raises for anything in the files:
    every doubt is a None.
    """
    section = account_section(account_name, config=config, environ=environ)
    if section is None:
        return None
    chosen_profile = profile or section.get("aws_profile", "").strip() or account_name
    if not _valid_profile(chosen_profile):
        return None
    path = _credentials_path(section.get("credentials_file", "").strip(), environ)
    # As jcsaml.credentials_file refuses a file that others can write or a doubtful link.
    values = _section(path, chosen_profile) if path and is_private_file(path) else None
    if values is None:
        return None
    found = _credentials(account_name, chosen_profile, values)
    current = time.time() if now is None else now
    if found is None or found.expires_at - current < REFRESH_MARGIN_SECONDS:
        return None
    wanted = role or section.get("role_arn", "").strip()
    if wanted and not role_matches(found.role_arn, wanted):
        return None
    found.account_region = section.get("region", "").strip() or None
    return found


def account_section(
    account_name: str, *, config: str | None = None, environ: Mapping[str, str] = os.environ
) -> dict[str, str] | None:
    """The account's config section when :func:`jcsaml.config.load_account` surely accepts it
    (``config``: the command's ``--config``), else None."""
    config_path = home_path(config or environ.get("JCSAML_CONFIG") or "~/.jcsaml", environ)
    section = _section(config_path, account_name, config=True) if config_path else None
    if section is None or not _valid_account(account_name, section):
        return None
    return section


def process_credentials(
    account_name: str,
    *,
    role: str | None = None,
    config: str | None = None,
    environ: Mapping[str, str] = os.environ,
    now: float | None = None,
) -> CachedCredentials | None:
    """The credentials ``jcsaml credential-process`` would hand out from its cache (as
    :func:`jcsaml.process_cache.cached_process_output` finds them), or None to decline.

    ``role`` is the command's ``--role``. Reads the account's section and one cache file.
    """
    section = account_section(account_name, config=config, environ=environ)
    if section is None:
        return None
    wanted = role or section.get("role_arn", "").strip()
    directory = process_cache_directory(environ)
    if directory is None:
        return None
    text = _read_cache_file(directory, process_cache_name(account_name, wanted), environ)
    if text is None:
        return None
    import json  # only here: exec and script have no JSON to read

    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not process_entry_is_text(data):
        return None
    role_arn = data.get("role_arn", "")
    if data["account"] != account_name or data["role"] != wanted:
        return None
    expires_at = _epoch_seconds(data["expiration"])
    current = time.time() if now is None else now
    if expires_at is None or expires_at - current < PROCESS_REFRESH_MARGIN_SECONDS:
        return None
    if wanted and not role_matches(role_arn, wanted):
        return None
    return CachedCredentials(
        account_name=account_name,
        profile="",
        access_key_id=data["access_key_id"],
        secret_access_key=data["secret_access_key"],
        session_token=data["session_token"],
        expires_at=expires_at,
        role_arn=role_arn,
        region=None,
    )


def process_output(
    account_name: str,
    *,
    role: str | None = None,
    config: str | None = None,
    environ: Mapping[str, str] = os.environ,
    now: float | None = None,
) -> str | None:
    """What ``jcsaml credential-process`` prints from its cache (without the line break),
    exactly as :func:`jcsaml.process_cache.cached_process_output` gives it, or None to decline
    (see :func:`process_credentials`)."""
    found = process_credentials(account_name, role=role, config=config, environ=environ, now=now)
    if found is None:
        return None
    import json

    return json.dumps(found.to_credential_process())


#: A credential-process cache entry's fields, each text as jcsaml writes it; the optional ones
#: may be missing.
PROCESS_ENTRY_FIELDS = (
    "account",
    "role",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "expiration",
)
PROCESS_ENTRY_OPTIONAL_FIELDS = ("role_arn", "assumed_role_arn")


def process_entry_is_text(data: object) -> bool:
    """Whether ``data`` (a parsed cache entry) has its fields, all text: anything else was not
    written by jcsaml, and no value of it is ever handed to the AWS tools."""
    return (
        isinstance(data, dict)
        and all(isinstance(data.get(key), str) for key in PROCESS_ENTRY_FIELDS)
        and all(isinstance(data.get(key, ""), str) for key in PROCESS_ENTRY_OPTIONAL_FIELDS)
    )


def process_cache_name(account: str, role: str) -> str:
    """The name of the credential-process cache file for ``account`` and ``role`` (the one
    :mod:`jcsaml.process_cache` writes)."""
    from hashlib import sha256

    digest = sha256(f"{account}\0{role}".encode()).hexdigest()[:32]
    return f"{digest}.json"


def _read_cache_file(directory: str, name: str, environ: Mapping[str, str]) -> str | None:
    """The cache entry as the full reader reads it (:mod:`jcsaml.process_cache`): in a directory
    that :mod:`jcsaml.safe_directory` accepts, a small regular file of the user's; else None."""
    from jcsaml.safe_directory import open_directory, read_private_file

    try:
        fd = open_directory(directory, purpose="", environ=environ)
    except Exception:  # unsafe or missing: the full path says so, or signs in
        return None
    try:
        raw = read_private_file(fd, name, limit=PROCESS_CACHE_ENTRY_BYTES)
    finally:
        os.close(fd)
    try:
        return raw.decode("utf-8") if raw is not None else None
    except ValueError:
        return None


def process_cache_directory(environ: Mapping[str, str]) -> str | None:
    """``$XDG_CACHE_HOME/jcsaml/credential-process``, else ``~/.cache/...`` (``~`` is ``HOME``
    from ``environ``; None without one). A relative XDG_CACHE_HOME is ignored, as the XDG
    specification says."""
    configured = environ.get("XDG_CACHE_HOME", "")
    if configured and os.path.isabs(configured):
        base = configured
    else:
        home = environ.get("HOME")
        if not home:
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "jcsaml", "credential-process")


def exec_region(
    found: CachedCredentials, environ: Mapping[str, str] = os.environ
) -> tuple[bool, str | None]:
    """The region ``jcsaml exec`` gives the command (as :func:`jcsaml.aws_config.child_region`
    chooses it): ``(True, region or None)``, or ``(False, None)`` to decline.

    The credentials' or the account's own region, else ``AWS_REGION``/``AWS_DEFAULT_REGION``,
    else the profile's ``region`` in the AWS config file (None when that file is unreadable).
    """
    chosen = (
        found.region
        or found.account_region
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
    )
    if chosen:
        return True, chosen
    path = _aws_path(environ.get("AWS_CONFIG_FILE", "") or "~/.aws/config", environ)
    if path is None:
        return False, None
    try:
        document = read_ini(path)
    except (OSError, ValueError):
        return True, None
    if document is None:
        return True, None
    names = document.sections()
    if any(c in name for name in names for c in "'\"\\"):
        return False, None  # quoting: botocore reads these names with shlex
    found_name = None
    for name in names:
        words = _SHELL_SPACE.split(name.strip(" \t\r\n"))
        if words == ["profile", found.profile]:
            found_name = name
            break
        if found.profile == "default" and name == "default":
            found_name = name
    section = document.section(found_name) if found_name is not None else None
    return True, ((section or {}).get("region", "").strip() or None)


def _valid_profile(profile: str) -> bool:
    """True only when :func:`jcsaml.credentials_file.validate_profile_name` surely accepts it."""
    return profile != "DEFAULT" and is_safe_name(profile)


def _section(path: str, name: str, *, config: bool = False) -> dict[str, str] | None:
    """The section, read as the full CLI reads that file (the config file with inline
    comments), or None."""
    try:
        document = read_ini(path, inline_comments=config)
    except (OSError, ValueError):
        return None
    return None if document is None else document.section(name)


def _credentials_path(configured: str, environ: Mapping[str, str]) -> str | None:
    """As :func:`jcsaml.signin.credentials_path`; None for ``$VARIABLES`` and ``~user``."""
    if configured:
        return home_path(configured, environ)
    return _aws_path(
        environ.get("AWS_SHARED_CREDENTIALS_FILE", "") or "~/.aws/credentials", environ
    )


def _aws_path(path: str, environ: Mapping[str, str]) -> str | None:
    """As ``jcsaml.credentials_file.expand_aws_path``; None for ``$VARIABLES`` and ``~user``."""
    if "$" in path or (path.startswith("~") and not path.startswith("~/")):
        return None
    return home_path(path, environ)


def _valid_account(name: str, section: Mapping[str, str]) -> bool:
    """True only when :func:`jcsaml.config.load_account` surely accepts the section."""
    if not name or name == "DEFAULT" or any(c in name for c in "[]\n\r"):
        return False
    if not (name == name.strip() and name.isprintable()):
        return False
    values = {key: value.strip() for key, value in section.items() if key in KEYS}
    if any("\n" in value for value in values.values()):
        return False  # a continued value: the full CLI refuses it
    if not values.get("url"):
        return False
    return all(_LIGHT_CHECKS[KEYS[key]](value) for key, value in values.items() if value)


def _is_app_url(value: str) -> bool:
    url = _HTTPS_URL.fullmatch(value)
    return url is not None and "/saml2/" in (url.group("path") or "")


def _are_policy_arns(value: str) -> bool:
    arns = config_keys.split_policy_arns(value)
    return len(arns) <= config_keys.MAX_POLICY_ARNS and all(map(policy_partition, arns))


#: The light reader's check of each kind of value in the table: the full reader's own check,
#: or (for URLs and templates, which it parses with heavier modules) a subset of what it takes.
_LIGHT_CHECKS: dict[str, Callable[[str], object]] = {
    config_keys.TEXT: bool,
    config_keys.APP_URL: _is_app_url,
    config_keys.URL: _HTTPS_URL.fullmatch,
    config_keys.MFA: config_keys.canonical_mfa,
    config_keys.ROLE: config_keys.is_role,
    config_keys.PROFILE: _valid_profile,
    config_keys.REGION: config_keys.is_region_name,
    config_keys.DURATION: config_keys.session_seconds,
    config_keys.FINGERPRINT: config_keys.fingerprint,
    config_keys.BOOLEAN: lambda value: config_keys.boolean(value) is not None,
    config_keys.SECONDS: config_keys.timeout_seconds,
    config_keys.ALIASES: lambda value: all(
        config_keys.alias_pair(item) for item in value.split(",") if item.strip()
    ),
    config_keys.TEMPLATE: _PROFILE_TEMPLATE.fullmatch,
    config_keys.POLICIES: _are_policy_arns,
}


def _credentials(
    account_name: str, profile: str, values: Mapping[str, str]
) -> CachedCredentials | None:
    """As ``jcsaml.credentials_file._credentials_from``, for the timestamps it vouches for."""
    access_key_id = values.get("aws_access_key_id")
    secret_access_key = values.get("aws_secret_access_key")
    session_token = values.get("aws_session_token") or values.get("aws_security_token")
    expires_at = _epoch_seconds(values.get("x_security_token_expires", ""))
    if not (access_key_id and secret_access_key and session_token and expires_at is not None):
        return None
    role_arn, _ = principal_roles(values.get("x_principal_arn", ""))
    return CachedCredentials(
        account_name=account_name,
        profile=profile,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
        expires_at=expires_at,
        role_arn=role_arn,
        region=values.get("region") or None,
    )


def _epoch_seconds(text: str) -> float | None:
    """``YYYY-MM-DDTHH:MM:SS`` with ``Z`` or ``±HH:MM``, as seconds since the epoch; None for
    anything else (which ``datetime.fromisoformat`` may still read: the full path decides)."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    month_days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not (
        1970 <= year <= 9998
        and 1 <= month <= 12
        and 1 <= day <= month_days[month - 1]
        and hour <= 23
        and minute <= 59
        and second <= 59
    ):
        return None
    offset = 0
    if match.group(7):
        offset_hours, offset_minutes = int(match.group(8)), int(match.group(9))
        if offset_hours > 23 or offset_minutes > 59:
            return None
        offset = (offset_hours * 3600 + offset_minutes * 60) * (1 if match.group(7) == "+" else -1)
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
