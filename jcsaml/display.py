"""Text from outside (JumpCloud's answers, SAML assertions) made safe to show on a terminal.

A server or a forged assertion can put terminal escape sequences (which retitle the window, move
the cursor or erase the line) and Unicode bidi overrides (which reorder what is read) into a value
jcsaml quotes. :func:`printable` writes each such character as a visible escape instead.

On the hot path: standard library only.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the bidi marks, embeddings, overrides and isolates, and the Unicode
# line and paragraph separators (a message must stay on one line).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control and bidi characters written as ``\\xNN`` / ``\\uNNNN`` escapes."""
    return _UNSAFE.sub(_escape, text)
