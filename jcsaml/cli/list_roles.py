"""``jcsaml list-roles``: the AWS roles JumpCloud offers, from one sign-in."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from jcsaml.cli.options import (
    MFA_TOKEN,
    PASSWORD,
    USERNAME,
    add_inputs,
    add_record_option,
    add_skip_prompt,
    chosen_account,
    sign_in_inputs,
)
from jcsaml.cli.saml2aws_flags import add_flags, for_this_sign_in

if TYPE_CHECKING:
    from jcsaml.cli import Context

NAME = "list-roles"
HELP = "list the AWS roles JumpCloud offers for the account (one sign-in, no AWS call)"
COLUMNS = ("ACCOUNT ID", "ALIAS", "ROLE NAME", "ROLE ARN", "PRINCIPAL ARN")
DESCRIPTION = HELP + ". Account aliases come from the account's account_aliases setting."


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    # The password's help without login's advice on where to keep it.
    password = dataclasses.replace(
        PASSWORD, help="JumpCloud password [env JCSAML_PASSWORD or SAML2AWS_PASSWORD]"
    )
    add_inputs(parser, environ, [USERNAME, password, MFA_TOKEN])
    parser.add_argument(
        "--force", action="store_true", help="sign in again even if a JumpCloud session is saved"
    )
    add_skip_prompt(parser)
    add_flags(parser, "list-roles", environ)
    add_record_option(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    import json

    from jcsaml.roles import list_roles

    account = chosen_account(args, ctx)
    account = for_this_sign_in(args, account, ctx.environ)
    roles = list_roles(
        account,
        force=args.force,
        prompter=ctx.prompter(args.skip_prompt),
        **sign_in_inputs(args, ctx),
    )
    if args.json:
        print(json.dumps([role.to_json() for role in roles], indent=2), file=ctx.stdout)
        return 0
    rows = [COLUMNS] + [
        (r.account_id, r.alias or "-", r.role_name, r.role_arn, r.principal_arn) for r in roles
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]), file=ctx.stdout)
    return 0
