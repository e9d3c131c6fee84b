"""The light entry (jcsaml.launcher): --help is argparse's, --version is argparse's, its option
reading is argparse's where it does not decline, and it falls back to the full CLI."""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jcsaml
from jcsaml import launcher
from jcsaml.cli import _parse, build_parser, common_defaults
from tests.conftest import cached_account, cli_environment, fresh_credentials, run_cli

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


# --- the light paths' options: the light reading is argparse's, or it declines ----------------

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


def full_options(
    command: str, argv: list[str], environ: dict[str, str]
) -> dict[str, object] | None:
    """What the command's argparse parser makes of argv (None: a usage error)."""
    try:
        args = parse_as_main_does([command, *argv], environ)
    except SystemExit:
        return None
    words = list(args.command) if command == "exec" else []  # elsewhere: the command's name
    if words and words[0] == "--":
        words = words[1:]
    return {
        "account": args.idp_account,
        "config": args.config,
        "profile": getattr(args, "profile", None),
        "role": args.role or None,
        "shell": getattr(args, "shell", None),
        "command": words,
        "other": (args.debug, args.force, args.session_duration),
    }


def assert_light_agrees(
    command: str,
    argv: list[str],
    environ: dict[str, str],
    options: dict[str, str],
    words: list[str],
) -> None:
    """The light reading (options and the words left to run) is what argparse makes of argv."""
    full = full_options(command, argv, environ)
    assert full is not None, argv
    assert full == {
        "account": launcher.exec_account(options, environ),
        "config": options.get("config"),
        "profile": options.get("profile"),
        "role": launcher.exec_role(options, environ),
        "shell": options.get("shell"),
        "command": words,
        "other": (False, False, None),
    }, argv


def variables(account: str | None, role: str | None) -> dict[str, str]:
    environ = {}
    if account is not None:
        environ["JCSAML_IDP_ACCOUNT"] = account
    if role is not None:
        environ["JCSAML_ROLE"] = role
    return environ


#: JCSAML_IDP_ACCOUNT and JCSAML_ROLE unset, empty or set.
ENVIRONS = st.builds(
    variables, st.sampled_from([None, "", "stage"]), st.sampled_from([None, "", "Admin"])
)


SCRIPT_WORDS = [*WORDS, "--shell", "--shell=fish", "--shell=tcsh", "json", "zsh", "--shel"]

LightReading = tuple[dict[str, str], list[str]]


def exec_reading(argv: list[str]) -> LightReading | None:
    light = launcher.parse_options(argv, launcher.EXEC_OPTIONS, launcher.EXEC_FLAGS)
    # The handler also declines on an empty command.
    return light if light is not None and light[1] else None


def process_reading_of_exec_words(argv: list[str]) -> LightReading | None:
    light = launcher.parse_options(argv, launcher.PROCESS_OPTIONS, launcher.EXEC_FLAGS)
    # The handler also declines on "--" or any word left over.
    return light if light is not None and not light[1] and "--" not in argv else None


def no_words(options: dict[str, str] | None) -> LightReading | None:
    return None if options is None else (options, [])


#: Per light path: the command, the words its command lines are made of, how many at most,
#: and the light reading of them (None: it declines).
LIGHT_PATHS: dict[str, tuple[str, list[str], int, Callable[[list[str]], LightReading | None]]] = {
    "exec": ("exec", WORDS, 8, exec_reading),
    "script": ("script", SCRIPT_WORDS, 8, lambda argv: no_words(launcher.script_options(argv))),
    "credential-process": (
        "credential-process",
        SCRIPT_WORDS,
        8,
        lambda argv: no_words(launcher.process_options(argv)),
    ),
    "credential-process-exec-words": (
        "credential-process",
        WORDS,
        6,
        process_reading_of_exec_words,
    ),
}


@pytest.mark.parametrize("path", list(LIGHT_PATHS))
@settings(max_examples=400, deadline=None)
@given(data=st.data(), environ=ENVIRONS)
def test_light_options_agree_with_argparse_or_decline(
    path: str, data: st.DataObject, environ: dict[str, str]
) -> None:
    command, words, most, light_reading = LIGHT_PATHS[path]
    argv = data.draw(st.lists(st.sampled_from(words), max_size=most), label="argv")
    light = light_reading(argv)
    if light is not None:
        assert_light_agrees(command, argv, environ, *light)


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


class EveryVariable(dict[str, str]):
    """An environment in which every variable is set, to see which defaults come from one."""

    def get(self, key: str, default: object = None) -> str:
        return f"from {key}"

    def __getitem__(self, key: str) -> str:
        return f"from {key}"


#: Per command line, the options from variables beyond the account and role (which the light
#: paths read) and the sign-in's username, password, MFA token and duration: more that matter
#: only when signing in (plus the profile, which the light paths read from SAML2AWS_PROFILE
#: too), and exec_profile, whose SAML2AWS_EXEC_PROFILE sends a run to the full CLI.
FURTHER_FROM_VARIABLES = {
    "exec": (["exec", "--", "true"], {"profile", "policyarns", "policyfile", "exec_profile"}),
    "script": (["script"], {"profile", "policyarns", "policyfile"}),
    "credential-process": (["credential-process"], set()),
}


@pytest.mark.parametrize("command", list(FURTHER_FROM_VARIABLES))
def test_options_from_variables_are_known_to_the_light_paths(command: str) -> None:
    """An option whose default comes from a variable changes what a cached run does only if
    the light path reads that variable too: a new one must be added there."""
    argv, further = FURTHER_FROM_VARIABLES[command]
    args = parse_as_main_does(argv, EveryVariable())
    from_variables = {name for name, value in vars(args).items() if str(value).startswith("from ")}
    assert from_variables == {
        "idp_account",
        "role",
        "username",
        "password",
        "mfa_token",
        "session_duration",
        *further,
    }


def test_an_exec_profile_from_the_variable_is_not_a_light_path() -> None:
    assert launcher.light(["exec", "--", "true"], {"SAML2AWS_EXEC_PROFILE": "x"}) is None


def test_nothing_to_run_is_not_a_light_path() -> None:
    assert launcher.light(["exec", "-a", "prod", "--"], {}) is None
    assert launcher.light(["exec", "-a", "prod"], {}) is None
    assert launcher.light([], {}) is None
    assert launcher.light(["login"], {}) is None


def test_credential_process_declines_what_argparse_refuses(
    hermetic_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cached = fresh_credentials()
    environ = cached_account(hermetic_home, cached, name="prod", profile=False, process=True)
    assert launcher.light(["credential-process", "-a", "prod"], environ) == 0
    assert '"AccessKeyId": "ASIACACHED"' in capsys.readouterr().out
    for extra in (["--"], ["extra"], ["--debug"], ["--force"]):
        assert launcher.light(["credential-process", "-a", "prod", *extra], environ) is None
    assert capsys.readouterr().out == ""
