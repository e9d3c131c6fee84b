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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from jcsaml.cli.login import (
    add_login_options,
    obtain_credentials,
    say_served_by_process,
)
from jcsaml.cli.saml2aws_flags import add_flags
from jcsaml.environment import (
    CONFLICTING,
    MARKER,
    OWN_PREFIX,
    cannot_run,
    check_runnable,
    child_environment,
)

if TYPE_CHECKING:
    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.cli import Context
    from jcsaml.cli.login import Obtained

# The child's environment is built in jcsaml.environment, shared with the light entry.
__all__ = [
    "CONFLICTING",
    "DESCRIPTION",
    "HELP",
    "MARKER",
    "NAME",
    "OWN_PREFIX",
    "USAGE_LINE",
    "add_arguments",
    "child_environment",
    "run",
]

NAME = "exec"
HELP = "run a command with the account's AWS credentials in its environment"


USAGE_LINE = "jcsaml exec [-a NAME] [options] -- COMMAND [ARGS...]"
DESCRIPTION = (
    HELP + ". Uses the profile's credentials while valid, else signs in first. The command's exit "
    "status is jcsaml's."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    from jcsaml.cli.options import Input

    add_login_options(parser, environ)
    Input(
        "exec_profile",
        "run the command as the role of PROFILE in the AWS config file (its role_arn), "
        "assumed with the account's credentials [env SAML2AWS_EXEC_PROFILE]",
        metavar="PROFILE",
    ).add_to(parser, environ)
    parser.add_argument(
        "--server",
        action="store_true",
        help="give the command no keys but a local credentials endpoint (AWS container "
        "credentials on 127.0.0.1) that renews them while it runs",
    )
    parser.add_argument(
        "--no-kill-on-exit",
        dest="kill_on_exit",
        action="store_false",
        default=None,
        help="with --server: let the command run on if jcsaml is killed (by default it gets "
        "SIGTERM on Linux, since any local process could then take the endpoint's port; "
        "config key kill_on_exit)",
    )
    add_flags(parser, "exec", environ)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")


def run(
    args: argparse.Namespace,
    ctx: Context,
    execvpe: Callable[[str, list[str], dict[str, str]], NoReturn] = os.execvpe,
) -> int:
    """Replace jcsaml with the command; with ``--server``, run it as a child (see
    :mod:`jcsaml.cli.exec_server`) and return its exit status."""
    from jcsaml.errors import NestedExecError

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:  # a usage error, like argparse's own (exit status 2)
        print(
            f"usage: {USAGE_LINE}\njcsaml exec: error: no command given; write it after --",
            file=ctx.stderr,
        )
        return 2
    if ctx.environ.get(MARKER):
        # A command that calls jcsaml exec again would silently switch accounts under the user.
        raise NestedExecError(account=ctx.environ[MARKER], variable=MARKER)
    if args.server and args.exec_profile:
        print(
            f"usage: {USAGE_LINE}\n"
            "jcsaml exec: error: --server and --exec-profile cannot be combined",
            file=ctx.stderr,
        )
        return 2
    # A mistyped command is reported before a sign-in spends the password and a code on it
    # (the command's PATH is this one's; checked again below with its real environment).
    check_runnable(command[0], ctx.environ.get("PATH"))
    if args.server:
        from jcsaml.cli.exec_server import run_with_server

        return run_with_server(args, ctx, command)
    # A profile --exec-profile cannot use fails before the sign-in, with nothing asked.
    role = _exec_profile_role(args.exec_profile, ctx) if args.exec_profile else None
    got = obtain_credentials(args, ctx)
    say_served_by_process(got, ctx)
    credentials, region = got.credentials, _region(got.profile, got, ctx)
    if role is not None:
        credentials, region = _as_exec_profile(role, got, ctx)
    env = child_environment(ctx.environ, credentials, got.account.name, region=region)
    check_runnable(command[0], env.get("PATH"))
    ctx.show_deferred()  # run() never returns to main(), which would show them
    ctx.stdout.flush()
    ctx.stderr.flush()
    try:
        execvpe(command[0], command, env)
    except OSError as exc:  # found and allowed, yet the system would not run it
        raise cannot_run(command[0], exc) from None


def _region(profile: str, got: Obtained, ctx: Context) -> str | None:
    from jcsaml.aws_config import child_region

    own = got.credentials.region or got.account.region or None
    return child_region(profile, own=own, environ=ctx.environ)


@dataclass(frozen=True)
class _ExecProfileRole:
    """What ``--exec-profile`` takes from its profile in the AWS config file."""

    profile: str
    role_arn: str
    session_name: str | None
    duration: int | None
    external_id: str | None


def _exec_profile_role(profile: str, ctx: Context) -> _ExecProfileRole:
    """Read ``profile``'s role settings; raises ExecProfileError without a role_arn and
    InvalidSettingError for a bad duration_seconds."""
    from jcsaml.aws_config import config_file_path, profile_section, section_name
    from jcsaml.errors import ExecProfileError

    path = config_file_path(ctx.environ)
    section = profile_section(profile, environ=ctx.environ, path=path) or {}
    role_arn = section.get("role_arn", "").strip()
    if not role_arn:
        raise ExecProfileError(profile=profile, path=str(path), section=section_name(profile))
    duration = section.get("duration_seconds", "").strip()
    return _ExecProfileRole(
        profile=profile,
        role_arn=role_arn,
        session_name=section.get("role_session_name", "").strip() or None,
        duration=_duration(duration, profile) if duration else None,
        external_id=section.get("external_id", "").strip() or None,
    )


def _as_exec_profile(
    role: _ExecProfileRole, got: Obtained, ctx: Context
) -> tuple[AwsCredentials, str | None]:
    """The credentials of the profile's role_arn, assumed with the account's, and its region
    (else the account profile's). The account's session policies restrict it too."""
    from jcsaml.signin import read_session_policy
    from jcsaml.sts import assume_role

    region = _region(role.profile, got, ctx) or _region(got.profile, got, ctx)
    credentials = assume_role(
        got.credentials,
        role.role_arn,
        profile=role.profile,
        session_name=role.session_name,
        duration=role.duration,
        external_id=role.external_id,
        region=region,
        policy_arns=got.account.policy_arns,
        policy=read_session_policy(got.account),
    )
    return credentials, region


def _duration(text: str, profile: str) -> int:
    from jcsaml.config import parse_duration
    from jcsaml.errors import InvalidSettingError

    try:
        return parse_duration(text)
    except InvalidSettingError as exc:
        raise InvalidSettingError(
            setting=f"duration_seconds of profile {profile!r}", reason=exc.reason
        ) from None
