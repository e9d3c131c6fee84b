"""``jcsaml configure``: create or update one IdP account in the config file."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jcsaml.config import DEFAULT_CONSOLE_URL
from jcsaml.variables import lookup

if TYPE_CHECKING:
    from jcsaml.cli import Context
    from jcsaml.config import Account
    from jcsaml.prompter import Prompter

NAME = "configure"
HELP = "create or update an IdP account in the config file"
SAML2AWS_DEFAULT = "~/.saml2aws"
# Flags that describe one account: meaningless together with --import-saml2aws.
_ACCOUNT_FLAGS = (
    "url",
    "console_url",
    "username",
    "mfa",
    "role",
    "profile",
    "region",
    "session_duration",
    "idp_cert",
    "credentials_file",
    "federation_url",
    "account_aliases",
    "profile_template",
)
DESCRIPTION = (
    HELP + ". Without --skip-prompt, asks for what is missing (for a new account: URL, username, "
    "MFA factor, AWS profile), checking each answer as it is given; other accounts and comments in "
    "the file are kept."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
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
    parser.add_argument(
        "--role", help="role to assume without asking, as an IAM role ARN or a role name"
    )
    parser.add_argument(
        "-p",
        "--profile",
        help="AWS profile to write credentials to (default: the account name)",
    )
    parser.add_argument("-r", "--region", help="AWS region for STS and the written profile")
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
    parser.add_argument(
        "--federation-url",
        metavar="URL",
        help="AWS federation endpoint for jcsaml console (default: the partition's own)",
    )
    parser.add_argument(
        "--account-aliases",
        metavar="ID:ALIAS,...",
        help="names for AWS account ids in list-roles, e.g. 012345678987:acme-prod",
    )
    parser.add_argument(
        "--credential-process",
        action="store_true",
        help="also set credential_process = jcsaml credential-process -a NAME in the "
        "profile of the AWS config file, so AWS tools get credentials on demand",
    )
    parser.add_argument(
        "--profile-template",
        metavar="TEMPLATE",
        help="profile names when login takes several roles, e.g. {account}-{role} "
        "(fields: {account} alias or id, {account_id}, {role}, {idp_account})",
    )
    parser.add_argument(
        "--discover",
        action="store_true",
        help="sign in (through -a NAME, or --url/--username/--console-url), find the AWS "
        "applications JumpCloud offers, and create one account per application",
    )
    parser.add_argument("--skip-prompt", action="store_true", help="never ask; use flags only")
    from jcsaml.cli.options import add_record_option

    add_record_option(parser)  # a sign-in happens with --discover
    parser.add_argument(
        "--import-saml2aws",
        nargs="?",
        const=SAML2AWS_DEFAULT,
        metavar="PATH",
        help="copy the JumpCloud accounts of a saml2aws config file (default ~/.saml2aws); "
        "the file is only read",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --import-saml2aws: replace accounts that already exist",
    )
    parser.add_argument(
        "--rename",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="rename an account; its AWS profile, its credential_process lines and the record "
        "of what it wrote follow",
    )
    from jcsaml.cli.saml2aws_flags import add_flags

    add_flags(parser, "configure", environ)


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
    ("federation_url", "federation_url"),
    ("account_aliases", "account_aliases"),
    ("profile_template", "profile_template"),
)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.config import (
        Account,
        config_path,
        find_account,
        parse_account_aliases,
        parse_duration,
        update_account,
        validate_account_name,
        validate_setting,
    )
    from jcsaml.errors import InputRequiredError

    if args.rename is not None:
        return rename(args, ctx)
    if args.import_saml2aws is not None:
        return import_saml2aws(args, ctx)
    if args.discover:
        return discover(args, ctx)
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
        if dest == "session_duration" and value:
            parse_duration(value, setting="--session-duration")  # the error names the flag
        changes[key] = validate_setting(key, value) if value else None
    existing = find_account(name, path=path)
    current = existing or Account(name=name, url="")
    given: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "aws_session_duration":
            given["session_duration"] = parse_duration(value) if value else None
        elif key == "account_aliases":
            given[key] = parse_account_aliases(value) if value else ()
        else:
            given[key] = value or ""
    account = dataclasses.replace(current, **given)
    # Adding credential_process to an account that exists asks nothing again.
    if not (args.skip_prompt or (args.credential_process and existing is not None)):
        prompter = ctx.prompter(False)
        # At a terminal, as saml2aws does, every basic setting is asked with its current value
        # as the default; answers read from a pipe fill in only what the account lacks.
        every = existing is None or _at_terminal(prompter)
        account = ask_missing(account, given, prompter, new=every)
        # Only answers that differ from what the file holds are written.
        for key in ("url", "username", "mfa", "aws_profile", "console_url"):
            if key not in changes and getattr(account, key) != getattr(current, key):
                changes[key] = validate_setting(key, getattr(account, key)) or None
    if not account.url:
        raise InputRequiredError(what="the JumpCloud SAML application URL", how="pass --url")
    if changes.get("idp_cert"):
        # The fingerprint is kept, so a login notices when the file is replaced later.
        changes["idp_cert_sha256"] = _check_idp_cert(str(changes["idp_cert"]))
    changed = update_account(name, changes, path=path, environ=ctx.environ)
    saved = find_account(name, path=path) or account
    done = "Saved" if changed else "Nothing to change in"
    print(
        f"{done} IdP account {name!r} in {path} (AWS profile {saved.profile!r}):", file=ctx.stdout
    )
    for key, (old, new) in changed.items():
        if old is None:
            print(f"  set {key} = {new}", file=ctx.stdout)
        elif new is None:
            print(f"  removed {key} (was {old})", file=ctx.stdout)
        else:
            print(f"  changed {key}: {old} -> {new}", file=ctx.stdout)
    print("Its settings now:", file=ctx.stdout)
    for key, value in summary(saved):
        print(f"  {key:<21} {value}", file=ctx.stdout)
    if args.credential_process:
        _set_credential_process(saved, args, ctx)
    return 0


def _at_terminal(prompter: Prompter) -> bool:
    from jcsaml.prompter import TerminalPrompter

    return isinstance(prompter, TerminalPrompter) and prompter.is_terminal()


def rename(args: argparse.Namespace, ctx: Context) -> int:
    """``configure --rename OLD NEW``: the account, its credential_process lines, the record
    of what it wrote and its remembered role move to the new name."""
    import shlex

    from jcsaml import managed, remembered
    from jcsaml.aws_config import profile_section, set_profile_values
    from jcsaml.config import config_path, rename_account

    old, new = args.rename
    path = config_path(ctx.environ, args.config)
    rename_account(old, new, path=path, environ=ctx.environ)
    print(f"Renamed IdP account {old!r} to {new!r} in {path}.", file=ctx.stdout)
    record = managed.load(ctx.environ).get(old)
    for written in record.profiles if record else ():
        if written.served != managed.PROCESS:
            continue
        command = (profile_section(written.profile, environ=ctx.environ) or {}).get(
            "credential_process", ""
        )
        if not managed.is_jcsaml_process(command, old):
            continue
        words = shlex.split(command)
        for index, word in enumerate(words[:-1]):
            if word in ("-a", "--idp-account") and words[index + 1] == old:
                words[index + 1] = new
        line = " ".join(shlex.quote(word) for word in words)
        set_profile_values(written.profile, {"credential_process": line}, environ=ctx.environ)
        print(f"Updated credential_process of profile {written.profile!r}: {line}", file=ctx.stdout)
    managed.rename_account(old, new, environ=ctx.environ)
    role = remembered.last_role(old, ctx.environ)
    if role:
        remembered.remember_role(new, role, ctx.environ)
    return 0


#: The questions for a new account: key, prompt, flag.
QUESTIONS = (
    ("url", "JumpCloud SAML application URL", "pass --url"),
    ("username", "JumpCloud username", "pass --username"),
    ("mfa", "MFA factor (Auto, TOTP, PUSH, WEBAUTHN)", "pass --mfa"),
    ("aws_profile", "AWS profile to write", "pass --profile"),
)


def ask_missing(
    account: Account, given: Mapping[str, Any], prompter: Prompter, *, new: bool
) -> Account:
    """Ask for what no flag gave: for a new account each basic setting, for an existing one only
    those it lacks. Each answer is checked at its prompt and asked again until it is usable.
    The console URL is asked when the application URL is in another JumpCloud region."""
    for key, label, how in QUESTIONS:
        # An existing account lacks only what has no default (the MFA factor and the profile
        # have one: Auto and the account name).
        lacking = key in ("url", "username") and not getattr(account, key)
        if given.get(key) is not None or not (new or lacking):
            continue
        default = getattr(account, key) or (account.name if key == "aws_profile" else "")
        account = _ask_valid(account, key, label, how, default, prompter)
        if key == "url" and given.get("console_url") is None:
            regional = regional_console_url(account.url)
            if regional and account.console_url == DEFAULT_CONSOLE_URL:
                account = _ask_valid(
                    account,
                    "console_url",
                    "JumpCloud console URL",
                    "pass --console-url",
                    regional,
                    prompter,
                )
    return account


def _ask_valid(
    account: Account, key: str, label: str, how: str, default: str, prompter: Prompter
) -> Account:
    from jcsaml.errors import InvalidSettingError

    while True:
        answer = prompter.text(label, how=how, default=default).strip()
        value = (_mfa_name(answer) or "Auto") if key == "mfa" else answer
        try:
            check_setting(key, value)
        except InvalidSettingError as exc:
            prompter.notify(f"{exc}; try again")
            continue
        changes: dict[str, Any] = {key: value}
        return dataclasses.replace(account, **changes)


def check_setting(key: str, value: str) -> None:
    """The config file's own checks, for one setting: raises InvalidSettingError."""
    from jcsaml.config import Account, validate_account

    if key == "url" and not value:
        from jcsaml.errors import InvalidSettingError

        raise InvalidSettingError(setting="url", reason="the account needs one")
    # Every other setting of this account is valid, so only ``key`` can be the problem.
    template = Account(name="check", url="https://sso.jumpcloud.com/saml2/check")
    changes: dict[str, Any] = {key: value}
    validate_account(dataclasses.replace(template, **changes))


