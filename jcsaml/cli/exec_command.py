"""``jcsaml exec``: run a command with the account's credentials in its environment.

With valid cached credentials and plain options, :mod:`jcsaml.launcher` runs the command before
this module is even imported; this is the full path (a sign-in, ``--debug``, any other option),
and it builds the environment with the same functions (:mod:`jcsaml.environment`). Either way
jcsaml replaces itself with the command (``execvpe``), so the exit status and signals are the
command's own.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from jcsaml.cli.login import add_login_options, obtain_credentials
from jcsaml.environment import (
    CONFLICTING,
    MARKER,
    OWN_PREFIX,
    child_environment,
    find_command,
)

if TYPE_CHECKING:
    from jcsaml.cli import Context

# The child's environment is built in jcsaml.environment, shared with the light entry.
__all__ = [
    "CONFLICTING",
    "HELP",
    "MARKER",
    "OWN_PREFIX",
    "add_parser",
    "child_environment",
    "run",
]

HELP = "run a command with the account's AWS credentials in its environment"


def add_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser], environ: Mapping[str, str]
) -> None:
    parser = subparsers.add_parser(
        "exec",
        parents=parents,
        help=HELP,
        usage="jcsaml exec [-a NAME] [options] -- COMMAND [ARGS...]",
        description=HELP + ". Uses the profile's credentials while valid, else signs in first. "
        "The command's exit status is jcsaml's.",
    )
    add_login_options(parser, environ)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    parser.set_defaults(run=run)


def run(
    args: argparse.Namespace,
    ctx: Context,
    execvpe: Callable[[str, list[str], dict[str, str]], NoReturn] = os.execvpe,
) -> int:
    from jcsaml.errors import CommandNotFoundError, NestedExecError

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:  # a usage error, like argparse's own (exit status 2)
        print(
            "usage: jcsaml exec [-a NAME] [options] -- COMMAND [ARGS...]\n"
            "jcsaml exec: error: no command given; write it after --",
            file=ctx.stderr,
        )
        return 2
    if ctx.environ.get(MARKER):
        # A command that calls jcsaml exec again would silently switch accounts under the user.
        raise NestedExecError(account=ctx.environ[MARKER], variable=MARKER)
    got = obtain_credentials(args, ctx)
    env = child_environment(ctx.environ, got.credentials, got.account.name)
    if find_command(command[0], env) is None:
        raise CommandNotFoundError(command=command[0])
    for message in ctx.deferred:  # run() never returns to main(), which would print them
        ctx.warn(message)
    ctx.stdout.flush()
    ctx.stderr.flush()
    execvpe(command[0], command, env)
