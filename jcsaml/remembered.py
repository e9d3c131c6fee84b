"""What jcsaml remembers between runs that is no secret: notices already given, and the role
chosen last for each account (the role picker's default).

One small text file in the user's state directory (``$XDG_STATE_HOME/jcsaml/notices``, else
``~/.local/state/jcsaml/notices``), a line per fact. Losing it only means a notice comes again.
Standard library only: read on the hot path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from jcsaml.config import expand_home
from jcsaml.private_file import write_private_file

_LAST_ROLE = "last-role"


def notices_path(environ: Mapping[str, str] = os.environ) -> Path:
    state = environ.get("XDG_STATE_HOME") or "~/.local/state"
    return expand_home(state, environ) / "jcsaml" / "notices"


def _lines(environ: Mapping[str, str]) -> list[str]:
    try:
        return notices_path(environ).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []  # nothing remembered yet, or unreadable: the same for every caller


def _write(lines: list[str], environ: Mapping[str, str]) -> None:
    path = notices_path(environ)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_file(path, "".join(line + "\n" for line in lines).encode("utf-8"))
    except OSError:
        pass  # a read-only home only means the notice comes again next time


def given(notice: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``notice`` (one line of text, no secret) was remembered before."""
    return notice in _lines(environ)


def remember(notice: str, environ: Mapping[str, str] = os.environ) -> None:
    lines = _lines(environ)
    if notice not in lines:
        _write([*lines, notice], environ)


def once(notice: str, environ: Mapping[str, str] = os.environ) -> bool:
    """True the first time for ``notice`` on this machine, and remembers it."""
    if given(notice, environ):
        return False
    remember(notice, environ)
    return True


def last_role(account: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The role ARN chosen last time for ``account``, if remembered."""
    prefix = f"{_LAST_ROLE}\t{account}\t"
    for line in _lines(environ):
        if line.startswith(prefix):
            return line[len(prefix) :] or None
    return None


def remember_role(account: str, role_arn: str, environ: Mapping[str, str] = os.environ) -> None:
    prefix = f"{_LAST_ROLE}\t{account}\t"
    lines = [line for line in _lines(environ) if not line.startswith(prefix)]
    if "\n" not in account + role_arn:
        _write([*lines, prefix + role_arn], environ)