def regional_console_url(app_url: str) -> str | None:
    """``https://console.eu.jumpcloud.com`` for ``https://sso.eu.jumpcloud.com/...``: the console
    of the application's JumpCloud region, when that is not the default one."""
    from urllib.parse import urlsplit

    host = urlsplit(app_url).hostname or ""
    if host.startswith("sso.") and host.endswith(".jumpcloud.com") and host != "sso.jumpcloud.com":
        return "https://console." + host.removeprefix("sso.")
    return None


def summary(account: Account) -> list[tuple[str, str]]:
    """The account's settings as saved; console_url always, since other regions need it."""
    values = account.to_config()
    rows = [(key, value) for key, value in values.items() if value]
    if not values.get("console_url"):
        rows.insert(1, ("console_url", f"{DEFAULT_CONSOLE_URL} (default; --console-url to change)"))
    return rows


def _set_credential_process(account: Account, args: argparse.Namespace, ctx: Context) -> None:
    """Write the profile's credential_process line; warn when the credentials file would win."""
    import shlex

    from jcsaml import managed
    from jcsaml.aws_config import add_missing_regions, set_profile_values
    from jcsaml.credentials_file import CredentialsFile

    words = [*_jcsaml_command(ctx.environ), "credential-process", "-a", account.name]
    if args.config:
        words += ["--config", str(_absolute(args.config, ctx.environ))]
    command = " ".join(shlex.quote(word) for word in words)
    written = set_profile_values(
        account.profile, {"credential_process": command}, environ=ctx.environ
    )
    print(
        f"Set credential_process for profile {account.profile!r} in {written}: {command}",
        file=ctx.stdout,
    )
    # SDKs that ignore AWS_DEFAULT_REGION (JavaScript's) need the profile's own region.
    regions = {account.profile: account.region} if account.region else {}
    if add_missing_regions(regions, environ=ctx.environ):
        print(f"  set region = {account.region} in that profile", file=ctx.stdout)
    managed.record_profiles(
        account.name,
        [managed.ManagedProfile(account.profile, managed.PROCESS, str(written))],
        environ=ctx.environ,
    )
    for path in _credentials_files(account, ctx.environ):
        store = CredentialsFile(path, environ=ctx.environ)
        # Only temporary keys (jcsaml's or saml2aws's) go: long-lived ones are the user's.
        if store.delete(account.profile):
            print(
                f"Removed the temporary keys of profile {account.profile!r} from {path}: the "
                "AWS tools now use credential_process.",
                file=ctx.stdout,
            )
        if store.holds_keys(account.profile):
            ctx.warn(
                f"profile {account.profile!r} in {path} holds long-lived access keys, which "
                "AWS tools use before credential_process; jcsaml leaves them: remove them from "
                "that file by hand to use credential_process"
            )


