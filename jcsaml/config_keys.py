"""The keys of an IdP account's section in the jcsaml config file, in one table that both
readers use: the full one (:mod:`jcsaml.config`, which raises an error naming the key) and the
light lookup (:mod:`jcsaml.light_lookup`, which declines to the full one when in doubt). Each key
has a kind of value, which says how it is checked; the small checks both readers make are here.

Standard library only (``re``, patterns compiled on first use): the light lookup imports this
on the way to every cached ``jcsaml exec``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from jcsaml.partitions import is_role_arn

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_CONSOLE_URL = "https://console.jumpcloud.com"
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_PUSH_TIMEOUT = 120.0
DEFAULT_STS_TIMEOUT = 30.0
MFA_CHOICES = ("Auto", "TOTP", "PUSH", "WEBAUTHN")
#: The session lengths AWS allows (SessionDuration, DurationSeconds), in seconds.
MIN_SESSION_DURATION = 900
MAX_SESSION_DURATION = 43200
#: The bounds of ``http_timeout``, ``push_timeout`` and ``sts_timeout``, in seconds.
MIN_TIMEOUT = 1
MAX_TIMEOUT = 3600
#: STS takes at most this many session policy ARNs.
MAX_POLICY_ARNS = 10
#: Profile-name fields a ``profile_template`` may use.
TEMPLATE_FIELDS = ("account", "account_id", "role", "idp_account")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# The kinds of value.
TEXT = "text"
APP_URL = "app url"  # the JumpCloud SAML application: an https URL with /saml2/ in its path
URL = "url"
MFA = "mfa"
ROLE = "role"
PROFILE = "profile"
REGION = "region"
DURATION = "duration"
FINGERPRINT = "fingerprint"
BOOLEAN = "boolean"
SECONDS = "seconds"
ALIASES = "aliases"
TEMPLATE = "template"
POLICIES = "policies"

#: Every key jcsaml reads from an account's section, in the order it writes them, and its kind
#: of value. Each holds a single line; any other key is ignored. The defaults are the fields of
#: :class:`jcsaml.config.Account`, from the constants above.
KEYS = {
    "url": APP_URL,
    "console_url": URL,
    "username": TEXT,
    "mfa": MFA,
    "role_arn": ROLE,
    "aws_profile": PROFILE,
    "region": REGION,
    "aws_session_duration": DURATION,
    "credentials_file": TEXT,
    "idp_cert": TEXT,
    "idp_cert_sha256": FINGERPRINT,
    "saml_nameid": TEXT,
    "allow_sha1": BOOLEAN,
    "allow_unsigned": BOOLEAN,
    "kill_on_exit": BOOLEAN,
    "http_timeout": SECONDS,
    "push_timeout": SECONDS,
    "federation_url": URL,
    "account_aliases": ALIASES,
    "sts_timeout": SECONDS,
    "profile_template": TEMPLATE,
    "policy_arns": POLICIES,
    "policy_file": TEXT,
    "password_command": TEXT,
    "mfa_command": TEXT,
}

#: AWS's region syntax (us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1), plus the
#: sovereign-cloud prefix ``eusc``. A region is a host label of the URLs built from it.
_REGION = r"(?:[a-z]{2}|eusc)(?:-[a-z0-9]+)+-[0-9]+"
_ROLE_NAME = r"[\w+=,.@-]{1,64}"
_SHA256 = r"[0-9a-f]{64}"
_POLICY_SEPARATOR = r"[,\s]+"


def is_region_name(text: str) -> bool:
    """True when ``text`` has AWS's region syntax."""
    return re.fullmatch(_REGION, text, re.ASCII) is not None


def is_role(text: str) -> bool:
    """A role ARN, or a role name as ``--role`` takes it (matched at sign-in)."""
    if text.startswith("arn:"):
        return is_role_arn(text)
    return re.fullmatch(_ROLE_NAME, text, re.ASCII) is not None


def fingerprint(text: str) -> str | None:
    """A SHA-256 fingerprint as 64 lowercase hex digits (colons, openssl's form, allowed), or
    None when ``text`` is none."""
    digits = text.replace(":", "").strip().lower()
    return digits if re.fullmatch(_SHA256, digits, re.ASCII) else None


def canonical_mfa(text: str) -> str | None:
    """The ``mfa`` choice ``text`` names, in its canonical spelling, whatever the case."""
    return next((choice for choice in MFA_CHOICES if text.lower() == choice.lower()), None)


def boolean(text: str) -> bool | None:
    """``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0``/empty; None otherwise."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    return False if lowered in _FALSE else None


def session_seconds(text: str) -> int | None:
    """A session length as a whole number of seconds AWS allows, or None."""
    try:
        seconds = int(text)
    except ValueError:
        return None
    return seconds if MIN_SESSION_DURATION <= seconds <= MAX_SESSION_DURATION else None


def timeout_seconds(text: str) -> float | None:
    """A timeout as a number of seconds within the bounds, or None."""
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if MIN_TIMEOUT <= seconds <= MAX_TIMEOUT else None


def alias_pair(item: str) -> tuple[str, str] | None:
    """``012345678987:acme-prod`` -> (account id, alias), or None when it is not that."""
    account_id, _, alias = (part.strip() for part in item.partition(":"))
    return (account_id, alias) if len(account_id) == 12 and account_id.isdigit() and alias else None


def split_policy_arns(text: str) -> list[str]:
    """The words of a ``policy_arns`` value, separated by commas or spaces."""
    return [part for part in re.split(_POLICY_SEPARATOR, text.strip()) if part]


def home_path(path: str, environ: Mapping[str, str]) -> str | None:
    """``path`` with a leading ``~`` read as the HOME of ``environ`` (so tests and tools can
    point it elsewhere); None when that has no HOME (the full reader then asks the password
    database)."""
    if not path.startswith("~"):
        return path
    home = environ.get("HOME")
    return home + path[1:] if home else None
