"""saml2aws's command line, flag by flag: what jcsaml does with each one.

Teams switch tools by replacing ``saml2aws`` with ``jcsaml`` in their runbooks and scripts. Every
global flag of saml2aws and every flag of its ``configure``, ``login``, ``exec``, ``console``,
``script`` and ``list-roles`` commands is either accepted with saml2aws's meaning and short form,
or refused in one line that names jcsaml's equivalent or says why it does not apply.

:data:`SAML2AWS_FLAGS` is the table (docs/configuration.md shows it); :func:`add_flags` adds to a
command's parser the flags it does not define itself; :func:`refusal` is the one line for a
refused flag or variable, checked by :func:`jcsaml.cli.main` after parsing.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jcsaml import variables
from jcsaml.cli.options import POLICIES, Input, RepeatableValue, add_inputs

if TYPE_CHECKING:
    from jcsaml.config import Account

#: saml2aws's commands that jcsaml has too.
COMMANDS = ("configure", "login", "exec", "console", "script", "list-roles")
_SIGN_IN = ("login", "exec", "console", "script", "list-roles")
_OTHER_IDP = "jcsaml speaks JumpCloud only"
_NO_SAML_CACHE = (
    "jcsaml keeps no SAML assertions (each is good for one exchange); it reuses the "
    "JumpCloud session and the cached credentials instead: drop the flag"
)


@dataclass(frozen=True)
class Saml2awsFlag:
    """One saml2aws flag. ``refused`` is the reason it is refused (None: accepted);
    ``jcsaml`` says what jcsaml does with it."""

    names: tuple[str, ...]
    commands: tuple[str, ...]
    jcsaml: str
    refused: str | None = None
    takes_value: bool = True
    variable: str | None = None


SAML2AWS_FLAGS: tuple[Saml2awsFlag, ...] = (
    # Global flags (saml2aws takes them with every command).
    Saml2awsFlag(("--verbose",), COMMANDS, "same as --debug", takes_value=False),
    Saml2awsFlag(
        ("--quiet",),
        COMMANDS,
        "the 'Signing in...' progress line is not printed; errors still are",
        takes_value=False,
    ),
    Saml2awsFlag(
        ("-i", "--provider"),
        COMMANDS,
        "refused",
        refused="--provider is obsolete in saml2aws too, and " + _OTHER_IDP + ": select the "
        "account with -a NAME",
    ),
    Saml2awsFlag(
        ("--config",),
        COMMANDS,
        "the config file (jcsaml reads saml2aws's keys); default ~/.jcsaml",
        variable="SAML2AWS_CONFIGFILE",
    ),
    Saml2awsFlag(
        ("-a", "--idp-account"), COMMANDS, "the account to use", variable="SAML2AWS_IDP_ACCOUNT"
    ),
    Saml2awsFlag(
        ("--idp-provider",),
        COMMANDS,
        "JumpCloud (any case) is accepted and changes nothing; any other provider is refused",
        variable="SAML2AWS_IDP_PROVIDER",
    ),
    Saml2awsFlag(
        ("--mfa",),
        COMMANDS,
        "the MFA factor (Auto, TOTP, PUSH, WEBAUTHN): saved by configure, used for this "
        "sign-in by the others",
        variable="SAML2AWS_MFA",
    ),
    Saml2awsFlag(
        ("-s", "--skip-verify"),
        COMMANDS,
        "refused",
        refused="jcsaml never turns TLS verification off; for a private CA set "
        "REQUESTS_CA_BUNDLE to its certificate",
        takes_value=False,
        variable="SAML2AWS_SKIP_VERIFY",
    ),
    Saml2awsFlag(
        ("--url",),
        COMMANDS,
        "the JumpCloud application URL: saved by configure, used for this sign-in by the others",
        variable="SAML2AWS_URL",
    ),
    Saml2awsFlag(("--username",), COMMANDS, "the JumpCloud username", variable="SAML2AWS_USERNAME"),
    Saml2awsFlag(
        ("--password",),
        _SIGN_IN,
        "the JumpCloud password (prefer the variable or the keyring)",
        variable="SAML2AWS_PASSWORD",
    ),
    Saml2awsFlag(
        ("--password",),
        ("configure",),
        "refused",
        refused="configure keeps no password: pass --password to jcsaml login (or set "
        "JCSAML_PASSWORD), which saves it in the OS keyring",
    ),
    Saml2awsFlag(
        ("--mfa-token",), _SIGN_IN, "the one-time MFA code", variable="SAML2AWS_MFA_TOKEN"
    ),
    Saml2awsFlag(
        ("--mfa-token",),
        ("configure",),
        "refused",
        refused="configure asks for no MFA code: pass --mfa-token to jcsaml login",
    ),
    Saml2awsFlag(
        ("--role",),
        COMMANDS,
        "the role to assume (an ARN or a role name); list-roles lists every role",
        variable="SAML2AWS_ROLE",
    ),
    Saml2awsFlag(
        ("--aws-urn",),
        COMMANDS,
        "AWS's audiences (urn:amazon:webservices, its govcloud and cn forms, the sign-in "
        "URLs) are accepted and change nothing: jcsaml accepts each of them; others are refused",
        variable="SAML2AWS_AWS_URN",
    ),
    Saml2awsFlag(
        ("--skip-prompt",), COMMANDS, "never ask; a missing input is an error", takes_value=False
    ),
    Saml2awsFlag(
        ("--session-duration",),
        COMMANDS,
        "the credentials' lifetime in seconds, 900-43200",
        variable="SAML2AWS_SESSION_DURATION",
    ),
    Saml2awsFlag(
        ("--disable-keychain",),
        COMMANDS,
        "the OS keyring is neither read nor written (no saved password or session)",
        takes_value=False,
        variable="SAML2AWS_DISABLE_KEYCHAIN",
    ),
    Saml2awsFlag(
        ("-r", "--region"),
        COMMANDS,
        "the AWS region: saved by configure, used for STS and the profile by the others",
        variable="SAML2AWS_REGION",
    ),
    Saml2awsFlag(
        ("--prompter",),
        COMMANDS,
        "refused",
        refused="jcsaml asks on the terminal and has no pinentry prompter: drop the flag",
    ),
    Saml2awsFlag(
        ("--policyfile",),
        ("login", "exec", "console", "script"),
        "a JSON session policy file passed to AssumeRoleWithSAML (and --exec-profile's "
        "AssumeRole) as Policy",
        variable="SAML2AWS_POLICY_FILE",
    ),
    Saml2awsFlag(
        ("--policyarns",),
        ("login", "exec", "console", "script"),
        "managed session policy ARNs (comma-separated) passed as PolicyArns",
        variable="SAML2AWS_POLICY_ARNS",
    ),
    Saml2awsFlag(
        ("--try-no-prompt",),
        COMMANDS,
        "accepted and changes nothing: jcsaml asks only for what it has no saved answer for",
        takes_value=False,
    ),
    # Settings of other identity providers.
    *(
        Saml2awsFlag(
            (name,), commands, "refused", refused=f"{name} is a {idp} setting; {_OTHER_IDP}"
        )
        for name, commands, idp in (
            ("--app-id", ("configure",), "OneLogin"),
            ("--client-id", ("configure", "login"), "OneLogin"),
            ("--client-secret", ("configure", "login"), "OneLogin"),
            ("--subdomain", ("configure",), "OneLogin"),
            ("--mfa-ip-address", ("configure", "login"), "OneLogin"),
            ("--resource-id", ("configure",), "F5 APM"),
        )
    ),
    *(
        Saml2awsFlag(
            (name,),
            commands,
            "refused",
            refused=f"{name} is an Okta setting; {_OTHER_IDP}",
            takes_value=False,
        )
        for name, commands in (
            ("--disable-sessions", ("configure", "login")),
            ("--disable-remember-device", ("configure", "login")),
        )
    ),
    Saml2awsFlag(
        ("--duo-mfa-option",),
        ("login",),
        "refused",
        refused="jcsaml signs in with JumpCloud's own factors: choose one with --mfa TOTP, "
        "PUSH or WEBAUTHN",
    ),
    Saml2awsFlag(
        ("--download-browser-driver",),
        ("login",),
        "refused",
        refused="--download-browser-driver is for saml2aws's Browser provider; " + _OTHER_IDP,
        takes_value=False,
    ),
    Saml2awsFlag(
        ("--cache-saml",),
        ("configure", "login", "list-roles"),
        "refused",
        refused=_NO_SAML_CACHE,
        takes_value=False,
    ),
    Saml2awsFlag(
        ("--cache-file",), ("configure", "login", "list-roles"), "refused", refused=_NO_SAML_CACHE
    ),
    # Command flags.
    Saml2awsFlag(
        ("-p", "--profile"),
        ("configure", "login", "exec", "console", "script"),
        "the AWS profile credentials are written to",
        variable="SAML2AWS_PROFILE",
    ),
    Saml2awsFlag(
        ("--credentials-file",),
        ("configure", "login", "exec", "console", "script"),
        "the AWS credentials file: saved by configure, used for this run by the others",
        variable="SAML2AWS_CREDENTIALS_FILE",
    ),
    Saml2awsFlag(
        ("--force",),
        ("login", "console"),
        "sign in again even if the profile holds valid credentials",
        takes_value=False,
    ),
    Saml2awsFlag(
        ("--credential-process",),
        ("login",),
        "refused",
        refused="run jcsaml credential-process -a NAME instead (or jcsaml configure "
        "--credential-process to put it in ~/.aws/config)",
        takes_value=False,
    ),
    Saml2awsFlag(
        ("--exec-profile",),
        ("exec", "console"),
        "run as the role of that AWS config profile, assumed with the account's credentials",
        variable="SAML2AWS_EXEC_PROFILE",
    ),
    Saml2awsFlag(
        ("--link",), ("console",), "print the sign-in URL instead of opening it", takes_value=False
    ),
    Saml2awsFlag(
        ("--shell",),
        ("script",),
        "bash, /bin/sh (POSIX, as bash), powershell, fish and env; also zsh and json",
    ),
)

_MFA = {"AUTO": "Auto", "TOTP": "TOTP", "PUSH": "PUSH", "WEBAUTHN": "WEBAUTHN"}


class _Refuse(RepeatableValue):
    """A refused saml2aws flag: each use noted in ``saml2aws_refusals``, then reported in one
    line after parsing."""

    def entry(self, values: str | Sequence[Any] | None, option_string: str | None) -> str:
        return f"{option_string} is not supported: {self.help_text}"

    help_text = ""


def _refuser(reason: str) -> type[_Refuse]:
    return type("Refuse", (_Refuse,), {"help_text": reason})


def add_flags(parser: argparse.ArgumentParser, command: str, environ: Mapping[str, str]) -> None:
    """Add to ``command``'s parser the saml2aws flags it does not define itself: refused ones
    (hidden from --help) and the accepted ones that change only what a sign-in uses."""
    for entry in SAML2AWS_FLAGS:
        if command not in entry.commands:
            continue
        parser.set_defaults(saml2aws_command=command)
        names = [name for name in entry.names if name not in parser._option_string_actions]
        if not names:
            continue
        if entry.refused is not None:
            parser.add_argument(
                *names,
                action=_refuser(entry.refused),
                nargs=None if entry.takes_value else 0,
                dest="saml2aws_refusal",
                default=None,
                help=argparse.SUPPRESS,
            )
            continue
        _add_accepted(parser, entry, names, environ)


#: add_argument's keyword arguments for each accepted flag that only changes what a sign-in uses,
#: by its long name.
_ACCEPTED: dict[str, dict[str, Any]] = {
    "--quiet": {"action": "store_true", "help": "no progress line on stderr"},
    "--idp-provider": {
        "metavar": "JumpCloud",
        "help": "accepted for saml2aws's command lines: JumpCloud",
    },
    "--mfa": {
        "type": str.upper,
        "choices": tuple(_MFA),
        "help": "MFA factor for this sign-in [env SAML2AWS_MFA; default: the account's]",
    },
    "--url": {
        "metavar": "URL",
        "help": "JumpCloud application URL for this sign-in [env SAML2AWS_URL; default: the "
        "account's]",
    },
    "--aws-urn": {"metavar": "URN", "help": argparse.SUPPRESS},
    "--disable-keychain": {
        "action": "store_true",
        "help": "neither read nor save the password or session in the OS keyring "
        "[env SAML2AWS_DISABLE_KEYCHAIN]",
    },
    "--region": {
        "metavar": "REGION",
        "help": "AWS region for this run [env SAML2AWS_REGION; default: the account's]",
    },
    "--credentials-file": {
        "metavar": "PATH",
        "help": "AWS credentials file for this run [env SAML2AWS_CREDENTIALS_FILE; default: "
        "the account's]",
    },
    "--try-no-prompt": {"action": "store_true", "help": argparse.SUPPRESS},
    # list-roles lists every role for any duration, as saml2aws's list-roles does.
    "--role": {"help": argparse.SUPPRESS},
    "--session-duration": {"help": argparse.SUPPRESS},
    "--skip-prompt": {"action": "store_true", "help": argparse.SUPPRESS},
}


def _add_accepted(
    parser: argparse.ArgumentParser,
    entry: Saml2awsFlag,
    names: list[str],
    environ: Mapping[str, str],
) -> None:
    long = entry.names[-1]
    if long in _ACCEPTED:
        parser.add_argument(*names, **_ACCEPTED[long])
    elif long == "--exec-profile":
        Input(
            "exec_profile",
            "open the console as the role of PROFILE in the AWS config file (its role_arn), "
            "assumed with the account's credentials [env SAML2AWS_EXEC_PROFILE]",
            metavar="PROFILE",
            flags=tuple(names),
        ).add_to(parser, environ)
    elif long == "--policyarns":  # --policyfile comes with it
        add_inputs(parser, environ, POLICIES)


def refusal(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The one line for a refused saml2aws flag or variable given to this command, else None."""
    refused = getattr(args, "saml2aws_refusals", None)
    if refused:
        return str(refused[0])
    command = getattr(args, "saml2aws_command", None)
    if command is None:
        return None
    provider = getattr(args, "idp_provider", None)
    source = "--idp-provider"
    if provider is None:
        provider, source = variables.lookup("idp_provider", environ), "SAML2AWS_IDP_PROVIDER"
    if provider is not None and provider.strip().lower() != "jumpcloud":
        return f"{source} {provider} is not supported: {_OTHER_IDP} (use JumpCloud or drop it)"
    urn = getattr(args, "aws_urn", None)
    source = "--aws-urn"
    if urn is None:
        urn, source = variables.lookup("aws_urn", environ), "SAML2AWS_AWS_URN"
    if urn is not None:
        from jcsaml.saml import AWS_AUDIENCES

        if urn.strip() not in AWS_AUDIENCES:
            return (
                f"{source} {urn} is not an AWS sign-in audience; jcsaml accepts "
                f"{', '.join(sorted(AWS_AUDIENCES))}: drop it"
            )
    if variables.flag("skip_verify", environ):
        return (
            "SAML2AWS_SKIP_VERIFY is not supported: jcsaml never turns TLS verification off; "
            "unset it (for a private CA set REQUESTS_CA_BUNDLE to its certificate)"
        )
    return None


