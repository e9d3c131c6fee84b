"""The ``jcsaml`` command: argument parsing, rendering, and turning errors into exit statuses.

The library below this package never prints or exits: the command modules here render what it
returns and raises, and :func:`main` turns errors into one line and an exit status. Each command
lives in its own module with its ``NAME``, ``HELP``, ``DESCRIPTION``, ``add_arguments(parser,
environ)`` and ``run(args, ctx) -> int``; heavy imports happen inside ``run``. So do its
imports of jcsaml's library modules, measured to matter: every command's parser is built for
``--help``, ``configure`` and ``status`` alike, and with the library imported at the top of
each command module ``--help`` took 148 ms instead of 81 ms (``benchmarks/bench.py``). ``main(argv,
context=)`` is the full entry point; the console script is :func:`jcsaml.launcher.run`, which
answers ``exec``, ``script`` and ``credential-process`` with valid cached credentials itself and
hands everything else here.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from jcsaml.cli import (
    completion,
    configure,
    console,
    credential_process,
    doctor,
    exec_command,
    list_roles,
    login,
    logout,
    script,
    setup,
    status,
)
from jcsaml.cli import help as help_command
from jcsaml.display import printable, printable_stream, raw_stream
from jcsaml.errors import JcsamlError

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from jcsaml.prompter import Prompter
    from jcsaml.webauthn import WebAuthnDevice

COMMANDS = (
    configure,
    login,
    exec_command,
    script,
    credential_process,
    console,
    list_roles,
    status,
    doctor,
    logout,
    setup,
    help_command,
    completion,
)

#: Library messages name the keyword argument that gives an input; the command line gives the
#: same inputs as these flags and variables.
CLI_INPUTS = {
    "pass username=...": "pass --username or set JCSAML_USERNAME (or SAML2AWS_USERNAME)",
    "pass password=...": "pass --password or set JCSAML_PASSWORD (or SAML2AWS_PASSWORD)",
    "pass mfa_token=...": "pass --mfa-token or set JCSAML_MFA_TOKEN (or SAML2AWS_MFA_TOKEN)",
    "pass role=...": "pass --role or set JCSAML_ROLE (or SAML2AWS_ROLE)",
    "set the account's mfa": "set the factor with jcsaml configure -a NAME --mfa",
}


@dataclass
class Context:
    """What a command may touch: streams and environment, injectable for tests."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    #: The security key for WebAuthn; None means the real USB/NFC keys (tests pass a software one).
    webauthn_device: WebAuthnDevice | None = None
    #: The terminal prompt_toolkit asks on; None means the real one (tests pass a pipe input).
    terminal_input: Input | None = None
    terminal_output: Output | None = None

    #: --disable-keychain (or SAML2AWS_DISABLE_KEYCHAIN): the OS keyring is not used.
    disable_keychain: bool = False

    #: Warnings to show once the command has succeeded, each with its once-per-machine key.
    deferred: list[tuple[str, str | None]] = field(default_factory=list)

    def warn(self, message: str) -> None:
        print(f"jcsaml: warning: {printable(message)}", file=self.stderr)

    def prompter(self, skip_prompt: bool) -> Prompter:
        """``--skip-prompt``: one that never asks; else the terminal."""
        from jcsaml.prompter import NonInteractivePrompter, TerminalPrompter

        if skip_prompt:
            return NonInteractivePrompter(self.stderr)
        return TerminalPrompter(
            stdin=self.stdin,
            # The prompt library draws with escape sequences of its own; what it shows of
            # outside values, the prompter escapes.
            stderr=raw_stream(self.stderr),
            terminal_input=self.terminal_input,
            terminal_output=self.terminal_output,
        )

    def warn_after_success(self, message: str, *, once: str | None = None) -> None:
        """A warning about something that doesn't stop the command (no keyring, say): shown once
        the command has succeeded, so a failure still ends in one error line. With ``once``,
        shown only the first time on this machine (remembered with the notices)."""
        if all(message != known for known, _ in self.deferred):
            self.deferred.append((message, once))

    def show_deferred(self) -> None:
        from jcsaml import remembered

        for message, once in self.deferred:
            if once is None or remembered.once(once, self.environ):
                self.warn(message)
        self.deferred.clear()