def _credentials_files(account: Account, environ: Mapping[str, str]) -> list[Path]:
    """The account's credentials file, and the one the AWS tools read when that differs."""
    from jcsaml.credentials_file import CredentialsFile
    from jcsaml.signin import credentials_path

    files = [credentials_path(account, environ=environ), CredentialsFile.default_path(environ)]
    return list(dict.fromkeys(files))


def _jcsaml_command(environ: Mapping[str, str]) -> list[str]:
    """How to run this jcsaml from anywhere: the absolute path of its executable."""
    import shutil
    import sys

    started_as = sys.argv[0] if sys.argv else ""
    if os.path.basename(started_as) in ("jcsaml", "jcsaml.exe") and os.path.isfile(started_as):
        return [os.path.abspath(started_as)]
    if os.path.basename(started_as) == "__main__.py":  # python -m jcsaml: the same again
        return [sys.executable, "-m", "jcsaml"]
    found = shutil.which("jcsaml", path=environ.get("PATH"))
    return [os.path.abspath(found)] if found else [sys.executable, "-m", "jcsaml"]


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


def import_saml2aws(args: argparse.Namespace, ctx: Context) -> int:
    """Copy the JumpCloud accounts of a saml2aws file; all or nothing when accounts exist."""
    from jcsaml.config import config_path, expand_home, find_account, save_account
    from jcsaml.errors import AccountExistsError, NothingToImportError
    from jcsaml.saml2aws import NOT_USED, merged, read_saml2aws

    given = [f"--{flag.replace('_', '-')}" for flag in _ACCOUNT_FLAGS if getattr(args, flag)]
    if given:  # a usage error, like argparse's own (exit status 2)
        print(
            f"usage: jcsaml configure --import-saml2aws [PATH] [--force]\n"
            f"jcsaml configure: error: --import-saml2aws takes no {', '.join(given)}",
            file=ctx.stderr,
        )
        return 2
    source = expand_home(args.import_saml2aws, ctx.environ)
    path = config_path(ctx.environ, args.config)
    found = read_saml2aws(source)
    existing = {a.name: find_account(a.name, path=path) for a in found.accounts}
    clashes = [name for name, account in existing.items() if account is not None]
    if found.accounts and clashes and not args.force:
        raise AccountExistsError(path=str(path), accounts=", ".join(clashes))
    for account in found.accounts:
        save_account(merged(account, existing[account.name]), path=path)
    if found.accounts:
        print(f"Imported into {path} from {source}:", file=ctx.stdout)
    for account in found.accounts:
        replaced = " (replaced the existing account)" if account.name in clashes else ""
        print(f"  {account.name}: AWS profile {account.profile!r}{replaced}", file=ctx.stdout)
    if found.skipped:
        print("Skipped:", file=ctx.stdout)
    unused: dict[str, list[str]] = {}
    for item in found.skipped:
        if item.key is None:
            print(f"  [{item.section}]: {item.reason}", file=ctx.stdout)
        elif item.reason == NOT_USED:
            unused.setdefault(item.section, []).append(item.key)
        else:
            print(f"  [{item.section}] {item.key} = {item.value}: {item.reason}", file=ctx.stdout)
    for section, keys in unused.items():
        print(f"  [{section}] {', '.join(keys)}: {NOT_USED}", file=ctx.stdout)
    if not found.accounts:
        raise NothingToImportError(path=str(source))
    return 0


