"""``jcsaml doctor``: one OK/WARN/FAIL row per check of this machine, without signing in."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jcsaml.cli import Context

NAME = "doctor"
HELP = "check the config, keyring, clock, network, certificate and files (no sign-in)"
DESCRIPTION = (
    "Check this machine end to end without signing in: every account of the config (or the one "
    "given with -a), the OS keyring, the clock against JumpCloud's and STS's, the network path "
    "(DNS, TLS, proxy) to url, console_url and the STS endpoint, the pinned certificate, the "
    "permissions of the config, credentials, cache and lock files, the credential_process lines of "
    "~/.aws/config, and the versions in use. One row per check; exit status 1 when any check "
    "FAILs. Requests go only to the configured hosts, and no secret is shown."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.config import config_path
    from jcsaml.display import printable
    from jcsaml.doctor import as_json, diagnose, failed

    # -a (or JCSAML_IDP_ACCOUNT) narrows the checks to that account; else every account.
    given = getattr(args, "idp_accounts", None) or (
        [ctx.environ["JCSAML_IDP_ACCOUNT"]] if ctx.environ.get("JCSAML_IDP_ACCOUNT") else None
    )
    findings = diagnose(
        config=config_path(ctx.environ, args.config), accounts=given, environ=ctx.environ
    )
    if args.json:
        print(json.dumps(as_json(findings), indent=2), file=ctx.stdout)
    else:
        width = max((len(f.check) for f in findings), default=0)
        setting_width = max((len(f.setting) for f in findings if len(f.setting) < 24), default=0)
        for finding in findings:
            where = f"[{finding.account}] " if finding.account else ""
            print(
                printable(
                    f"{finding.status:<4}  {finding.check:<{width}}  "
                    f"{finding.setting:<{setting_width}}  {where}{finding.detail}"
                ),
                file=ctx.stdout,
            )
    return 1 if failed(findings) else 0
