"""The ``jcsaml`` command: argument parsing, rendering, and turning errors into exit statuses.

This is the only place that prints or exits. Each command lives in its own module with
``add_parser(subparsers, parents)`` and ``run(args, ctx) -> int``; heavy imports happen inside
``run`` so that ``exec`` and ``credential-process`` start fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from jcsaml.cli import (
    completion,
    configure,
    console,
    credential_process,
    exec_command,
    list_roles,
    login,
    logout,
    script,
    setup,
    status,
)
from jcsaml.display import printable
from jcsaml.errors import JcsamlError

if TYPE_CHECKING:
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
    logout,
    setup,
    completion,
)


@dataclass
class Context:
    """What a command may touch: streams and environment, injectable for tests."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    #: The security key for WebAuthn; None means the real USB/NFC keys (tests pass a software one).
    webauthn_device: WebAuthnDevice | None = None

    deferred: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        print(f"jcsaml: warning: {printable(message)}", file=self.stderr)

    def warn_after_success(self, message: str) -> None:
        """A warning about something that doesn't stop the command (no keyring, say): shown once
        the command has succeeded, so a failure still ends in one error line."""
        if message not in self.deferred:
            self.deferred.append(message)


def common_options(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """Options every command takes, after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-a",
        "--idp-account",
        default=environ.get("JCSAML_IDP_ACCOUNT") or "default",
        metavar="NAME",
        help="IdP account (config section) to use [env JCSAML_IDP_ACCOUNT, default: default]",
    )
    common.add_argument(
        "--config", metavar="PATH", help="config file [env JCSAML_CONFIG, default: ~/.jcsaml]"
    )
    common.add_argument(
        "--debug", action="store_true", help="log each step and show tracebacks (never secrets)"
    )
    return common


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jcsaml",
        description="Sign in to JumpCloud and get temporary AWS credentials through SAML.",
        epilog="Run 'jcsaml COMMAND --help' for a command's options.",
    )
    from jcsaml import __version__

    parser.add_argument("--version", action="version", version=f"jcsaml {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = [common_options(environ)]
    for command in COMMANDS:
        command.add_parser(subparsers, parents, environ)
    return parser


def main(argv: Sequence[str] | None = None, *, context: Context | None = None) -> int:
    """Run the CLI; returns the exit status instead of exiting."""
    ctx = context or Context()
    parser = build_parser(ctx.environ)
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help, --version (0) and usage errors (2)
        return int(exc.code) if isinstance(exc.code, int) else 2
    debug = bool(getattr(args, "debug", False))
    if debug:
        _enable_debug_logging(ctx.stderr)
    try:
        status: int = args.run(args, ctx)
        for message in ctx.deferred:
            ctx.warn(message)
        return status
    except JcsamlError as exc:
        if debug:
            logging.getLogger("jcsaml").debug("error", exc_info=True)
        print(f"jcsaml: error: {_for_account(str(exc), args)}", file=ctx.stderr)
        return 1
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


def _for_account(message: str, args: argparse.Namespace) -> str:
    """Library messages say ``-a NAME``; the CLI knows the account the user is working on."""
    account = getattr(args, "idp_account", None)
    return message.replace(" -a NAME ", f" -a {account} ") if account else message


class _PrintableFormatter(logging.Formatter):
    """Debug lines can quote server text: escape control and bidi characters, keeping the line
    breaks of a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().format(record).split("\n"))


def _enable_debug_logging(stream: TextIO) -> None:
    # Only jcsaml's own logger: botocore's debug output would include the SAML assertion.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_PrintableFormatter("jcsaml: debug: %(name)s: %(message)s"))
    logger = logging.getLogger("jcsaml")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def run() -> None:
    """The console script."""
    sys.exit(main())
