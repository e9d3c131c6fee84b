"""The names jcsaml writes: IdP accounts, account groups and AWS profiles.

A name ends up in INI section headers, in shell completion, in Firefox container names and in
the messages jcsaml prints, so it is limited to a set that means nothing special to any of them:
ASCII letters and digits and ``. _ - @ + = ,`` (the characters IAM allows in role names, and a
profile name the AWS CLI reads back as written, with no quoting).

On the hot path: standard library only.
"""

from __future__ import annotations

import re

#: The documented set, as one character class.
NAME_CHARACTERS = "A-Za-z0-9._@+=,-"
#: Long enough for any ``{account}-{role}`` profile (an alias is at most 63, a role 64).
MAX_NAME_LENGTH = 200

_NAME = re.compile(f"[{NAME_CHARACTERS}]{{1,{MAX_NAME_LENGTH}}}", re.ASCII)

RULE = "letters, digits and . _ - @ + = , only"


def is_safe_name(name: str) -> bool:
    """True when ``name`` is in the documented set (and not too long)."""
    return _NAME.fullmatch(name) is not None
