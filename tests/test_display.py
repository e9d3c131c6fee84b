"""Text from outside is escaped before it reaches a terminal: errors, notices, warnings, debug."""

from __future__ import annotations

import io
import logging

import pytest

from jcsaml.cli import Context, _enable_debug_logging
from jcsaml.display import printable
from jcsaml.errors import AuthenticationFailedError, IdpProtocolError
from jcsaml.prompter import NonInteractivePrompter, TerminalPrompter

HOSTILE = "Authentication failed.\x1b]0;owned\x07\x1b[2K\r\u202eevil\u2066\x9b\x00\n"
RAW = ("\x1b", "\x07", "\r", "\n", "\u202e", "\u2066", "\x9b", "\x00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text, ünïcødé and emoji 🙂", "plain text, ünïcødé and emoji 🙂"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("tab\there", "tab\\x09here"),
        ("\u202eabc\u200f", "\\u202eabc\\u200f"),
        ("line\u2028sep\x7f", "line\\u2028sep\\x7f"),
    ],
)
def test_printable(text: str, expected: str) -> None:
    assert printable(text) == expected


def test_every_error_message_is_escaped_and_keeps_the_raw_field() -> None:
    error = AuthenticationFailedError(message=HOSTILE)
    assert not any(raw in str(error) for raw in RAW)
    assert "\\x1b]0;owned\\x07" in str(error)
    assert error.message == HOSTILE
    assert not any(raw in str(IdpProtocolError(url="u", reason=HOSTILE)) for raw in RAW)


def test_notices_and_warnings_are_escaped() -> None:
    plain = io.StringIO()
    NonInteractivePrompter(plain).notify(HOSTILE)
    terminal = io.StringIO()
    TerminalPrompter(stdin=io.StringIO(), stderr=terminal).notify(HOSTILE)
    context = Context(stderr=io.StringIO())
    context.warn(HOSTILE)
    for stream in (plain, terminal, context.stderr):
        written = stream.getvalue()  # type: ignore[attr-defined]
        assert written.endswith("\n") and written.count("\n") == 1
        assert not any(raw in written[:-1] for raw in RAW)


def test_debug_lines_are_escaped() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("jcsaml")
    before = (list(logger.handlers), logger.level)
    try:
        _enable_debug_logging(stream)
        logging.getLogger("jcsaml.jumpcloud").debug("answer: %s", HOSTILE)
    finally:
        logger.handlers[:] = before[0]
        logger.setLevel(before[1])
    written = stream.getvalue()
    assert "jcsaml: debug: jcsaml.jumpcloud: answer: Authentication failed." in written
    assert not any(raw in written.rstrip("\n") for raw in RAW if raw != "\n")
