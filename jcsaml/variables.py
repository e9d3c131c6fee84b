"""The environment variables that give jcsaml's inputs, and saml2aws's names for the same ones.

A CI job written for saml2aws sets ``SAML2AWS_USERNAME``, ``SAML2AWS_PASSWORD`` and
``SAML2AWS_MFA_TOKEN``; jcsaml reads them with the meaning saml2aws gives them. Where jcsaml has
its own variable (``JCSAML_USERNAME`` ...), that one wins when both are set.

On the hot path of ``jcsaml exec``: nothing but ``typing`` imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

#: What each input is called: (jcsaml's variable or None, saml2aws's variable).
VARIABLES: dict[str, tuple[str | None, str]] = {
    "idp_account": ("JCSAML_IDP_ACCOUNT", "SAML2AWS_IDP_ACCOUNT"),
    "config": ("JCSAML_CONFIG", "SAML2AWS_CONFIGFILE"),
    "username": ("JCSAML_USERNAME", "SAML2AWS_USERNAME"),
    "password": ("JCSAML_PASSWORD", "SAML2AWS_PASSWORD"),
    "mfa_token": ("JCSAML_MFA_TOKEN", "SAML2AWS_MFA_TOKEN"),
    "role": ("JCSAML_ROLE", "SAML2AWS_ROLE"),
    "profile": (None, "SAML2AWS_PROFILE"),
    "session_duration": (None, "SAML2AWS_SESSION_DURATION"),
    "region": (None, "SAML2AWS_REGION"),
    "url": (None, "SAML2AWS_URL"),
    "mfa": (None, "SAML2AWS_MFA"),
    "idp_provider": (None, "SAML2AWS_IDP_PROVIDER"),
    "aws_urn": (None, "SAML2AWS_AWS_URN"),
    "skip_verify": (None, "SAML2AWS_SKIP_VERIFY"),
    "disable_keychain": (None, "SAML2AWS_DISABLE_KEYCHAIN"),
    "credentials_file": (None, "SAML2AWS_CREDENTIALS_FILE"),
    "exec_profile": (None, "SAML2AWS_EXEC_PROFILE"),
    "policy_file": (None, "SAML2AWS_POLICY_FILE"),
    "policy_arns": (None, "SAML2AWS_POLICY_ARNS"),
}
#: Inputs whose value is a secret: their values are never shown, only the variable's name.
SECRETS = frozenset({"password", "mfa_token"})

#: saml2aws variables that matter only for a sign-in or that the exec/script/credential-process
#: fast path reads itself: any other SAML2AWS_* variable sends a cached run to the full CLI.
FAST_PATH_SAFE = frozenset(
    {
        "SAML2AWS_IDP_ACCOUNT",
        "SAML2AWS_CONFIGFILE",
        "SAML2AWS_ROLE",
        "SAML2AWS_PROFILE",
        "SAML2AWS_USERNAME",
        "SAML2AWS_PASSWORD",
        "SAML2AWS_MFA_TOKEN",
        "SAML2AWS_MFA",
        "SAML2AWS_URL",
        "SAML2AWS_SESSION_DURATION",
        "SAML2AWS_DISABLE_KEYCHAIN",
    }
)

_TRUE = ("1", "t", "true", "yes", "on")


def lookup(name: str, environ: Mapping[str, str]) -> str | None:
    """The input ``name`` from the environment: jcsaml's variable, else saml2aws's; an empty
    value counts as unset."""
    own, theirs = VARIABLES[name]
    return (environ.get(own) if own else None) or environ.get(theirs) or None


def source(name: str, environ: Mapping[str, str]) -> str | None:
    """Which variable :func:`lookup` took ``name`` from (None: neither is set)."""
    own, theirs = VARIABLES[name]
    if own and environ.get(own):
        return own
    return theirs if environ.get(theirs) else None


def flag(name: str, environ: Mapping[str, str]) -> bool:
    """A boolean saml2aws variable (Go's strconv.ParseBool spellings, and yes/on)."""
    value = lookup(name, environ)
    return bool(value) and value.strip().lower() in _TRUE  # type: ignore[union-attr]


def describe_sources(environ: Mapping[str, str]) -> list[str]:
    """One line per input given by a variable, for ``--debug``: which variable was used and
    which was ignored. Never a value."""
    lines = []
    for name, (own, theirs) in VARIABLES.items():
        used = source(name, environ)
        if used is None:
            continue
        line = f"{name.replace('_', '-')} from {used}"
        if used == own and environ.get(theirs):
            line += f" ({theirs} is also set and ignored: {own} wins)"
        lines.append(line)
    return lines


def fast_path_unsafe(environ: Mapping[str, str]) -> bool:
    """True when a saml2aws variable is set that the fast path does not read."""
    return any(
        key.startswith("SAML2AWS_") and value and key not in FAST_PATH_SAFE
        for key, value in environ.items()
    )
