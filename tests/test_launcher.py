"""The light entry (jcsaml.launcher): --help is argparse's, --version is argparse's, its option
reading is argparse's where it does not decline, and it falls back to the full CLI."""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jcsaml
from jcsaml import launcher
from jcsaml.cli import _parse, build_parser, common_defaults
from tests.conftest import cli_environment, run_cli

REPO = Path(__file__).resolve().parent.parent


def argparse_help(columns: int) -> str:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        return build_parser({}).format_help()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


@pytest.mark.parametrize("columns", ["80", "200"])
def test_help_through_the_command_is_the_full_parsers(hermetic_home: Path, columns: str) -> None:
    env = cli_environment(hermetic_home, {"COLUMNS": columns})
    light = run_cli("--help", env=env)
    short = run_cli("-h", env=env)
    # --help followed by anything is not a light path: the full parser answers.
    full = run_cli("--help", "--version", env=env)
    assert light.status == short.status == full.status == 0
    assert light.stdout == short.stdout == full.stdout == argparse_help(int(columns))
    assert light.stderr == ""


def test_help_is_never_a_light_path() -> None:
    assert launcher.light(["--help"], {"COLUMNS": "80"}) is None
    assert launcher.light(["-h"], {}) is None


def test_version_is_argparses(hermetic_home: Path) -> None:
    env = cli_environment(hermetic_home, {"COLUMNS": "80"})
    light = run_cli("--version", env=env)
    full = run_cli("--version", "--help", env=env)  # argparse stops at --version
    assert light.status == full.status == 0
    assert light.stdout == full.stdout == f"jcsaml {jcsaml.__version__}\n"


def test_console_script_and_python_m_take_the_light_entry() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["jcsaml"] == "jcsaml.launcher:run"
    assert "from jcsaml.launcher import run" in (REPO / "jcsaml" / "__main__.py").read_text()


# --- exec's options: the light reading is argparse's, or it declines ---------------------------

WORDS = [
    "-a",
    "--idp-account",
    "--config",
    "--profile",
    "--role",
    "--skip-prompt",
    "--",
    "--debug",
    "--force",
    "--username",
    "-h",
    "--prof",
    "-a=x",
    "-ax",
    "--idp-account=x",
    "--role=",
    "--config=c=d",
    "-1",
    "",
    "prod",
    "dev",
    "cmd",
    "arg",
    "x=y",
]


def parse_as_main_does(argv: list[str], environ: Mapping[str, str]) -> argparse.Namespace:
    """jcsaml.cli.main's reading of the command line, defaults of the common options included."""
    args = _parse(build_parser(environ), argv)
    for key, value in common_defaults(environ).items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def full_exec_options(argv: list[str], environ: dict[str, str]) -> dict[str, object] | None:
    """What jcsaml exec's argparse parser makes of argv (None: a usage error)."""
    try:
        args = parse_as_main_does(["exec", *argv], environ)
    except SystemExit:
        return None
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    return {
        "account": args.idp_account,
        "config": args.config,
        "profile": args.profile,
        "role": args.role or None,
        "command": command,
        "other": (args.debug, args.force, args.session_duration),
    }


@settings(max_examples=400, deadline=None)
@given(
    argv=st.lists(st.sampled_from(WORDS), max_size=8),
    account_variable=st.sampled_from([None, "", "stage"]),
    role_variable=st.sampled_from([None, "", "Admin"]),
)
def test_light_exec_options_agree_with_argparse_or_decline(
    argv: list[str], account_variable: str | None, role_variable: str | None
) -> None:
    environ = {}
    if account_variable is not None:
        environ["JCSAML_IDP_ACCOUNT"] = account_variable
    if role_variable is not None:
        environ["JCSAML_ROLE"] = role_variable
    light = launcher.parse_options(argv, launcher.EXEC_OPTIONS, launcher.EXEC_FLAGS)
    if light is None or not light[1]:
        return  # declined (the handler also declines on an empty command)
    options, command = light
    full = full_exec_options(argv, environ)
    assert full is not None, argv
    assert full == {
        "account": launcher.exec_account(options, environ),
        "config": options.get("config"),
        "profile": options.get("profile"),
        "role": launcher.exec_role(options, environ),
        "command": command,
        "other": (False, False, None),
    }, argv


# --- script's and credential-process's options ------------------------------------------------