def discover(args: argparse.Namespace, ctx: Context) -> int:
    """Create one account per AWS application JumpCloud offers the user (names editable)."""
    from jcsaml.cli.options import secret_store
    from jcsaml.config import (
        Account,
        account_names,
        config_path,
        find_account,
        load_account,
        save_account,
        validate_account,
    )
    from jcsaml.discovery import discover_applications
    from jcsaml.errors import InputRequiredError

    path = config_path(ctx.environ, args.config)
    existing = {name: find_account(name, path=path) for name in account_names(path)}
    configured = {a.url.rstrip("/").casefold(): a.name for a in existing.values() if a}
    if args.idp_account in existing:
        base = load_account(args.idp_account, path=path, environ=ctx.environ)
    else:
        base = Account(name=args.idp_account, url="")
    changes = {
        "url": args.url,
        "console_url": args.console_url,
        "username": args.username,
        "mfa": _mfa_name(args.mfa),
        "region": args.region,
    }
    base = dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})
    if not base.url:
        raise InputRequiredError(
            what="an AWS application to sign in through",
            how=f"pass -a with a configured account, or --url (no account {args.idp_account!r} "
            f"in {path})",
        )
    validate_account(base)
    prompter = ctx.prompter(args.skip_prompt)
    if not args.skip_prompt:
        from jcsaml.cli.login import say_signing_in

        say_signing_in(
            ctx,
            base,
            base.username or lookup("username", ctx.environ),
            "configure --discover lists the AWS applications JumpCloud offers",
        )
    found = discover_applications(
        base,
        username=base.username or lookup("username", ctx.environ),
        password=lookup("password", ctx.environ),
        mfa_token=lookup("mfa_token", ctx.environ),
        prompter=prompter,
        secrets=secret_store(ctx),  # no keyring: said once per machine
        webauthn_device=ctx.webauthn_device,
        taken_names=set(existing),
        environ=ctx.environ,
    )
    taken = set(existing)
    chosen: list[Account] = []
    signing_pin = base.idp_cert_sha256 or found.signin_signer_sha256
    print(f"JumpCloud offers {found.username} these AWS applications:", file=ctx.stdout)
    for app, account in zip(found.applications, found.accounts(base), strict=True):
        already = configured.get(app.url.rstrip("/").casefold())
        roles = f"{len(app.roles)} role(s)"
        if already:
            print(
                f"  {app.display_label}: {roles}, already configured as account {already!r}",
                file=ctx.stdout,
            )
            continue
        name = app.name
        if not args.skip_prompt:
            name = _ask_name(prompter, app.display_label, roles, app.name, taken)
            if not name:
                print(f"  {app.display_label}: {roles}, left out", file=ctx.stdout)
                continue
        taken.add(name)
        chosen.append(dataclasses.replace(account, name=name))
        print(f"  {app.display_label}: {roles}, new account {name!r}", file=ctx.stdout)
        print(f"    {_pin_line(app.signer_sha256, signing_pin, base.name)}", file=ctx.stdout)
    for skipped in found.skipped:
        print(f"  ({skipped.display_label}: {skipped.reason})", file=ctx.stdout)
    for account in chosen:
        save_account(account, path=path)
    if chosen:
        names = ", ".join(a.name for a in chosen)
        print(f"Saved {len(chosen)} account(s) in {path}: {names}.", file=ctx.stdout)
        print("Sign in to all of them at once: jcsaml login --all-accounts", file=ctx.stdout)
    else:
        print("No new account to save.", file=ctx.stdout)
    return 0


