"""Every question jcsaml asks a person.

Prompts and notices go to the terminal's stderr side, never stdout: ``credential-process`` and
``script`` own stdout. prompt_toolkit is imported only when a question is actually asked on a TTY.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeVar

from jcsaml.display import printable
from jcsaml.errors import InputRequiredError, PromptAbortedError

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

T = TypeVar("T")


class Prompter(Protocol):
    """Asks and tells. ``how`` says which flag or variable answers the question without a person."""

    def text(self, message: str, *, how: str, default: str = "") -> str: ...

    def secret(self, message: str, *, how: str) -> str: ...

    def choose(
        self, message: str, choices: Sequence[tuple[T, str]], *, how: str, default: T | None = None
    ) -> T:
        """One of ``choices`` (value, label); ``default`` is preselected when it is among them."""
        ...

    def notify(self, message: str) -> None:
        """Tell the person something; implementations escape control and bidi characters."""
        ...

    def progress(self, message: str | None) -> None:
        """A status line that replaces the previous one on a terminal; None ends it."""
        ...


class NonInteractivePrompter:
    """``--skip-prompt``: never asks; a missing answer is an error that names the way to give it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def text(self, message: str, *, how: str, default: str = "") -> str:
        if default:
            return default
        raise InputRequiredError(what=_what(message), how=how)

    def secret(self, message: str, *, how: str) -> str:
        raise InputRequiredError(what=_what(message), how=how)

    def choose(
        self, message: str, choices: Sequence[tuple[T, str]], *, how: str, default: T | None = None
    ) -> T:
        # A remembered default is not an answer: unattended runs must say what they want.
        if len(choices) == 1:
            return choices[0][0]
        raise InputRequiredError(what=_what(message), how=how)

    def notify(self, message: str) -> None:
        # Notices can quote JumpCloud's answers: escape what a terminal would act on.
        print(printable(message), file=self._stream or sys.stderr)

    def progress(self, message: str | None) -> None:
        return None  # no terminal to redraw: the notice before the wait says it all


def _what(message: str) -> str:
    """The thing asked for, from a prompt: "Role to assume [1-3]: " -> "Role to assume"."""
    return message.split(" [", 1)[0].split(" (", 1)[0].rstrip(" :?").strip() or "an answer"


class TerminalPrompter:
    """Asks on the terminal: prompt_toolkit on a TTY, plain lines when stdin is a pipe.

    ``terminal_input`` and ``terminal_output`` replace the TTY prompt_toolkit talks to (tests pass
    ``create_pipe_input()`` and a ``DummyOutput``); given, every question goes through them.
    """

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        stderr: TextIO | None = None,
        terminal_input: Input | None = None,
        terminal_output: Output | None = None,
    ) -> None:
        self._stdin = stdin
        self._stderr = stderr
        self._terminal_input = terminal_input
        self._terminal_output = terminal_output
        self._progressing = False

    @property
    def _in(self) -> TextIO:
        return self._stdin or sys.stdin

    @property
    def _err(self) -> TextIO:
        return self._stderr or sys.stderr

    def _interactive(self) -> bool:
        if self._terminal_input is not None:
            return True
        try:
            return self._in.isatty() and self._err.isatty()
        except (AttributeError, ValueError):
            return False

    def _ask(self, message: str, *, secret: bool, default: str = "") -> str:
        self._end_progress()
        if self._interactive():
            from prompt_toolkit import prompt

            with self._terminal(message):
                return prompt(message, is_password=secret, default=default)
        # A pipe: read one line, so scripts and tests can answer. Nothing is echoed back.
        self._err.write(message)
        self._err.flush()
        line = self._in.readline()
        self._err.write("\n")  # the answer is not echoed, so end the prompt's line here
        if not line:
            raise PromptAbortedError(what=_what(message))
        return line.rstrip("\r\n") or default

    def text(self, message: str, *, how: str, default: str = "") -> str:
        # As saml2aws asks: the default in brackets after the question, Enter takes it and
        # anything typed replaces it (never typed into the answer, where it would be appended to).
        shown = f"{message} [{default}]: " if default else f"{message}: "
        return self._ask(shown, secret=False) or default

    def is_terminal(self) -> bool:
        """Whether questions go to a person at a terminal (not lines read from a pipe)."""
        return self._interactive()

    def secret(self, message: str, *, how: str) -> str:
        return self._ask(f"{message}: ", secret=True)

    def choose(
        self, message: str, choices: Sequence[tuple[T, str]], *, how: str, default: T | None = None
    ) -> T:
        if len(choices) == 1:
            return choices[0][0]
        values = [value for value, _ in choices]
        preset = values.index(default) + 1 if default is not None and default in values else 0
        if self._interactive():
            return self._choose_list(message, choices, values[preset - 1] if preset else None)
        for number, (_, label) in enumerate(choices, 1):
            self._err.write(f"  {number}) {label}\n")
        shown = f"[1-{len(choices)}, Enter for {preset}]" if preset else f"[1-{len(choices)}]"
        while True:
            answer = self._ask(f"{message} {shown}: ", secret=False).strip()
            if not answer and preset:
                return values[preset - 1]
            if answer.isdigit() and 1 <= int(answer) <= len(choices):
                return values[int(answer) - 1]
            self._err.write(f"Please answer a number from 1 to {len(choices)}.\n")

    def _choose_list(self, message: str, choices: Sequence[tuple[T, str]], default: T | None) -> T:
        with self._terminal(message):
            return pick(message, choices, default)

    @contextlib.contextmanager
    def _terminal(self, message: str) -> Iterator[None]:
        """prompt_toolkit drawing on stderr; Ctrl-D becomes PromptAbortedError, Ctrl-C stays an
        interrupt (the CLI exits 130)."""
        from prompt_toolkit.application import create_app_session
        from prompt_toolkit.input import create_input
        from prompt_toolkit.output import create_output

        # Both ends explicit: credential-process talks to /dev/tty, not to stdin and stdout.
        session = create_app_session(
            input=self._terminal_input or create_input(stdin=self._in),
            output=self._terminal_output or create_output(stdout=self._err),
        )
        try:
            with session:
                yield
        except EOFError:
            raise PromptAbortedError(what=_what(message)) from None

    def notify(self, message: str) -> None:
        self._end_progress()
        print(printable(message), file=self._err)

    def progress(self, message: str | None) -> None:
        if message is None:
            self._end_progress()
        elif self._err.isatty():
            self._err.write("\r\x1b[K" + printable(message))
            self._err.flush()
            self._progressing = True

    def _end_progress(self) -> None:
        if self._progressing:
            self._err.write("\n")
            self._err.flush()
            self._progressing = False


