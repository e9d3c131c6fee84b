"""``jcsaml logout``: forget the JumpCloud session and remove the profile's credentials."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from jcsaml.cli.options import add_skip_prompt
from jcsaml.variables import lookup

if TYPE_CHECKING:
    from jcsaml.cli import Context
    from jcsaml.config import Account

NAME = "logout"
HELP = "forget the JumpCloud session and remove the account's temporary AWS credentials"
DESCRIPTION = (
    HELP + " (every profile it wrote, single-role and multi-role, and its credential-process cache "
    "entries). Ending the JumpCloud session also signs out the other accounts of the same user and "
    "console; the next login asks for MFA again. Long-lived keys and other accounts' profiles are "
    "never touched."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    parser.add_argument("--profile", help="AWS profile to clear (default: the account's)")
    parser.add_argument(
        "--username",
        default=lookup("username", environ),
        help="JumpCloud username, when the account has none [env JCSAML_USERNAME or "
        "SAML2AWS_USERNAME]",
    )
    parser.add_argument(
        "--forget-password", action="store_true", help="also remove the saved password"
    )
    parser.add_argument(
        "--keep-session",
        action="store_true",
        help="remove only the account's credentials; keep the JumpCloud session, which other "
        "accounts of the same user and console share",
    )
    # Accepted like every other command's, so scripts can pass it everywhere; logout never asks.
    add_skip_prompt(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml import managed, process_cache
    from jcsaml.config import config_path, load_account
    from jcsaml.credentials_file import CredentialsFile
    from jcsaml.secret_store import default_store, password_key, session_key
    from jcsaml.signin import credentials_path

    path = config_path(ctx.environ, args.config)
    account = load_account(args.idp_account, path=path, environ=ctx.environ)
    profile = args.profile or account.profile
    username = args.username or account.username
    forgotten: list[str] = []
    if username:
        secrets = default_store(warn=lambda message: None)  # nothing to keep, nothing to warn
        entries = [] if args.keep_session else [("session", session_key(account, username))]
        if args.forget_password:
            entries.append(("password", password_key(account, username)))
        for what, key in entries:
            if secrets.get(key) is not None:
                secrets.delete(key)
                forgotten.append(what)
    removed: list[tuple[str, Path]] = []
    for name, file in _written_profiles(
        account.name, profile, credentials_path(account, environ=ctx.environ), ctx
    ):
        if CredentialsFile(file, environ=ctx.environ).delete(name):
            removed.append((name, file))
    cached = process_cache.delete_account(account.name, environ=ctx.environ)
    managed.forget_account(account.name, environ=ctx.environ)
    if forgotten:
        others = _sharing_session(account, username or "", path) if "session" in forgotten else []
        also = f"; this also signs out of: {', '.join(others)}" if others else ""
        print(
            f"Forgot the JumpCloud {' and '.join(forgotten)} of {username}{also}.", file=ctx.stdout
        )
    elif username and args.keep_session:
        print(f"Kept the JumpCloud session of {username} (--keep-session).", file=ctx.stdout)
    elif username:
        saved = "session or password" if args.forget_password else "session"
        print(f"No JumpCloud {saved} of {username} was saved.", file=ctx.stdout)
    else:
        print(
            "No JumpCloud username is known for this account, so no saved session was looked "
            "for; pass --username to forget one.",
            file=ctx.stdout,
        )
    for name, file in removed:
        print(f"Removed the credentials of profile {name!r} from {file}.", file=ctx.stdout)
    if not removed:
        print(f"Profile {profile!r} held no credentials from jcsaml.", file=ctx.stdout)
    if cached:
        print(f"Removed the credential-process cache of account {account.name!r}.", file=ctx.stdout)
    return 0


def _written_profiles(
    account: str, profile: str, own_file: Path, ctx: Context
) -> list[tuple[str, Path]]:
    """The profiles with keys this account wrote (from the record), and its own profile; never
    one that another account wrote last."""
    from jcsaml import managed

    records = managed.load(ctx.environ)
    others = {
        (p.profile, Path(p.path))
        for name, record in records.items()
        if name != account
        for p in record.profiles
        if p.served == managed.KEYS
    }
    mine = records.get(account)
    found = [(profile, own_file)]
    if mine is not None:
        found += [(p.profile, Path(p.path)) for p in mine.profiles if p.served == managed.KEYS]
    unique = list(dict.fromkeys(found))
    return [entry for entry in unique if entry not in others]


def _sharing_session(account: Account, username: str, path: Path) -> list[str]:
    """The other accounts signed in with the same JumpCloud user and console."""
    from jcsaml.config import account_names, find_account
    from jcsaml.errors import JcsamlError

    try:
        accounts = [find_account(name, path=path) for name in account_names(path)]
    except JcsamlError:
        return []
    console = account.console_url.rstrip("/").lower()
    return [
        other.name
        for other in accounts
        if other is not None
        and other.name != account.name
        and other.console_url.rstrip("/").lower() == console
        and (other.username or username).lower() == username.lower()
    ]
