"""``jcsaml setup``: the administrator's one-time work (IdP certificate, IAM provider and roles)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jcsaml.admin.iam_setup import SetupPlan
    from jcsaml.admin.metadata import IdpMetadata
    from jcsaml.cli import Context

NAME = "setup"
HELP = "administrator setup: IdP key and certificate, IAM SAML provider and roles"
DESCRIPTION = HELP + ". See jcsaml help admin for the whole runbook."
#: Setup works on files and AWS, not on a jcsaml account: of the common options it takes only
#: --debug, after the subcommand.
COMMON_OPTIONS = False
_CERT_HELP = "write the IdP signing key and self-signed certificate from an openssl config"
_AWS_HELP = "create or update the IAM SAML provider and the roles it may assume"
_CHECK_HELP = "read IAM back and report what would make AssumeRoleWithSAML fail"
_CERT_DETAILS = (
    ": CONFIG is read as openssl req -new -x509 -config reads it: [req], its distinguished-name "
    "section and its x509_extensions section give the subject, extensions, default_bits and "
    "default_md (encrypt_key, if present, must be no: JumpCloud takes the key unencrypted); other "
    "sections are listed as ignored. The validity is --days, else default_days in [req], else that "
    "of the CA section [ca] names, else 1095 days. Writes NAME.key (PEM, mode 0600) and NAME.crt "
    "(PEM), NAME being CONFIG's name without .cnf."
)
_AWS_DETAILS = (
    ", then print the Role and SessionDuration values for the JumpCloud AWS application. A second "
    "run with the same options changes nothing. A role ends up with exactly the managed policies "
    "given; inline policies are left alone."
)
_CHECK_DETAILS = (
    ": each SAML provider's certificate against the IdP's, each role's trust policy (provider, "
    "action, SAML:aud). One line per finding; exit status 1 when any would fail."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    # No default here: one would overwrite a --debug given before the command (main fills it in).
    debug = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    debug.add_argument(
        "--debug", action="store_true", help="log each step and show tracebacks (never secrets)"
    )
    commands = parser.add_subparsers(dest="setup_command", metavar="SUBCOMMAND", required=True)
    for name, summary, details, add, run in (
        ("cert", _CERT_HELP, _CERT_DETAILS, _add_cert, run_cert),
        ("aws", _AWS_HELP, _AWS_DETAILS, _add_aws, run_aws),
        ("check", _CHECK_HELP, _CHECK_DETAILS, _add_check, run_check),
    ):
        subcommand = commands.add_parser(
            name, parents=[debug], help=summary, description=summary + details
        )
        add(subcommand)
        subcommand.set_defaults(run=run)


def _add_cert(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", metavar="CONFIG", help="openssl-style config, e.g. production.cnf"
    )
    parser.add_argument(
        "--out-dir",
        metavar="DIR",
        default=".",
        help="existing directory to write to (default: this directory)",
    )
    parser.add_argument(
        "--days",
        type=int,
        metavar="N",
        help="validity in days (default: the config's default_days, else 1095)",
    )
    parser.add_argument(
        "--bits", type=int, choices=(2048, 3072, 4096), help="RSA key size (default_bits, 2048)"
    )
    parser.add_argument("--force", action="store_true", help="replace existing key and certificate")


def _add_idp_inputs(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--metadata", metavar="FILE", help="IdP metadata XML exported from JumpCloud"
    )
    source.add_argument(
        "--idp-cert", metavar="CRT", help="IdP certificate (the .crt jcsaml setup cert wrote)"
    )


def _add_aws_session(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", help="AWS profile of an IAM administrator (default: the normal AWS chain)"
    )
    parser.add_argument(
        "--region", help="region for the AWS calls; a cn-* or us-gov-* region picks that partition"
    )


def _add_aws(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider-name", required=True, help="IAM SAML provider, e.g. JumpCloud")
    _add_idp_inputs(parser)
    parser.add_argument(
        "--entity-id", help="JumpCloud's IdP Entity ID (with --idp-cert), e.g. JumpCloud"
    )
    parser.add_argument(
        "--sso-url",
        help="JumpCloud application URL for the metadata built from --idp-cert "
        "(default: https://sso.jumpcloud.com/saml2/aws)",
    )
    parser.add_argument(
        "--role",
        action="append",
        required=True,
        metavar="NAME=POLICY[,POLICY]",
        help="a role and its managed policies: readonly, admin, billing, ec2, an AWS managed "
        "policy name or a policy ARN; repeat for each role",
    )
    parser.add_argument(
        "--max-session-duration",
        type=int,
        metavar="SECONDS",
        help="each role's MaxSessionDuration, 3600-43200 (default: 3600 for new roles, "
        "existing roles keep theirs)",
    )
    parser.add_argument(
        "--saml-endpoint",
        action="append",
        default=[],
        metavar="REGION|global",
        help="a sign-in SAML endpoint the roles trust (SAML:aud): a region such as eu-west-1 "
        "(https://eu-west-1.signin.aws.amazon.com/saml, which AWS recommends) or global "
        "(https://signin.aws.amazon.com/saml); repeat for several. Endpoints the roles already "
        "trust are kept (default for new roles: global)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    _add_aws_session(parser)


def _add_check(parser: argparse.ArgumentParser) -> None:
    _add_idp_inputs(parser)
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE",
        help="role name or ARN to check; repeat (default: every role trusting a SAML provider)",
    )
    parser.add_argument(
        "--provider-name",
        help="the provider the roles must trust (default: any holding the IdP certificate)",
    )
    _add_aws_session(parser)


# --- cert -------------------------------------------------------------------------------------


def run_cert(args: argparse.Namespace, ctx: Context) -> int:
    import dataclasses

    from jcsaml.admin.certificate import write_idp_certificate
    from jcsaml.admin.openssl_config import MAX_DAYS, OPENSSL_REQ_DAYS, read_openssl_config
    from jcsaml.errors import InvalidSettingError

    config = Path(args.config)
    request = read_openssl_config(config)
    if args.days is not None:
        if not 1 <= args.days <= MAX_DAYS:
            raise InvalidSettingError(setting="--days", reason=f"expected 1 to {MAX_DAYS}")
        request = dataclasses.replace(request, days=args.days)
    if args.bits is not None:
        request = dataclasses.replace(request, bits=args.bits)
    name = config.name.removesuffix(".cnf") if config.name.endswith(".cnf") else config.stem
    written = write_idp_certificate(
        request, out_dir=Path(args.out_dir), name=name, force=args.force
    )
    out = ctx.stdout
    print(f"Read {config}: " + ", ".join(f"[ {name} ]" for name in request.read), file=out)
    if request.ignored or request.ignored_keys:
        unused = [f"[ {name} ]" for name in request.ignored]
        unused += [f"{key} in [ req ]" for key in request.ignored_keys]
        print(
            "  ignored (openssl req -x509 does not use them either): " + ", ".join(unused), file=out
        )
    if args.days is not None:
        print(f"  validity: {request.days} days (--days)", file=out)
    else:
        print(f"  validity: {request.days} days, from {request.days_from}", file=out)
        if request.openssl_would_use_30_days:
            print(
                f"  note: openssl req -x509 reads default_days only in [ req ]: from this file "
                f"it would have made a {OPENSSL_REQ_DAYS}-day certificate",
                file=out,
            )
    print(f"Wrote {written.key_path} (RSA {written.bits}, mode 0600)", file=out)
    print(f"  and {written.cert_path}: {written.subject}", file=out)
    print(f"  notBefore {written.not_before:%Y-%m-%d %H:%M:%S} UTC", file=out)
    print(f"  notAfter  {written.not_after:%Y-%m-%d %H:%M:%S} UTC", file=out)
    print(
        f"  SHA-256 fingerprint {written.sha256_fingerprint} (the one jcsaml pins)",
        file=out,
    )
    print(
        f"Next: upload both to the JumpCloud AWS application (IdP Private Key, IdP Certificate), "
        f"then run jcsaml setup aws --idp-cert {written.cert_path} --entity-id ENTITY_ID ...",
        file=out,
    )
    return 0


# --- aws --------------------------------------------------------------------------------------


def _idp_metadata(args: argparse.Namespace) -> IdpMetadata:
    from jcsaml.admin.metadata import (
        DEFAULT_SSO_URL,
        build_idp_metadata,
        load_certificate_file,
        load_metadata_file,
    )
    from jcsaml.errors import InvalidSettingError

    if args.metadata:
        if args.entity_id or args.sso_url:
            raise InvalidSettingError(
                setting="--entity-id/--sso-url", reason="the metadata file already gives them"
            )
        return load_metadata_file(Path(args.metadata))
    if not args.entity_id:
        raise InvalidSettingError(
            setting="--entity-id",
            reason="--idp-cert needs the IdP Entity ID set in the JumpCloud AWS application",
        )
    cert_pem = load_certificate_file(Path(args.idp_cert))
    return build_idp_metadata(
        cert_pem, entity_id=args.entity_id, sso_url=args.sso_url or DEFAULT_SSO_URL
    )


def run_aws(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.admin.iam_setup import (
        RoleSpec,
        SetupRequest,
        apply_setup,
        open_aws,
        plan_setup,
    )

    request = SetupRequest(
        provider_name=args.provider_name,
        metadata=_idp_metadata(args),
        roles=tuple(RoleSpec.parse(text) for text in args.role),
        max_session_duration=args.max_session_duration,
        saml_endpoints=tuple(args.saml_endpoint),
    )
    aws = open_aws(profile=args.profile, region=args.region, read_only=args.dry_run)
    partition, account = aws.identity()
    plan = plan_setup(request, aws, partition=partition, account=account)
    if not args.dry_run and plan.changes:
        apply_setup(plan, aws)
    if args.json:
        document = {"dry_run": bool(args.dry_run), **plan.to_json()}
        print(json.dumps(document, indent=2), file=ctx.stdout)
        return 0
    _print_plan(plan, dry_run=args.dry_run, ctx=ctx)
    return 0


def _print_plan(plan: SetupPlan, *, dry_run: bool, ctx: Context) -> None:
    out = ctx.stdout
    print(f"AWS account {plan.account} (partition {plan.partition})", file=out)
    if not plan.changes:
        print(
            f"No changes: the SAML provider and {len(plan.roles)} role(s) already match.",
            file=out,
        )
    else:
        verb = "Would" if dry_run else "Did"
        for change in plan.changes:
            print(f"  {verb} {change.summary}", file=out)
        if dry_run:
            print(f"Dry run: {len(plan.changes)} change(s) planned, nothing changed.", file=out)
        else:
            print(f"Made {len(plan.changes)} change(s).", file=out)
    print("", file=out)
    print(
        "In the JumpCloud AWS application (SSO tab), set these attributes "
        "(one Role value per role the application grants):",
        file=out,
    )
    for value in plan.role_attribute_values():
        print(f"  Role = {value}", file=out)
    print(f"  SessionDuration = {plan.session_duration}", file=out)
    if plan.endpoints:
        print(
            "and its ACS URL to the sign-in SAML endpoint it posts to, one the roles trust: "
            + " or ".join(plan.endpoints),
            file=out,
        )


# --- check ------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.admin.iam_check import check_setup
    from jcsaml.admin.iam_setup import open_aws
    from jcsaml.admin.metadata import load_certificate_file, load_metadata_file
    from jcsaml.errors import SetupCheckFailedError

    if args.metadata:
        cert_pem = load_metadata_file(Path(args.metadata)).certificates[0]
    else:
        cert_pem = load_certificate_file(Path(args.idp_cert))
    aws = open_aws(profile=args.profile, region=args.region, read_only=True)
    partition, account = aws.identity()
    report = check_setup(
        cert_pem,
        aws,
        partition=partition,
        account=account,
        roles=args.role,
        provider_name=args.provider_name,
    )
    for row in report.rows:
        print(row, file=ctx.stdout)
    if report.failures:
        ctx.stdout.flush()
        raise SetupCheckFailedError(count=report.failures)
    print("No problems found.", file=ctx.stdout)
    return 0