SCRIPT_WORDS = [*WORDS, "--shell", "--shell=fish", "--shell=tcsh", "json", "zsh", "--shel"]


def full_options(
    command: str, argv: list[str], environ: dict[str, str]
) -> dict[str, object] | None:
    """What the command's argparse parser makes of argv (None: a usage error)."""
    try:
        args = parse_as_main_does([command, *argv], environ)
    except SystemExit:
        return None
    return {
        "account": args.idp_account,
        "config": args.config,
        "profile": getattr(args, "profile", None),
        "role": args.role or None,
        "shell": getattr(args, "shell", None),
        "other": (args.debug, args.force, args.session_duration),
    }


def light_options(options: dict[str, str], environ: dict[str, str]) -> dict[str, object]:
    return {
        "account": launcher.exec_account(options, environ),
        "config": options.get("config"),
        "profile": options.get("profile"),
        "role": launcher.exec_role(options, environ),
        "shell": options.get("shell"),
        "other": (False, False, None),
    }


def variables(account: str | None, role: str | None) -> dict[str, str]:
    environ = {}
    if account is not None:
        environ["JCSAML_IDP_ACCOUNT"] = account
    if role is not None:
        environ["JCSAML_ROLE"] = role
    return environ


@settings(max_examples=400, deadline=None)
@given(
    argv=st.lists(st.sampled_from(SCRIPT_WORDS), max_size=8),
    account_variable=st.sampled_from([None, "", "stage"]),
    role_variable=st.sampled_from([None, "", "Admin"]),
)
def test_light_script_options_agree_with_argparse_or_decline(
    argv: list[str], account_variable: str | None, role_variable: str | None
) -> None:
    environ = variables(account_variable, role_variable)
    options = launcher.script_options(argv)
    if options is None:
        return
    full = full_options("script", argv, environ)
    assert full is not None, argv
    assert full == light_options(options, environ), argv


@settings(max_examples=400, deadline=None)
@given(
    argv=st.lists(st.sampled_from(SCRIPT_WORDS), max_size=8),
    account_variable=st.sampled_from([None, "", "stage"]),
    role_variable=st.sampled_from([None, "", "Admin"]),
)
def test_light_credential_process_options_agree_with_argparse_or_decline(
    argv: list[str], account_variable: str | None, role_variable: str | None
) -> None:
    environ = variables(account_variable, role_variable)
    options = launcher.process_options(argv)
    if options is None:
        return
    full = full_options("credential-process", argv, environ)
    assert full is not None, argv
    assert full == light_options(options, environ), argv


def test_the_ordinary_command_lines_are_not_declined() -> None:
    assert launcher.script_options(["-a", "prod", "--shell", "fish"]) == {
        "idp_account": "prod",
        "shell": "fish",
    }
    assert launcher.script_options([]) == {"shell": "bash"}
    # argparse refuses an unknown shell even when a later --shell names a known one.
    assert launcher.script_options(["--shell=tcsh", "--shell=fish"]) is None
    assert launcher.script_options(["--shell", "zsh", "--shell=fish"]) == {"shell": "fish"}
    assert launcher.process_options(["-a", "prod", "--role=Admin"]) == {
        "idp_account": "prod",
        "role": "Admin",
    }
    assert launcher.process_options(["-a", "prod", "--profile", "p"]) is None  # not its option


@pytest.mark.parametrize("command", ["script", "credential-process"])
def test_options_from_variables_are_known_to_the_light_paths(command: str) -> None:
    args = parse_as_main_does([command], EveryVariable())
    from_variables = {name for name, value in vars(args).items() if str(value).startswith("from ")}
    assert from_variables == {
        "idp_account",
        "role",
        "username",
        "password",
        "mfa_token",
        "session_duration",
        *SIGN_IN_ONLY[command],
    }


#: Per command, options from variables that matter only when signing in (plus the profile,
#: which the light paths read from SAML2AWS_PROFILE too).
SIGN_IN_ONLY = {
    "exec": ("profile", "policyarns", "policyfile"),
    "script": ("profile", "policyarns", "policyfile"),
    "credential-process": (),
}


class EveryVariable(dict[str, str]):
    """An environment in which every variable is set, to see which defaults come from one."""

    def get(self, key: str, default: object = None) -> str:
        return f"from {key}"

    def __getitem__(self, key: str) -> str:
        return f"from {key}"


