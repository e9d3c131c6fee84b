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
    from jcsaml.cli.login import session_duration_flag
    from jcsaml.config import config_path, expand_accounts, load_account
    from jcsaml.credentials_file import CredentialsFile
    from jcsaml.errors import SomeRolesFailedError
    from jcsaml.multi import login_many
    from jcsaml.secret_store import default_store

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
    results = login_many(
        accounts,
        roles=_role_patterns(args),
        all_roles=args.all_roles,
        profile_template=args.profile_template,
        username=args.username,
        password=args.password,
        mfa_token=args.mfa_token,
        session_duration=session_duration_flag(args.session_duration),
        force=args.force,
        prompter=prompter,
        secrets=default_store(warn=ctx.warn_after_success),
        webauthn_device=ctx.webauthn_device,
        environ=ctx.environ,
        trust_new_cert=args.trust_new_cert,
        check_profiles=lambda found: _check_writable(found, ctx),
    )
    # One atomic write per credentials file, holding every new profile.
    by_file: dict[str, dict[str, Any]] = {}
    for result in results:
        if result.credentials is not None:
            by_file.setdefault(result.credentials_file, {})[result.profile] = result.credentials
    for file, profiles in by_file.items():
        CredentialsFile(Path(file), environ=ctx.environ).save_many(profiles)
        log.debug("wrote %d profile(s) to %s in one write", len(profiles), file)
    if args.json:
        print(json.dumps(summary_json(results), indent=2), file=ctx.stdout)
    else:
        render_summary(results, ctx)
    failed = sum(1 for r in results if not r.ok)
    if failed:
        raise SomeRolesFailedError(failed=failed, total=len(results), written=len(results) - failed)
    return 0


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
