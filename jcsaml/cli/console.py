"""``jcsaml console``: open the AWS web console as the account's role."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from jcsaml.cli.login import (
    add_login_options,
    obtain_credentials,
    say_served_by_process,
)
from jcsaml.cli.saml2aws_flags import add_flags

if TYPE_CHECKING:
    from jcsaml.cli import Context

NAME = "console"
HELP = "open the AWS web console as the account's role (or print the sign-in URL)"
DESCRIPTION = (
    HELP + ". Uses the profile's credentials while valid, else signs in first, then asks AWS's "
    "federation endpoint for a sign-in token."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    add_login_options(parser, environ)
    parser.add_argument(
        "--link", action="store_true", help="print the sign-in URL on stdout instead of opening it"
    )
    parser.add_argument(
        "--destination",
        metavar="URL",
        help="console page to open: an https:// URL or a path such as /s3/home "
        "(default: the console home)",
    )
    parser.add_argument(
        "-r",
        "--region",
        help="region of the console and sign-in host [env SAML2AWS_REGION; default: the account's]",
    )
    parser.add_argument(
        "--firefox-container",
        action="store_true",
        help="open in a Firefox container named after the profile (Granted Containers extension)",
    )
    from jcsaml.console import CONTAINER_COLORS, CONTAINER_ICONS

    parser.add_argument(
        "--color",
        choices=CONTAINER_COLORS,
        help="the Firefox container's color (with --firefox-container)",
    )
    parser.add_argument(
        "--icon",
        choices=CONTAINER_ICONS,
        help="the Firefox container's icon (with --firefox-container)",
    )
    add_flags(parser, "console", environ)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.cli.exec_command import _as_exec_profile, _exec_profile_role
    from jcsaml.config import validate_region, validate_url
    from jcsaml.console import check_destination, console_signin_url, firefox_container_url
    from jcsaml.errors import InvalidSettingError

    # Settings that would fail after the sign-in fail before it, with nothing asked.
    check_destination(args.destination)
    if args.region:
        validate_region(args.region, source="--region")
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):  # hosts may be built from them
        if ctx.environ.get(variable):
            validate_region(ctx.environ[variable], source=variable)
    if (args.color or args.icon) and not args.firefox_container:
        raise InvalidSettingError(
            setting="--color" if args.color else "--icon",
            reason="it sets the Firefox container's look; add --firefox-container",
        )
    from_environment = ctx.environ.get("JCSAML_FEDERATION_URL")
    if from_environment:
        validate_url(from_environment, "JCSAML_FEDERATION_URL")
    role = _exec_profile_role(args.exec_profile, ctx) if args.exec_profile else None
    got = obtain_credentials(args, ctx)
    say_served_by_process(got, ctx)
    credentials = got.credentials
    if role is not None:  # saml2aws's console --exec-profile: the console as that role
        credentials, _ = _as_exec_profile(role, got, ctx)
    # The account's federation_url was checked when the account was loaded.
    federation_url = from_environment or got.account.federation_url
    url = console_signin_url(
        credentials,
        region=args.region or got.account.region or credentials.region,
        destination=args.destination,
        federation_url=federation_url or None,
        issuer=got.account.url,
    )
    if args.firefox_container:
        url = firefox_container_url(url, got.profile, color=args.color, icon=args.icon)
    if args.link:
        print(url, file=ctx.stdout)
        return 0
    open_in_browser(url)
    print(
        f"Opened the AWS console as {credentials.role_arn} in the web browser.",
        file=ctx.stderr,
    )
    return 0


def open_in_browser(url: str) -> None:
    import webbrowser

    from jcsaml.errors import BrowserNotFoundError

    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        raise BrowserNotFoundError()