def test_exec_options_from_variables_are_known_to_the_light_path() -> None:
    """An option of exec whose default comes from a variable changes what a cached run does
    only if the light path reads that variable too: a new one must be added there."""
    args = parse_as_main_does(["exec", "--", "true"], EveryVariable())
    from_variables = {name for name, value in vars(args).items() if str(value).startswith("from ")}
    # idp_account, role and profile are read by the light path; the rest only matter for a
    # sign-in, except exec_profile, whose SAML2AWS_EXEC_PROFILE sends a run to the full CLI.
    assert from_variables == {
        "idp_account",
        "role",
        "username",
        "password",
        "mfa_token",
        "session_duration",
        *SIGN_IN_ONLY["exec"],
        "exec_profile",
    }
    assert launcher.light(["exec", "--", "true"], {"SAML2AWS_EXEC_PROFILE": "x"}) is None


def test_nothing_to_run_is_not_a_light_path() -> None:
    assert launcher.light(["exec", "-a", "prod", "--"], {}) is None
    assert launcher.light(["exec", "-a", "prod"], {}) is None
    assert launcher.light([], {}) is None
    assert launcher.light(["login"], {}) is None


# --- credential-process's options -----------------------------------------------------------------


def full_process_options(argv: list[str], environ: dict[str, str]) -> dict[str, object] | None:
    """What jcsaml credential-process's argparse parser makes of argv (None: a usage error)."""
    try:
        args = parse_as_main_does(["credential-process", *argv], environ)
    except SystemExit:
        return None
    return {
        "account": args.idp_account,
        "config": args.config,
        "role": args.role or None,
        "other": (args.debug, args.force, args.session_duration),
    }


@settings(max_examples=400, deadline=None)
@given(
    argv=st.lists(st.sampled_from(WORDS), max_size=6),
    account_variable=st.sampled_from([None, "", "stage"]),
    role_variable=st.sampled_from([None, "", "Admin"]),
)
def test_light_credential_process_options_from_exec_words_agree_or_decline(
    argv: list[str], account_variable: str | None, role_variable: str | None
) -> None:
    environ = {}
    if account_variable is not None:
        environ["JCSAML_IDP_ACCOUNT"] = account_variable
    if role_variable is not None:
        environ["JCSAML_ROLE"] = role_variable
    light = launcher.parse_options(argv, launcher.PROCESS_OPTIONS, launcher.EXEC_FLAGS)
    if light is None or light[1] or "--" in argv:
        return  # declined, as the handler declines on "--" or any word left over
    options = light[0]
    full = full_process_options(argv, environ)
    assert full is not None, argv
    assert full == {
        "account": launcher.exec_account(options, environ),
        "config": options.get("config"),
        "role": launcher.exec_role(options, environ),
        "other": (False, False, None),
    }, argv


def test_credential_process_options_from_variables_are_known_to_the_light_path() -> None:
    args = parse_as_main_does(["credential-process"], EveryVariable())
    from_variables = {name for name, value in vars(args).items() if str(value).startswith("from ")}
    assert from_variables == {
        "idp_account",
        "role",
        "username",
        "password",
        "mfa_token",
        "session_duration",
    }


def test_credential_process_declines_what_argparse_refuses(
    hermetic_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from jcsaml import process_cache
    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.config import Account, save_account

    save_account(
        Account(name="prod", url="https://sso.jumpcloud.com/saml2/acme"),
        path=hermetic_home / "jcsaml.ini",
    )
    environ = {"HOME": str(hermetic_home), "JCSAML_CONFIG": str(hermetic_home / "jcsaml.ini")}
    process_cache.save(
        "prod",
        "",
        AwsCredentials(
            access_key_id="ASIACACHED",
            secret_access_key="s",
            session_token="t",
            expiration=datetime.now(UTC) + timedelta(hours=1),
            role_arn="arn:aws:iam::012345678987:role/Admin",
        ),
        environ=environ,
    )
    assert launcher.light(["credential-process", "-a", "prod"], environ) == 0
    assert '"AccessKeyId": "ASIACACHED"' in capsys.readouterr().out
    for extra in (["--"], ["extra"], ["--debug"], ["--force"]):
        assert launcher.light(["credential-process", "-a", "prod", *extra], environ) is None
    assert capsys.readouterr().out == ""
