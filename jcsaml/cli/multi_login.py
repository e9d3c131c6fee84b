"""``jcsaml login`` for several accounts or roles: one sign-in, a summary, one write per file.

Used when login is given several ``-a`` (or a group's name), ``--all-accounts``, ``--all-roles``,
several ``--role`` or a glob pattern, or ``--json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcsaml.cli import Context
    from jcsaml.config import Account
    from jcsaml.multi import RoleResult

log = logging.getLogger(__name__)

COLUMNS = ("ACCOUNT", "PROFILE", "ROLE", "EXPIRES", "RESULT")
_GLOB = frozenset("*?[")


def _accounts_given(args: argparse.Namespace) -> list[str]:
    return list(getattr(args, "idp_accounts", None) or [args.idp_account])


def _role_patterns(args: argparse.Namespace) -> list[str]:
    given = getattr(args, "roles", None) or ([args.role] if args.role else [])
    return [str(role) for role in given]


def wanted(args: argparse.Namespace, ctx: Context) -> bool:
    """Whether this login is for several accounts or roles (or asks for the JSON summary)."""
    from jcsaml.config import config_path, group_names

    patterns = _role_patterns(args)
    if (
        args.all_accounts
        or args.all_roles
        or args.json
        or len(_accounts_given(args)) > 1
        or len(patterns) > 1
        or any(_GLOB & set(pattern) for pattern in patterns)
    ):
        return True
    return args.idp_account in group_names(config_path(ctx.environ, args.config))


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.cli.options import session_duration_flag, sign_in_inputs
    from jcsaml.config import config_path, expand_accounts, load_account
    from jcsaml.errors import SomeRolesFailedError
    from jcsaml.multi import check_planned_profiles, login_many

    path = config_path(ctx.environ, args.config)
    names = expand_accounts(_accounts_given(args), path=path, all_accounts=args.all_accounts)
    if args.profile and len(names) > 1:
        print(
            "usage: jcsaml login -a NAME [-a NAME ...] [--profile-template TEMPLATE]\n"
            "jcsaml login: error: --profile names one profile; with several accounts, name "
            "the profiles with each account's aws_profile or with --profile-template",
            file=ctx.stderr,
        )
        return 2
    accounts = [load_account(name, path=path, environ=ctx.environ) for name in names]
    if args.profile:
        accounts = [dataclasses.replace(accounts[0], aws_profile=args.profile)]
    if args.profile_template is not None:
        from jcsaml.config import parse_profile_template

        parse_profile_template(args.profile_template)
    prompter = ctx.prompter(args.skip_prompt)
    # A login that could not be saved fails before anything is said, asked or sent.
    check_planned_profiles(
        accounts, roles=_role_patterns(args), all_roles=args.all_roles, environ=ctx.environ
    )
    # Unattended runs keep stderr for the one error line; --quiet asks for no progress line.
    if not (args.skip_prompt or getattr(args, "quiet", False)):
        _say_sign_ins(accounts, args, ctx)
    results = login_many(
        accounts,
        roles=_role_patterns(args),
        all_roles=args.all_roles,
        profile_template=args.profile_template,
        session_duration=session_duration_flag(args.session_duration),
        force=args.force,
        prompter=prompter,
        trust_new_cert=args.trust_new_cert,
        check_profiles=lambda found: _check_writable(found, ctx),
        **sign_in_inputs(args, ctx),  # no keyring: said once per machine
    )
    save_results(results, accounts, ctx)
    if args.json:
        print(json.dumps(summary_json(results), indent=2), file=ctx.stdout)
    else:
        render_summary(results, ctx)
    failed = sum(1 for r in results if not r.ok)
    if failed:
        raise SomeRolesFailedError(failed=failed, total=len(results), written=len(results) - failed)
    return 0


def save_results(results: Sequence[RoleResult], accounts: Sequence[Account], ctx: Context) -> None:
    """Save every role's credentials where its profile is served from, and record them.

    Keys go to the credentials files, in one atomic write per file; a profile served by
    jcsaml's ``credential_process`` gets its credentials in the credential-process cache
    instead (keys would shadow the line). Every profile named by a template gets the account's
    region in the AWS config file when it has none there.
    """
    from jcsaml import managed, process_cache
    from jcsaml.aws_config import account_region, add_missing_regions, config_file_path
    from jcsaml.credentials_file import CredentialsFile
    from jcsaml.errors import CacheFileError, JcsamlError

    by_name = {account.name: account for account in accounts}
    by_file: dict[str, dict[str, Any]] = {}
    written: dict[str, list[managed.ManagedProfile]] = {}
    regions: dict[str, str] = {}
    config_file = str(config_file_path(ctx.environ))
    for result in results:
        account = by_name.get(result.idp_account)
        if result.credentials is None or account is None:
            continue
        served = written.setdefault(account.name, [])
        if result.profile == account.profile and managed.served_by_process(
            result.profile, account.name, environ=ctx.environ
        ):
            role = account.role_arn or ""
            try:
                process_cache.save(account.name, role, result.credentials, environ=ctx.environ)
            except JcsamlError:
                raise  # a lock that timed out, an unsafe directory: said as themselves
            except OSError as exc:
                raise CacheFileError(
                    path=str(process_cache.cache_directory(ctx.environ)),
                    reason=exc.strerror or str(exc),
                ) from None
            managed.record_cache(account.name, role, environ=ctx.environ)
            served.append(managed.ManagedProfile(result.profile, managed.PROCESS, config_file))
            print(
                f"Profile {result.profile!r} uses credential_process: its credentials went to "
                "the credential-process cache, not to the credentials file.",
                file=ctx.stderr,
            )
            continue
        by_file.setdefault(result.credentials_file, {})[result.profile] = result.credentials
        served.append(managed.ManagedProfile(result.profile, managed.KEYS, result.credentials_file))
        if result.profile != account.profile:
            region = account_region(account.region or None, account.profile, environ=ctx.environ)
            if region:
                regions.setdefault(result.profile, region)
    # One atomic write per credentials file, holding every new profile.
    for file, profiles in by_file.items():
        CredentialsFile(Path(file), environ=ctx.environ).save_many(profiles)
        log.debug("wrote %d profile(s) to %s in one write", len(profiles), file)
    for name, noted in written.items():
        managed.record_profiles(name, noted, environ=ctx.environ)
    added = add_missing_regions(regions, environ=ctx.environ)
    if added:
        log.debug("gave %d profile(s) a region in %s", len(added), config_file)


def _say_sign_ins(accounts: Sequence[Account], args: argparse.Namespace, ctx: Context) -> None:
    """One context line per JumpCloud sign-in: which accounts, user and apps, and why."""
    from jcsaml.multi import sign_in_groups
    from jcsaml.signin import app_name

    for group in sign_in_groups(accounts, args.username):
        user = args.username or group[0].username
        names = ", ".join(repr(a.name) for a in group)
        apps = ", ".join(dict.fromkeys(app_name(a) for a in group))
        why = "--force" if args.force else "a login of several accounts or roles"
        print(
            f"Signing in to JumpCloud for account(s) {names}"
            + (f" as {user}" if user else "")
            + f" (app(s) {apps}): {why}",
            file=ctx.stderr,
        )


def _check_writable(profiles: Sequence[tuple[Path, str]], ctx: Context) -> None:
    """Before any role is assumed: each profile can be written (as a single login checks)."""
    from jcsaml.credentials_file import CredentialsFile

    for path, profile in profiles:
        CredentialsFile(path, environ=ctx.environ).check_writable(profile)


def sign_ins(results: Sequence[RoleResult]) -> dict[str, list[str]]:
    """Each JumpCloud sign-in (``user at console``) with the accounts it served, in order."""
    found: dict[str, list[str]] = {}
    for result in results:
        served = found.setdefault(result.signed_in_as, [])
        if result.idp_account not in served:
            served.append(result.idp_account)
    return found


def summary_json(results: Sequence[RoleResult]) -> dict[str, Any]:
    return {
        "sign_ins": [
            {"signed_in_as": who, "accounts": accounts}
            for who, accounts in sign_ins(results).items()
        ],
        "roles": [
            {
                "idp_account": r.idp_account,
                "profile": r.profile or None,
                "role_arn": r.role_arn or None,
                "credentials_file": r.credentials_file or None,
                "expiration": r.credentials.expiration_rfc3339() if r.credentials else None,
                "ok": r.ok,
                "error": str(r.error) if r.error is not None else None,
            }
            for r in results
        ],
    }


def render_summary(results: Sequence[RoleResult], ctx: Context) -> None:
    from jcsaml.display import printable

    signed = sign_ins(results)
    if len(signed) > 1:
        print(
            f"Signed in to JumpCloud {len(signed)} times (the accounts name different users "
            "or consoles):",
            file=ctx.stdout,
        )
        for who, accounts in signed.items():
            print(f"  {who}: {', '.join(accounts)}", file=ctx.stdout)
    rows = [COLUMNS] + [
        (
            r.idp_account,
            r.profile or "-",
            r.role_arn or "-",
            _expiry(r.credentials.expiration) if r.credentials else "-",
            "ok" if r.ok else f"failed: {r.error}",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print(printable("  ".join([*cells, row[-1]])), file=ctx.stdout)
    files = sorted({r.credentials_file for r in results if r.ok})
    written = sum(1 for r in results if r.ok)
    if files:
        print(f"Wrote {written} profile(s) to {', '.join(files)}.", file=ctx.stdout)


def _expiry(moment: datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M %Z}"
