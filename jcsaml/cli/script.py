"""``jcsaml script``: print shell code that sets the account's credentials in the current shell.

``eval "$(jcsaml script -a production)"``. Signs in first when the profile holds no valid
credentials; questions go to the terminal through stderr, so stdout holds only the script.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from jcsaml.cli.login import add_login_options
from jcsaml.cli.saml2aws_flags import add_flags

if TYPE_CHECKING:
    from jcsaml.cli import Context

#: saml2aws's --shell name for POSIX shells.
POSIX_SH = "/bin/sh"
NAME = "script"
HELP = "print shell code that sets the account's AWS credentials, for eval"
DESCRIPTION = (
    HELP + ', e.g. eval "$(jcsaml script -a production)". Sets the variables jcsaml exec sets, '
    "plus JCSAML_PROFILE; signs in first when needed."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    from jcsaml.shell_script import SHELLS

    add_login_options(parser, environ)
    parser.add_argument(
        "--shell",
        choices=(*SHELLS, POSIX_SH),
        default="bash",
        help="syntax to print: bash and zsh (default), /bin/sh (as bash), fish, powershell, "
        "env (NAME=value lines, as docker --env-file reads) or json",
    )
    add_flags(parser, "script", environ)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.shell == POSIX_SH:  # saml2aws's name for POSIX shell syntax, which bash's is
        args.shell = "bash"
    from jcsaml.cli.exec_command import CONFLICTING
    from jcsaml.shell_script import cached_script

    text = None
    if not args.force:
        text = cached_script(
            args.idp_account,
            shell=args.shell,
            unset=CONFLICTING,
            profile=args.profile,
            role=args.role,
            config=args.config,
            environ=ctx.environ,
        )
    if text is None:
        text = _after_sign_in(args, ctx)
    ctx.stdout.write(text)
    return 0


def _after_sign_in(args: argparse.Namespace, ctx: Context) -> str:
    from jcsaml.aws_config import child_region
    from jcsaml.cli.exec_command import CONFLICTING
    from jcsaml.cli.login import obtain_credentials, say_served_by_process
    from jcsaml.shell_script import render, script_variables

    got = obtain_credentials(args, ctx)
    say_served_by_process(got, ctx)
    own = got.credentials.region or got.account.region or None
    region = child_region(got.profile, own=own, environ=ctx.environ)
    variables = script_variables(got.credentials, profile=got.profile, region=region)
    return render(variables, CONFLICTING, args.shell)