def for_this_sign_in(
    args: argparse.Namespace, account: Account, environ: Mapping[str, str]
) -> Account:
    """The account with saml2aws's per-run settings applied: --url, --mfa, -r/--region,
    --credentials-file and their SAML2AWS_* variables (a flag wins over its variable)."""
    from jcsaml.config import validate_setting
    from jcsaml.errors import InvalidSettingError

    changes: dict[str, Any] = {}
    for dest, key in (
        ("url", "url"),
        ("mfa", "mfa"),
        ("region", "region"),
        ("credentials_file", "credentials_file"),
    ):
        given = getattr(args, dest, None)
        value = given or variables.lookup(dest, environ)
        if not value:
            continue
        try:
            changes[dest] = validate_setting(key, value)
        except InvalidSettingError as exc:
            where = "--" + dest.replace("_", "-") if given else variables.VARIABLES[dest][1]
            raise InvalidSettingError(setting=where, reason=exc.reason) from None
    arns = getattr(args, "policyarns", None)
    if arns:
        from jcsaml.config import parse_policy_arns

        changes["policy_arns"] = parse_policy_arns(arns, setting="--policyarns")
    if getattr(args, "policyfile", None):
        changes["policy_file"] = args.policyfile
    return dataclasses.replace(account, **changes) if changes else account


