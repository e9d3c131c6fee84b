"""Shell code that puts an account's credentials into the current shell (``jcsaml script``).

``eval "$(jcsaml script -a production)"`` sets the variables ``jcsaml exec`` gives its command,
plus ``JCSAML_PROFILE`` (the profile they came from), and unsets the ones that would make AWS
tools use other credentials. Every value is quoted for the shell it is meant for.

Standard library only: :func:`cached_script` is the whole command while the profile's
credentials stay valid. Importing it costs next to nothing (``os``, ``shlex``): the light entry
(:mod:`jcsaml.launcher`) renders ``jcsaml script``'s output with :func:`render` too.
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from jcsaml.environment import ExportableCredentials

__all__ = ["PROFILE_VARIABLE", "SHELLS", "cached_script", "render", "script_variables"]

SHELLS = ("bash", "zsh", "fish", "powershell", "env", "json")
PROFILE_VARIABLE = "JCSAML_PROFILE"


def script_variables(
    credentials: ExportableCredentials, *, profile: str, region: str | None
) -> dict[str, str]:
    """The variables to set: exec's (credentials, expiry, region) and the profile name."""
    variables = credentials.to_environment(region=region)
    variables[PROFILE_VARIABLE] = profile
    return variables


def _fish_quote(value: str) -> str:
    # Inside fish's single quotes only backslash and the quote itself are special.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _powershell_quote(value: str) -> str:
    # PowerShell single-quoted strings are literal; a quote is written twice. Its parser also
    # takes the typographic quotes as quotes, so those are doubled too.
    for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        value = value.replace(quote, quote * 2)
    return "'" + value + "'"


def render(assignments: Mapping[str, str], unset: Sequence[str], shell: str) -> str:
    """The text for ``shell`` (one of :data:`SHELLS`) that unsets ``unset`` and sets
    ``assignments``. ``env`` and ``json`` cannot unset anything: they only list the values.

    Raises ValueError for an unknown shell, or for ``env`` with a value holding a line break
    (that format has no quoting).
    """
    remove = [name for name in unset if name not in assignments]
    lines: list[str]
    if shell in ("bash", "zsh"):
        lines = [f"unset {name}" for name in remove]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in assignments.items()]
    elif shell == "fish":
        lines = [f"set -e {name}" for name in remove]
        lines += [f"set -gx {name} {_fish_quote(value)}" for name, value in assignments.items()]
    elif shell == "powershell":
        lines = [f"Remove-Item Env:{name} -ErrorAction SilentlyContinue" for name in remove]
        lines += [f"$Env:{name} = {_powershell_quote(v)}" for name, v in assignments.items()]
    elif shell == "env":
        if any("\n" in value or "\r" in value for value in assignments.values()):
            raise ValueError("a value holds a line break, which the env format cannot carry")
        lines = [f"{name}={value}" for name, value in assignments.items()]
    elif shell == "json":
        import json

        return json.dumps(dict(assignments), indent=2) + "\n"
    else:
        raise ValueError(f"unknown shell {shell!r}; choose one of {', '.join(SHELLS)}")
    return "".join(line + "\n" for line in lines)


def cached_script(
    account_name: str,
    *,
    shell: str,
    unset: Sequence[str],
    profile: str | None = None,
    role: str | None = None,
    config: str | None = None,
    environ: Mapping[str, str] = os.environ,
    now: datetime | None = None,
) -> str | None:
    """What ``jcsaml script`` prints while the profile holds credentials valid for more than
    5 minutes (for ``role`` when given); None when it must sign in first.

    Raises ConfigError subclasses, CredentialsFileError, or ValueError as :func:`render`.
    """
    from jcsaml.aws_config import child_region
    from jcsaml.config import config_path, load_account
    from jcsaml.credentials_file import CredentialsFile
    from jcsaml.signin import cached_credentials, credentials_path

    account = load_account(account_name, path=config_path(environ, config), environ=environ)
    chosen = profile or account.profile
    store = CredentialsFile(credentials_path(account, environ=environ))
    found = cached_credentials(store, chosen, role=role or account.role_arn or None, now=now)
    if found is None:
        return None
    region = child_region(chosen, own=found.region or account.region or None, environ=environ)
    return render(script_variables(found, profile=chosen, region=region), unset, shell)