def common_defaults(environ: Mapping[str, str]) -> dict[str, object]:
    from jcsaml.variables import lookup

    return {
        "idp_account": lookup("idp_account", environ) or "default",
        "config": None,
        "debug": False,
    }


def common_options(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """Options every command takes, before or after the command name. Their defaults are
    filled in after parsing (``common_defaults``): a default set by the command's parser would
    overwrite a value given before the command."""
    from jcsaml.cli.options import RepeatableValue

    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "-a",
        "--idp-account",
        action=RepeatableValue,
        metavar="NAME",
        help="IdP account (config section) to use [env JCSAML_IDP_ACCOUNT or "
        "SAML2AWS_IDP_ACCOUNT, default: default]",
    )
    common.add_argument(
        "--config",
        metavar="PATH",
        help="config file [env JCSAML_CONFIG or SAML2AWS_CONFIGFILE, default: ~/.jcsaml]",
    )
    common.add_argument(
        "--debug",
        "--verbose",
        action="store_true",
        dest="debug",
        help="log each step and show tracebacks (never secrets)",
    )
    return common


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parents = [common_options(environ)]
    parser = argparse.ArgumentParser(
        prog="jcsaml",
        allow_abbrev=False,
        description="Sign in to JumpCloud and get temporary AWS credentials through SAML.",
        epilog="Run 'jcsaml COMMAND --help' for a command's options, 'jcsaml help' for the guides.",
        parents=parents,
    )
    from jcsaml import __version__

    parser.add_argument("--version", action="version", version=f"jcsaml {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        # A command module gives its NAME, HELP, DESCRIPTION, add_arguments and run; exec also
        # its USAGE_LINE, and setup takes no common options and has a run per subcommand.
        subparser = subparsers.add_parser(
            command.NAME,
            parents=parents if getattr(command, "COMMON_OPTIONS", True) else [],
            help=command.HELP,
            description=command.DESCRIPTION,
            usage=getattr(command, "USAGE_LINE", None),
        )
        command.add_arguments(subparser, environ)
        if hasattr(command, "run"):
            subparser.set_defaults(run=command.run)
    _no_abbreviations(parser)
    return parser


def _no_abbreviations(parser: argparse.ArgumentParser) -> None:
    """No prefix of a flag is ever read as the flag (``--mfa`` is not ``--mfa-token``), in
    every parser however deep."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _no_abbreviations(child)


def main(argv: Sequence[str] | None = None, *, context: Context | None = None) -> int:
    """Run the CLI; returns the exit status instead of exiting."""
    ctx = context or Context()
    # Every command prints through the one escaping writer (jcsaml.display.write_printable).
    ctx.stdout = printable_stream(ctx.stdout)
    ctx.stderr = printable_stream(ctx.stderr)
    parser = build_parser(ctx.environ)
    try:
        args = _parse(parser, list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help, --version (0) and usage errors (2)
        return int(exc.code) if isinstance(exc.code, int) else 2
    for key, value in common_defaults(ctx.environ).items():
        if not hasattr(args, key):
            setattr(args, key, value)
    from jcsaml.cli.saml2aws_flags import refusal
    from jcsaml.variables import flag

    refused = refusal(args, ctx.environ)
    if refused is not None:  # a saml2aws flag or variable jcsaml does not take: one line
        print(f"jcsaml: error: {refused}", file=ctx.stderr)
        return 2
    debug = bool(args.debug)
    if debug:
        _enable_debug_logging(ctx.stderr)
        from jcsaml.variables import describe_sources

        for line in describe_sources(ctx.environ):
            logging.getLogger("jcsaml.variables").debug("%s", line)
    ctx.disable_keychain = bool(getattr(args, "disable_keychain", False)) or flag(
        "disable_keychain", ctx.environ
    )
    try:
        with _recording(args, ctx):
            status: int = args.run(args, ctx)
        ctx.show_deferred()
        return status
    except JcsamlError as exc:
        if debug:
            logging.getLogger("jcsaml").debug("error", exc_info=True)
        print(f"jcsaml: error: {render_message(str(exc), args)}{_hint(exc)}", file=ctx.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("\njcsaml: interrupted", file=ctx.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: one line unless --debug
        if debug:
            raise
        print(
            f"jcsaml: error: unexpected {type(exc).__name__}; run again with --debug for details",
            file=ctx.stderr,
        )
        return 1


@contextlib.contextmanager
def _recording(args: argparse.Namespace, ctx: Context) -> Iterator[None]:
    """``--record FILE``: the exchanges of the command's sign-in go to FILE (see
    :mod:`jcsaml.recording`); the note comes first, so it is shown however the command ends."""
    path = getattr(args, "record", None)
    if not path:
        yield
        return
    from jcsaml.errors import RecordingFileError
    from jcsaml.recording import NOT_CONTAINED, recording

    try:
        name = str(getattr(args.run, "__module__", "")).rsplit(".", 1)[-1]
        context = recording(path, command=name.removesuffix("_command").replace("_", "-"))
        context.__enter__()
    except OSError as exc:
        raise RecordingFileError(path=path, reason=exc.strerror or type(exc).__name__) from None
    print(
        f"jcsaml: note: recording the exchanges with JumpCloud to {printable(path)} (mode 0600); "
        f"it holds no {NOT_CONTAINED}",
        file=ctx.stderr,
    )
    try:
        yield
    finally:
        context.__exit__(None, None, None)


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse; an unknown option is reported with the usage of the command it was given to."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        command_parser = _parser_running(parser, getattr(args, "run", None))
        (command_parser or parser).error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _parser_running(parser: argparse.ArgumentParser, run: object) -> argparse.ArgumentParser | None:
    """The (sub)command parser whose ``run`` was chosen, however deep (``setup aws``). Found by
    its ``run`` rather than by name: ``exec`` keeps its COMMAND words under ``command`` too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found = _parser_running(child, run)
                if found is not None:
                    return found
    if run is not None and parser.get_default("run") is run:
        return parser
    return None


