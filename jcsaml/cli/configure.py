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


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.config import Account, config_path, find_account, parse_duration, save_account
    from jcsaml.errors import InputRequiredError
    from jcsaml.prompter import NonInteractivePrompter, TerminalPrompter

    path = config_path(ctx.environ, args.config)
    name = args.idp_account
    current = find_account(name, path=path) or Account(name=name, url="")
    given: dict[str, Any] = {
        "url": args.url,
        "console_url": args.console_url,
        "username": args.username,
        "mfa": _mfa_name(args.mfa),
        "role_arn": args.role,
        "aws_profile": args.profile,
        "region": args.region,
        "session_duration": parse_duration(args.session_duration)
        if args.session_duration
        else None,
        "idp_cert": _absolute(args.idp_cert, ctx.environ),
        "saml_nameid": args.saml_nameid,
        "credentials_file": _absolute(args.credentials_file, ctx.environ),
    }
    account = dataclasses.replace(current, **{k: v for k, v in given.items() if v is not None})
    if args.skip_prompt:
        prompter: Prompter = NonInteractivePrompter(ctx.stderr)
    else:
        prompter = TerminalPrompter(stdin=ctx.stdin, stderr=ctx.stderr)
        account = _ask_missing(account, given, prompter)
    if not account.url:
        raise InputRequiredError(what="the JumpCloud SAML application URL", how="pass --url")
    if given["idp_cert"]:
        # The fingerprint is kept, so a login notices when the file is replaced later.
        account = dataclasses.replace(account, idp_cert_sha256=_check_idp_cert(account.idp_cert))
    save_account(account, path=path)
    print(
        f"Saved IdP account {name!r} in {path} (AWS profile {account.profile!r}).", file=ctx.stdout
    )
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
