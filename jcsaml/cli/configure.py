"""``jcsaml configure``: create or update one IdP account in the config file."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcsaml.cli import Context
    from jcsaml.config import Account
    from jcsaml.prompter import Prompter

HELP = "create or update an IdP account in the config file"


def add_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser], environ: Mapping[str, str]
) -> None:
    parser = subparsers.add_parser(
        "configure",
        parents=parents,
        help=HELP,
        description=HELP + ". Without --skip-prompt, "
        "asks for what is missing and offers the current values; other accounts and comments in "
        "the file are kept.",
    )
    parser.add_argument(
        "--url",
        help="JumpCloud SAML application URL, e.g. https://sso.jumpcloud.com/saml2/aws-production",
    )
    parser.add_argument(
        "--console-url",
        help="JumpCloud console URL (default https://console.jumpcloud.com; EU tenants differ)",
    )
    parser.add_argument("--username", help="JumpCloud username (e-mail)")
    parser.add_argument(
        "--mfa",
        type=str.upper,
        choices=["AUTO", "TOTP", "PUSH", "WEBAUTHN"],
        help="MFA factor to use (default: Auto)",
    )
    parser.add_argument("--role", help="IAM role ARN to assume without asking")
    parser.add_argument(
        "--profile", help="AWS profile to write credentials to (default: the account name)"
    )
    parser.add_argument("--region", help="AWS region for STS and the written profile")
    parser.add_argument(
        "--session-duration", metavar="SECONDS", help="credentials lifetime to request, 900-43200"
    )
    parser.add_argument(
        "--idp-cert",
        metavar="PATH",
        help="JumpCloud IdP certificate or metadata XML: turns on signature checks",
    )
    parser.add_argument(
        "--saml-nameid",
        metavar="NAMEID",
        help="another NameID (e-mail) JumpCloud may issue this user's assertions to",
    )
    parser.add_argument(
        "--credentials-file",
        metavar="PATH",
        help="AWS credentials file to write (default: AWS_SHARED_CREDENTIALS_FILE "
        "or ~/.aws/credentials)",
    )
    parser.add_argument("--skip-prompt", action="store_true", help="never ask; use flags only")
    parser.set_defaults(run=run)


#: Flag destinations and the config keys they set.
_FLAG_KEYS = (
    ("url", "url"),
    ("console_url", "console_url"),
    ("username", "username"),
    ("mfa", "mfa"),
    ("role", "role_arn"),
    ("profile", "aws_profile"),
    ("region", "region"),
    ("session_duration", "aws_session_duration"),
    ("idp_cert", "idp_cert"),
    ("saml_nameid", "saml_nameid"),
    ("credentials_file", "credentials_file"),
)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.config import (
        Account,
        config_path,
        find_account,
        parse_duration,
        update_account,
        validate_account_name,
        validate_setting,
    )
    from jcsaml.errors import InputRequiredError
    from jcsaml.prompter import NonInteractivePrompter, TerminalPrompter

    path = config_path(ctx.environ, args.config)
    name = validate_account_name(args.idp_account)
    # Every flag is checked before anything is asked or written.
    changes: dict[str, str | None] = {}
    for dest, key in _FLAG_KEYS:
        value = getattr(args, dest)
        if value is None:
            continue
        if dest == "mfa":
            value = _mfa_name(value)
        elif dest in ("idp_cert", "credentials_file") and value:
            value = _absolute(value, ctx.environ)
        # Spaces around a value are a typing slip; a line break is refused (it would add a key).
        value = value.strip(" \t") if value else value
        changes[key] = validate_setting(key, value) if value else None
    current = find_account(name, path=path) or Account(name=name, url="")
    given: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "aws_session_duration":
            given["session_duration"] = parse_duration(value) if value else None
        else:
            given[key] = value or ""
    account = dataclasses.replace(current, **given)
    if args.skip_prompt:
        prompter: Prompter = NonInteractivePrompter(ctx.stderr)
    else:
        prompter = TerminalPrompter(stdin=ctx.stdin, stderr=ctx.stderr)
        account = _ask_missing(account, given, prompter)
        # Only answers that differ from what the file holds are written.
        for key in ("url", "username", "mfa", "aws_profile"):
            if key not in changes and getattr(account, key) != getattr(current, key):
                changes[key] = validate_setting(key, getattr(account, key)) or None
    if not account.url:
        raise InputRequiredError(what="the JumpCloud SAML application URL", how="pass --url")
    if changes.get("idp_cert"):
        # The fingerprint is kept, so a login notices when the file is replaced later.
        changes["idp_cert_sha256"] = _check_idp_cert(str(changes["idp_cert"]))
    changed = update_account(name, changes, path=path, environ=ctx.environ)
    saved = find_account(name, path=path) or account
    if not changed:
        print(
            f"IdP account {name!r} in {path} is unchanged (AWS profile {saved.profile!r}).",
            file=ctx.stdout,
        )
        return 0
    print(f"Saved IdP account {name!r} in {path} (AWS profile {saved.profile!r}):", file=ctx.stdout)
    for key, (old, new) in changed.items():
        if old is None:
            print(f"  set {key} = {new}", file=ctx.stdout)
        elif new is None:
            print(f"  removed {key} (was {old})", file=ctx.stdout)
        else:
            print(f"  changed {key}: {old} -> {new}", file=ctx.stdout)
    return 0


def _ask_missing(account: Account, given: Mapping[str, Any], prompter: Prompter) -> Account:
    """Ask for each basic setting not given as a flag, offering the current value."""
    questions = (
        ("url", "JumpCloud SAML application URL", "pass --url"),
        ("username", "JumpCloud username", "pass --username"),
        ("mfa", "MFA factor (Auto, TOTP, PUSH, WEBAUTHN)", "pass --mfa"),
        ("aws_profile", "AWS profile to write", "pass --profile"),
    )
    changes: dict[str, Any] = {}
    for key, label, how in questions:
        if given.get(key) is None:
            default = getattr(account, key) or (account.name if key == "aws_profile" else "")
            answer = prompter.text(label, how=how, default=default).strip()
            changes[key] = (_mfa_name(answer) or "Auto") if key == "mfa" else answer
    return dataclasses.replace(account, **changes)


def _mfa_name(value: str | None) -> str | None:
    if value is None:
        return None
    upper = value.strip().upper()
    return "Auto" if upper == "AUTO" else upper


def _absolute(path: str | None, environ: Mapping[str, str]) -> str | None:
    from jcsaml.config import expand_home

    return os.path.abspath(expand_home(path, environ)) if path else None


def _check_idp_cert(path: str) -> str:
    """Refuse a certificate file login would refuse; return its certificate's SHA-256."""
    from jcsaml.signin import read_idp_certificate_file

    return read_idp_certificate_file(path)[1]
