"""``jcsaml login``: sign in and write temporary credentials into an AWS profile.

Also home of the options and the credential lookup that ``exec`` shares with ``login``.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jcsaml.cli.options import (
    MFA_TOKEN,
    PASSWORD,
    PROFILE,
    ROLE,
    SESSION_DURATION,
    USERNAME,
    add_inputs,
    add_record_option,
    add_skip_prompt,
    chosen_account,
    session_duration_flag,
    sign_in_inputs,
    sign_in_lock,
)
from jcsaml.cli.saml2aws_flags import add_flags, for_this_sign_in

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.cli import Context
    from jcsaml.config import Account
    from jcsaml.credentials_file import CredentialsStore

NAME = "login"
HELP = "sign in to JumpCloud and write AWS credentials to a profile"
DESCRIPTION = (
    HELP + ". Reuses the profile's credentials while they stay valid for more than 5 minutes, "
    "unless --force."
)


def add_login_options(
    parser: argparse.ArgumentParser, environ: Mapping[str, str], *, profile: bool = True
) -> None:
    """The sign-in inputs shared by every command that may log in (``profile``: whether the
    command uses an AWS profile of the credentials file)."""
    inputs = [USERNAME, PASSWORD, MFA_TOKEN, ROLE, SESSION_DURATION]
    add_inputs(parser, environ, [PROFILE, *inputs] if profile else inputs)
    parser.add_argument(
        "--force",
        action="store_true",
        help="sign in again even if the profile holds valid credentials"
        if profile
        else "sign in again even if the cache holds valid credentials",
    )
    add_skip_prompt(parser)
    add_record_option(parser)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    add_login_options(parser, environ)
    parser.add_argument(
        "--all-accounts",
        action="store_true",
        help="every account in the config file (-a also repeats, and takes a group's name)",
    )
    parser.add_argument(
        "--all-roles", action="store_true", help="every role JumpCloud offers for each account"
    )
    parser.add_argument(
        "--profile-template",
        metavar="TEMPLATE",
        help="names of the profiles when an account gives several roles, from {account} "
        "(alias or id), {account_id}, {role} and {idp_account} [default: the account's "
        "profile_template, else {account}-{role}]",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON (signs in every time)"
    )
    parser.add_argument(
        "--trust-new-cert",
        action="store_true",
        help="accept JumpCloud's renewed IdP certificate: sign in, show its SHA-256 "
        "fingerprint and trust it from now on instead of the pinned one",
    )
    add_flags(parser, "login", environ)


@dataclass(frozen=True)
class Obtained:
    """Credentials for a profile; ``path`` is where they are kept: the credentials file, or
    the credential-process cache when ``by_process`` (the profile's ``credential_process``
    serves it, so no keys are written for it)."""

    credentials: AwsCredentials
    account: Account
    profile: str
    path: str
    fresh: bool
    by_process: bool = False


def obtain_credentials(args: argparse.Namespace, ctx: Context) -> Obtained:
    """Valid cached credentials from the profile, or a new sign-in whose result is saved there.

    Everything that can fail locally is checked before anything is asked or sent to JumpCloud:
    the profile name, the config, the credentials file (readable, parseable, the user's alone),
    its directory (writable) and its lock (not held by another process).
    """
    from jcsaml.credentials_file import CredentialsFile, validate_profile_name
    from jcsaml.signin import cached_credentials, credentials_path, region_of

    if args.profile is not None:
        validate_profile_name(args.profile, setting="--profile")
    account = chosen_account(args, ctx)
    account = for_this_sign_in(args, account, ctx.environ)
    profile = args.profile or account.profile
    validate_profile_name(profile)
    path = credentials_path(account, environ=ctx.environ)
    store = CredentialsFile(path, environ=ctx.environ)
    wanted_role = args.role or account.role_arn or None
    duration = session_duration_flag(args.session_duration)
    from jcsaml.managed import served_by_process

    if served_by_process(profile, account.name, environ=ctx.environ):
        return _obtain_for_process(args, ctx, account, profile, wanted_role or "", duration)
    # Accepting a new certificate needs a sign-in, whatever the profile holds.
    if not (args.force or getattr(args, "trust_new_cert", False)):
        cached = cached_credentials(store, profile, role=wanted_role)
        if cached is not None:
            return Obtained(cached, account, profile, str(path), fresh=False)
    store.check_writable(profile)
    # One sign-in at a time for this account and role: a process that waited uses what the
    # one before it has just written (a forced or certificate-trusting sign-in goes on).
    with _lock(args, ctx, account, wanted_role or "")():
        if not (args.force or getattr(args, "trust_new_cert", False)):
            cached = cached_credentials(store, profile, role=wanted_role)
            if cached is not None:
                return Obtained(cached, account, profile, str(path), fresh=False)
        region_of(account, ctx.environ)  # a bad AWS_REGION fails before "Signing in"
        # Unattended runs keep stderr for the one error line; --quiet asks for no progress line.
        if not (args.skip_prompt or getattr(args, "quiet", False)):
            _say_why(args, ctx, account, store, profile, wanted_role)
        credentials = _sign_in(args, ctx, account, wanted_role, duration)
        store.save(profile, credentials)
        from jcsaml import managed

        written = managed.ManagedProfile(profile, managed.KEYS, str(path))
        managed.record_profiles(account.name, [written], environ=ctx.environ)
    return Obtained(credentials, account, profile, str(path), fresh=True)


def _obtain_for_process(
    args: argparse.Namespace,
    ctx: Context,
    account: Account,
    profile: str,
    role: str,
    duration: int | None,
) -> Obtained:
    """For a profile served by jcsaml's ``credential_process``: the credential-process cache
    takes the place of the credentials file, whose keys the AWS tools would use instead of the
    line (and keep using after they expire)."""
    from jcsaml import managed, process_cache
    from jcsaml.errors import CacheFileError, JcsamlError
    from jcsaml.signin import region_of

    directory = str(process_cache.cache_directory(ctx.environ))
    # One sign-in at a time for the account and role, as credential-process takes it.
    with _lock(args, ctx, account, role)():
        if not (args.force or getattr(args, "trust_new_cert", False)):
            cached = process_cache.usable(
                process_cache.load(account.name, role, environ=ctx.environ), role=role
            )
            if cached is not None:
                return Obtained(cached, account, profile, directory, fresh=False, by_process=True)
        region_of(account, ctx.environ)  # a bad AWS_REGION fails before "Signing in"
        if not (args.skip_prompt or getattr(args, "quiet", False)):
            reason = (
                "--force" if args.force else "no valid credentials in the credential-process cache"
            )
            say_signing_in(ctx, account, args.username, reason)
        credentials = _sign_in(args, ctx, account, role or None, duration)
        try:
            process_cache.save(account.name, role, credentials, environ=ctx.environ)
        except JcsamlError:
            raise  # a lock that timed out, an unsafe directory: said as themselves
        except OSError as exc:
            raise CacheFileError(path=directory, reason=exc.strerror or str(exc)) from None
    managed.record_cache(account.name, role, environ=ctx.environ)
    return Obtained(credentials, account, profile, directory, fresh=True, by_process=True)


def _lock(
    args: argparse.Namespace, ctx: Context, account: Account, role: str
) -> Callable[[], AbstractContextManager[None]]:
    """:func:`sign_in_lock`, saying on stderr that it waits unless ``--skip-prompt``."""
    waiting = None if args.skip_prompt else functools.partial(print, file=ctx.stderr)
    return sign_in_lock(ctx, account, role, waiting)


def say_served_by_process(got: Obtained, ctx: Context) -> None:
    """The one line saying where credentials went instead of the credentials file."""
    if got.fresh and got.by_process:
        print(
            f"Profile {got.profile!r} uses credential_process: the new credentials are in "
            f"the credential-process cache ({got.path}), not in the credentials file.",
            file=ctx.stderr,
        )


def _say_why(
    args: argparse.Namespace,
    ctx: Context,
    account: Account,
    store: CredentialsStore,
    profile: str,
    role: str | None,
) -> None:
    """One line on stderr before a sign-in: which account, user and app, and why."""
    reason = "--force" if args.force else _why_not_cached(store, profile, role)
    say_signing_in(ctx, account, args.username, reason)


def say_signing_in(ctx: Context, account: Account, username: str | None, reason: str) -> None:
    """:func:`signing_in_line` on stderr."""
    print(signing_in_line(account, username, reason), file=ctx.stderr)


def signing_in_line(account: Account, username: str | None, reason: str) -> str:
    """``Signing in to JumpCloud for account 'production' as alice@... (app ...): <reason>``."""
    from urllib.parse import urlsplit

    user = username or account.username
    app = urlsplit(account.url).path.rsplit("/saml2/", 1)[-1].strip("/") or account.url
    return (
        f"Signing in to JumpCloud for account {account.name!r}"
        + (f" as {user}" if user else "")
        + f" (app {app}): {reason}"
    )


def _why_not_cached(store: CredentialsStore, profile: str, role: str | None) -> str:
    from jcsaml.arn import role_matches
    from jcsaml.light_lookup import REFRESH_MARGIN_SECONDS

    try:
        found = store.load(profile)
    except Exception:  # the save after the sign-in reports a broken file properly
        return f"profile {profile!r} holds no usable credentials"
    if found is None:
        return f"no credentials in profile {profile!r}"
    at = found.expiration.astimezone().strftime("%H:%M")
    if role and not role_matches(found.role_arn, role):
        return f"profile {profile!r} holds credentials for another role"
    if found.expires_within(0):
        return f"the credentials in profile {profile!r} expired at {at}"
    minutes = REFRESH_MARGIN_SECONDS // 60
    return f"the credentials in profile {profile!r} expire at {at}, within {minutes} minutes"


def _sign_in(
    args: argparse.Namespace, ctx: Context, account: Account, role: str | None, duration: int | None
) -> AwsCredentials:
    from jcsaml import remembered
    from jcsaml.signin import login

    credentials = login(
        account,
        role=role,
        session_duration=duration,
        force=args.force,
        preferred_role=account.role_arn or remembered.last_role(account.name, ctx.environ),
        prompter=ctx.prompter(args.skip_prompt),
        trust_new_cert=getattr(args, "trust_new_cert", False),
        **sign_in_inputs(args, ctx),
    )
    if not role:  # a role picked (or the only one offered): the picker's default next time
        remembered.remember_role(account.name, credentials.role_arn, ctx.environ)
    return credentials


def describe_expiry(expiration: datetime, *, now: datetime | None = None) -> str:
    """``2026-11-24 14:07:28 CET (in 59 minutes)`` in the local time zone."""
    current = now or datetime.now(UTC)
    minutes = max(0, int((expiration - current).total_seconds() // 60))
    local = expiration.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S %Z} (in {minutes} minutes)"


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.cli import multi_login

    if multi_login.wanted(args, ctx):
        return multi_login.run(args, ctx)
    got = obtain_credentials(args, ctx)
    creds = got.credentials
    if got.by_process:
        state = "new credentials" if got.fresh else "credentials"
        if got.fresh:
            print(f"Logged in as {creds.role_arn}", file=ctx.stdout)
        print(
            f"Profile {got.profile!r} uses credential_process: its {state} are in the "
            f"credential-process cache ({got.path}), not in the credentials file; they expire "
            f"at {describe_expiry(creds.expiration)}.",
            file=ctx.stdout,
        )
        return 0
    if got.fresh:
        print(f"Logged in as {creds.role_arn}", file=ctx.stdout)
        print(
            f"Credentials saved to profile {got.profile!r} in {got.path}; they expire at "
            f"{describe_expiry(creds.expiration)}.",
            file=ctx.stdout,
        )
    else:
        print(
            f"Profile {got.profile!r} already holds credentials for {creds.role_arn}, valid "
            f"until {describe_expiry(creds.expiration)}; use --force to sign in again.",
            file=ctx.stdout,
        )
    return 0
