"""Text from outside (JumpCloud's answers, SAML assertions) made safe to show on a terminal.

A server or a forged assertion can put terminal escape sequences (which retitle the window, move
the cursor or erase the line) and Unicode bidi overrides (which reorder what is read) into a value
jcsaml quotes. :func:`printable` writes each such character as a visible escape instead.

On the hot path: standard library only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterable

# C0 and C1 controls, DEL, the bidi marks, embeddings, overrides and isolates, and the Unicode
# line and paragraph separators (a message must stay on one line).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control and bidi characters written as ``\\xNN`` / ``\\uNNNN`` escapes."""
    return _UNSAFE.sub(_escape, text)


# The same set without the line feed and the tab: what a multi-line text may keep.
_UNSAFE_IN_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def printable_text(text: str) -> str:
    """:func:`printable` for text of several lines: line feeds and tabs are kept."""
    return _UNSAFE_IN_TEXT.sub(_escape, text)


def write_printable(stream: TextIO, text: str) -> None:
    """The one way jcsaml's commands print, on stdout and on stderr: ``text`` with every
    control, C1 and bidi character written as an escape (line feeds and tabs kept). Names,
    labels and messages that came from JumpCloud, a config file, an import or AWS can then
    never drive the terminal. Text of only ordinary characters is written unchanged."""
    stream.write(printable_text(text))


class PrintableStream:
    """A text stream whose every write goes through :func:`write_printable`: the ``jcsaml``
    command hands these to every command as its stdout and stderr, so that ``print(...,
    file=ctx.stdout)`` is escaped wherever it is. ``raw`` is the stream underneath, for the
    terminal library that draws prompts with escape sequences of its own."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        write_printable(self.raw, text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def printable_stream(stream: TextIO) -> TextIO:
    """``stream`` wrapped in a :class:`PrintableStream` (once)."""
    if isinstance(stream, PrintableStream):
        return stream
    wrapped: TextIO = PrintableStream(stream)  # type: ignore[assignment]  # duck-typed
    return wrapped


def raw_stream(stream: TextIO) -> TextIO:
    """The stream under a :class:`PrintableStream`, or ``stream`` itself."""
    return stream.raw if isinstance(stream, PrintableStream) else stream