PICKER_HINT = "up/down: move  type: filter by name  a number alone: that row  Enter: choose"


def picker_rows(choices: Sequence[tuple[T, str]], typed: str) -> list[int]:
    """The rows (indexes into ``choices``) the picker shows for the text typed: all of them for
    nothing or a number alone (which picks a row), else those whose label contains the text
    (any case). A digit inside a filter (``EC2``) is part of the filter."""
    text = typed.strip().casefold()
    if not text or text.isdigit():
        return list(range(len(choices)))
    return [i for i, (_, label) in enumerate(choices) if text in label.casefold()]


def pick(message: str, choices: Sequence[tuple[T, str]], default: T | None) -> T:
    """The role picker on a terminal (prompt_toolkit): a heading, a filter line, the rows with
    the default preselected, and a hint line. Enter takes the highlighted row, or the row
    whose number was typed alone. Ctrl-C interrupts; Ctrl-D raises EOFError."""
    from prompt_toolkit.application import Application
    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout import HSplit, Layout, Window
    from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl

    values = [value for value, _ in choices]
    start = values.index(default) if default is not None and default in values else 0
    state = {"row": start}
    typed = Buffer(multiline=False)

    def rows() -> list[int]:
        return picker_rows(choices, typed.text)

    def on_change(_: Buffer) -> None:
        shown = rows()
        state["row"] = start if start in shown else (shown[0] if shown else 0)

    typed.on_text_changed += on_change

    def lines() -> StyleAndTextTuples:
        shown = rows()
        out: StyleAndTextTuples = []
        for index in shown:
            mark = ">" if index == state["row"] else " "
            style = "reverse" if index == state["row"] else ""
            out.append((style, f"{mark} {index + 1:>2}) {choices[index][1]}\n"))
        if not shown:
            out.append(("", "  (no role matches; Backspace to widen the filter)\n"))
        return out

    keys = KeyBindings()

    @keys.add("up")
    def _up(event: object) -> None:
        shown = rows()
        if state["row"] in shown and shown.index(state["row"]) > 0:
            state["row"] = shown[shown.index(state["row"]) - 1]

    @keys.add("down")
    def _down(event: object) -> None:
        shown = rows()
        if state["row"] in shown and shown.index(state["row"]) < len(shown) - 1:
            state["row"] = shown[shown.index(state["row"]) + 1]

    @keys.add("enter")
    def _enter(event: Any) -> None:
        text = typed.text.strip()
        if text.isdigit():
            if 1 <= int(text) <= len(choices):
                event.app.exit(result=int(text) - 1)
            return
        if state["row"] in rows():
            event.app.exit(result=state["row"])

    @keys.add("c-c")
    def _interrupt(event: Any) -> None:
        event.app.exit(exception=KeyboardInterrupt())

    @keys.add("c-d")
    def _end(event: Any) -> None:
        event.app.exit(exception=EOFError())

    layout = Layout(
        HSplit(
            [
                Window(FormattedTextControl(message), height=1),
                Window(BufferControl(typed), height=1, get_line_prefix=lambda *_: "Filter: "),
                Window(FormattedTextControl(lines)),
                Window(FormattedTextControl(PICKER_HINT), height=1, style="italic"),
            ]
        ),
        focused_element=None,
    )
    application: Application[int] = Application(layout=layout, key_bindings=keys)
    application.layout.focus(typed)
    return values[application.run()]


def open_terminal() -> tuple[TextIO, TextIO] | None:
    """The controlling terminal (``/dev/tty``) to read from and write to, or None without one
    (run by an IDE, a daemon, CI): where questions go when stdout belongs to another program."""
    try:
        reader = open("/dev/tty", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    except OSError:
        return None
    try:
        writer = open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115
    except OSError:
        reader.close()
        return None
    return reader, writer