#: saml2aws's config keys (``~/.saml2aws``) and what jcsaml does with each.
SAML2AWS_KEYS: tuple[tuple[str, str], ...] = (
    ("url, username, mfa, role_arn, aws_profile, region, credentials_file", "the same key"),
    (
        "aws_session_duration",
        "the same key; the import leaves out 3600, saml2aws's default, so the assertion's "
        "SessionDuration applies",
    ),
    ("policy_arn_list", "policy_arns (session policies passed as PolicyArns)"),
    ("policy_file", "policy_file (a JSON session policy passed as Policy)"),
    ("provider", "must be JumpCloud; other sections are not imported"),
    (
        "skip_verify, timeout, aws_urn, saml_cache, disable_remember_device, disable_sessions, "
        "download_browser_driver, headless",
        "left out silently when they hold saml2aws's defaults; skip_verify = true is reported "
        "(TLS is always verified); any AWS aws_urn is accepted without a setting",
    ),
    (
        "app_id, mfa_ip_address, resource_id, subdomain, saml_cache_file, target_url, "
        "http_attempts_count, http_retry_delay, prompter, name",
        "not used; reported by the import when set",
    ),
)


def docs_table() -> str:
    """The "Coming from saml2aws" tables of docs/configuration.md, from the data above."""
    lines = ["| saml2aws flag | saml2aws commands | jcsaml |", "|---|---|---|"]
    for entry in SAML2AWS_FLAGS:
        names = ", ".join(f"`{name}`" for name in entry.names)
        what = f"refused: {entry.refused}" if entry.refused else entry.jcsaml
        if entry.variable:
            what += f" (also `{entry.variable}`)"
        commands = "all" if entry.commands == COMMANDS else ", ".join(entry.commands)
        lines.append(f"| {names} | {commands} | {what} |")
    lines += ["", "| saml2aws variable | jcsaml |", "|---|---|"]
    for name, (own, theirs) in variables.VARIABLES.items():
        flag = "--" + name.replace("_", "-").replace("policy-", "policy")
        what = f"as `{flag}`"
        if own:
            what += f"; `{own}` wins when both are set"
        if name in ("idp_provider", "aws_urn", "skip_verify"):
            what = f"checked as `{flag}` is (refused unless it would change nothing)"
        lines.append(f"| `{theirs}` | {what} |")
    lines.append(
        "| other `SAML2AWS_*` (OneLogin, Okta, Duo, browser and SAML-cache settings) | ignored |"
    )
    lines += ["", "| saml2aws config key | jcsaml |", "|---|---|"]
    lines += [f"| {keys} | {what} |" for keys, what in SAML2AWS_KEYS]
    return "\n".join(lines) + "\n"