def _hint(exc: JcsamlError) -> str:
    """What to do, for the few library errors that cannot know the command line's way out."""
    from jcsaml.errors import PromptAbortedError

    if type(exc) is PromptAbortedError:  # Ctrl-D, or stdin ended (a pipe, cron, CI)
        return (
            "; answer it in a terminal, or give every input as a flag or variable and add "
            "--skip-prompt"
        )
    return ""


def render_message(message: str, args: argparse.Namespace | None = None) -> str:
    """A library message in the command line's words: flags and variables for keyword
    arguments, and the account the user is working on for ``-a NAME``."""
    for library, cli in CLI_INPUTS.items():
        message = message.replace(library, cli)
    account = getattr(args, "idp_account", None)
    return message.replace(" -a NAME ", f" -a {account} ") if account else message


class _PrintableFormatter(logging.Formatter):
    """Debug lines can quote server text: escape control and bidi characters, keeping the line
    breaks of a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().format(record).split("\n"))


class _DebugHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler ``--debug`` adds: a later main() in the same process replaces it."""


def _enable_debug_logging(stream: TextIO) -> None:
    # Only jcsaml's own logger: botocore's debug output would include the SAML assertion.
    logger = logging.getLogger("jcsaml")
    for earlier in [h for h in logger.handlers if isinstance(h, _DebugHandler)]:
        logger.removeHandler(earlier)
    handler = _DebugHandler(stream)
    handler.setFormatter(_PrintableFormatter("jcsaml: debug: %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
