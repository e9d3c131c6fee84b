"""``jcsaml status``: the credentials jcsaml holds, how long they last, and saved sessions."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcsaml.cli import Context
    from jcsaml.errors import JcsamlError
    from jcsaml.managed import AccountRecord
    from jcsaml.status import CredentialStatus, SessionStatus, ShadowedProfile

NAME = "status"
HELP = "show the credentials jcsaml holds and the JumpCloud sessions it saved"
DESCRIPTION = (
    HELP + ": every profile with credentials from jcsaml (credentials files and the "
    "credential-process cache), its account, role and remaining validity, and for each JumpCloud "
    "user whether a session is saved. Makes no network request."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml import managed
    from jcsaml.config import config_path
    from jcsaml.secret_store import default_store
    from jcsaml.status import credential_status, session_status, shadowed_profiles

    config = config_path(ctx.environ, args.config)
    now = datetime.now(UTC)

    # status reports what it can read; an unreadable file is a warning, not a failure.
    def unreadable(error: JcsamlError) -> None:
        ctx.warn_after_success(str(error))

    credentials = credential_status(config=config, environ=ctx.environ, on_error=unreadable)
    sessions = session_status(
        secrets=lambda: default_store(warn=lambda message: None),
        config=config,
        environ=ctx.environ,
        on_error=unreadable,
    )
    shadowed = shadowed_profiles(environ=ctx.environ, on_error=unreadable)
    records = managed.load(ctx.environ)
    if args.json:
        document = {
            "credentials": [_credential_json(entry, now) for entry in credentials],
            "sessions": [_session_json(entry) for entry in sessions],
            "managed": [_managed_json(record) for record in records.values()],
            "shadowed": [_shadowed_json(entry) for entry in shadowed],
        }
        print(json.dumps(document, indent=2), file=ctx.stdout)
    else:
        _print_table(credentials, sessions, now, ctx)
        _print_managed(records, ctx)
        for entry in shadowed:
            print(shadowed_line(entry), file=ctx.stdout)
    return 0


def _managed_json(record: AccountRecord) -> dict[str, Any]:
    return {
        "account": record.account,
        "profiles": [
            {"profile": p.profile, "served": p.served, "path": p.path} for p in record.profiles
        ],
        "cache_roles": list(record.cache_roles),
    }


def _shadowed_json(entry: ShadowedProfile) -> dict[str, Any]:
    return {
        "profile": entry.profile,
        "account": entry.account,
        "credentials_file": entry.credentials_path,
        "config_file": entry.config_path,
        "temporary_keys": entry.temporary,
        "used": "credentials file",
        "message": shadowed_line(entry),
    }


def _print_managed(records: Mapping[str, AccountRecord], ctx: Context) -> None:
    from jcsaml.managed import PROCESS

    for record in records.values():
        served = [
            f"{p.profile} ({'credential_process' if p.served == PROCESS else 'keys'})"
            for p in record.profiles
        ]
        count = len(record.cache_roles)
        cache = f"; credential-process cache entries: {count}" if count else ""
        print(
            f"Account {record.account} wrote: {', '.join(served) or 'no profile'}{cache}",
            file=ctx.stdout,
        )


def shadowed_line(entry: ShadowedProfile) -> str:
    """Which of the two ways the AWS tools use, and how to fix it."""
    kind = "temporary keys" if entry.temporary else "long-lived keys"
    if entry.temporary and entry.account:
        fix = f"remove them with: jcsaml configure -a {entry.account} --credential-process"
    else:
        fix = f"remove them from {entry.credentials_path} to use credential_process"
    return (
        f"Shadowed: profile {entry.profile!r} has credential_process in {entry.config_path} "
        f"and {kind} in {entry.credentials_path}; the AWS tools use the keys from "
        f"{entry.credentials_path}, not credential_process; {fix}"
    )


def _credential_json(entry: CredentialStatus, now: datetime) -> dict[str, Any]:
    return {
        "profile": entry.profile,
        "account": entry.account,
        "role_arn": entry.role_arn,
        "expiration": entry.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds_left": entry.seconds_left(now),
        "source": entry.source,
        "path": entry.path,
    }


def _session_json(entry: SessionStatus) -> dict[str, Any]:
    return {
        "username": entry.username,
        "console_url": entry.console_url,
        "accounts": list(entry.accounts),
        "saved": entry.saved,
    }


def _validity(seconds: int) -> str:
    if seconds <= 0:
        return "expired"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _print_table(
    credentials: Sequence[CredentialStatus],
    sessions: Sequence[SessionStatus],
    now: datetime,
    ctx: Context,
) -> None:
    if credentials:
        rows = [("PROFILE", "ACCOUNT", "ROLE", "VALID FOR", "WHERE")]
        rows += [
            (
                entry.profile or "-",
                entry.account or "-",
                entry.role_arn or "-",
                _validity(entry.seconds_left(now)),
                entry.source,
            )
            for entry in credentials
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            print("  ".join([*cells, row[-1]]), file=ctx.stdout)
    else:
        print("No credentials from jcsaml.", file=ctx.stdout)
    for session in sessions:
        state = "saved" if session.saved else "none saved"
        print(
            f"JumpCloud session of {session.username} ({', '.join(session.accounts)}): {state}",
            file=ctx.stdout,
        )
