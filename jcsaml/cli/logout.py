"""``jcsaml logout``: forget the JumpCloud session and remove the profile's credentials."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jcsaml.cli.login import add_skip_prompt

if TYPE_CHECKING:
    from jcsaml.cli import Context

HELP = "forget the JumpCloud session and remove the account's temporary AWS credentials"


def add_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser], environ: Mapping[str, str]
) -> None:
    parser = subparsers.add_parser(
        "logout",
        parents=parents,
        help=HELP,
        description=HELP + " (the profile's, and the account's credential-process cache). The "
        "next login asks for MFA again. Long-lived keys in the profile are never touched.",
    )
    parser.add_argument("--profile", help="AWS profile to clear (default: the account's)")
    parser.add_argument(
        "--username",
        default=environ.get("JCSAML_USERNAME"),
        help="JumpCloud username, when the account has none [env JCSAML_USERNAME]",
    )
    parser.add_argument(
        "--forget-password", action="store_true", help="also remove the saved password"
    )
    # Accepted like every other command's, so scripts can pass it everywhere; logout never asks.
    add_skip_prompt(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml import process_cache
    from jcsaml.config import config_path, load_account
    from jcsaml.credentials_file import CredentialsFile
    from jcsaml.secret_store import default_store
    from jcsaml.signin import credentials_path, password_key, session_key

    account = load_account(
        args.idp_account, path=config_path(ctx.environ, args.config), environ=ctx.environ
    )
    profile = args.profile or account.profile
    username = args.username or account.username
    forgotten: list[str] = []
    if username:
        secrets = default_store(warn=lambda message: None)  # nothing to keep, nothing to warn
        entries = [("session", session_key(account, username))]
        if args.forget_password:
            entries.append(("password", password_key(account, username)))
        for what, key in entries:
            if secrets.get(key) is not None:
                secrets.delete(key)
                forgotten.append(what)
    path = credentials_path(account, environ=ctx.environ)
    removed = CredentialsFile(path).delete(profile)
    cached = process_cache.delete_account(account.name, environ=ctx.environ)
    if forgotten:
        print(f"Forgot the JumpCloud {' and '.join(forgotten)} of {username}.", file=ctx.stdout)
    elif username:
        saved = "session or password" if args.forget_password else "session"
        print(f"No JumpCloud {saved} of {username} was saved.", file=ctx.stdout)
    else:
        print(
            "No JumpCloud username is known for this account, so no saved session was looked "
            "for; pass --username to forget one.",
            file=ctx.stdout,
        )
    if removed:
        print(f"Removed the credentials of profile {profile!r} from {path}.", file=ctx.stdout)
    else:
        print(f"Profile {profile!r} held no credentials from jcsaml.", file=ctx.stdout)
    if cached:
        print(f"Removed the credential-process cache of account {account.name!r}.", file=ctx.stdout)
    return 0