def _pin_line(signer: str | None, signing_pin: str | None, signing_account: str) -> str:
    """What a new account will trust, shown before it is saved, compared with the pin of the
    account used to sign in (each JumpCloud application may have a certificate of its own)."""
    from jcsaml.saml import show_fingerprint

    if signer is None:
        return "IdP certificate: none (unsigned; accepted only with allow_unsigned)"
    if signer == signing_pin:
        return (
            f"IdP certificate SHA-256 {show_fingerprint(signer)} "
            f"(the same as account {signing_account!r})"
        )
    return (
        f"IdP certificate SHA-256 {show_fingerprint(signer)} (a new pin, not the certificate "
        f"of account {signing_account!r}: compare it with the application's in JumpCloud)"
    )


def _ask_name(prompter: Prompter, label: str, roles: str, proposed: str, taken: set[str]) -> str:
    """The account name for an application, as the person edits it ('-' leaves it out)."""
    from jcsaml.config import GROUP_PREFIX
    from jcsaml.names import RULE as NAME_RULE
    from jcsaml.names import is_safe_name

    for _ in range(3):
        name = prompter.text(
            f"Account name for {label} ({roles}; '-' leaves it out)",
            how="pass --skip-prompt to take the proposed names",
            default=proposed,
        ).strip()
        if name == "-":
            return ""
        if name and name not in taken and not name.startswith(GROUP_PREFIX) and is_safe_name(name):
            return name
        prompter.notify(
            f"{name!r} is taken or not usable as an account name ({NAME_RULE}); type another"
        )
    return ""
