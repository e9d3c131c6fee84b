"""Rules every command follows, checked for each through the real CLI: an unknown option shows
that command's own usage line; inputs are checked under the flag's name, before anything is
asked or sent to JumpCloud."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from jcsaml.config import Account, save_account
from tests.conftest import REPO, CliResult, cli_environment, run_cli

COMMANDS = [
    ("configure",),
    ("login",),
    ("exec",),
    ("exec", "--server"),
    ("script",),
    ("credential-process",),
    ("console",),
    ("list-roles",),
    ("status",),
    ("logout",),
    ("help",),
    ("completion",),
    ("setup", "cert", "x.cnf"),
    ("setup", "aws", "--provider-name", "JumpCloud", "--idp-cert", "x.crt", "--entity-id", "J",
     "--role", "R=readonly"),
    ("setup", "check", "--idp-cert", "x.crt"),
]  # fmt: skip


def usage_error(result: CliResult) -> list[str]:
    assert result.status == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.splitlines()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unknown_option_shows_that_commands_usage(
    hermetic_home: Path, command: tuple[str, ...]
) -> None:
    name = " ".join(word for word in command if not word.startswith("-"))
    name = " ".join(name.split()[:2]) if command[0] == "setup" else command[0]
    trailing = ["--", "true"] if command[0] == "exec" else []
    for argv in (["-a", "production", *command, "--bogus", *trailing], [*command, "--bogus"]):
        lines = usage_error(run_cli(*argv, env=cli_environment(hermetic_home)))
        assert lines[0].startswith(f"usage: jcsaml {name} "), lines
        assert lines[-1] == f"jcsaml {name}: error: unrecognized arguments: --bogus", lines


@pytest.fixture
def configured(hermetic_home: Path) -> dict[str, str]:
    """An account whose JumpCloud nobody answers: a command that got as far as a sign-in fails
    there, after saying so."""
    save_account(
        Account(
            name="production",
            url="http://127.0.0.1:9/saml2/acme-prod-aws-admin",
            console_url="http://127.0.0.1:9",
            username="alice@acme.example",
            role_arn="arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO",
        ),
        path=hermetic_home / ".jcsaml",
    )
    return cli_environment(hermetic_home)


SIGNING_IN = [
    ("login",),
    ("exec", "--server"),
    ("exec",),
    ("script",),
    ("console", "--link"),
    ("credential-process",),
]


@pytest.mark.parametrize("command", SIGNING_IN, ids=" ".join)
def test_a_bad_session_duration_is_named_as_the_flag_before_anything_is_asked(
    configured: dict[str, str], command: tuple[str, ...]
) -> None:
    trailing = ["--", "true"] if command[0] == "exec" else []
    result = run_cli(
        *command, "-a", "production", "--session-duration", "100", *trailing, env=configured
    )
    assert result.status == 1, result.stderr
    assert result.stderr.startswith("jcsaml: error: invalid --session-duration: '100'")
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", SIGNING_IN[:-1], ids=" ".join)
def test_a_bad_profile_name_is_refused_before_anything_is_asked(
    configured: dict[str, str], command: tuple[str, ...]
) -> None:
    trailing = ["--", "true"] if command[0] == "exec" else []
    result = run_cli(*command, "-a", "production", "--profile", "[x]", *trailing, env=configured)
    assert result.status == 1, result.stderr
    assert result.stderr.startswith("jcsaml: error: invalid --profile: '[x]'")
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", SIGNING_IN[:-1], ids=" ".join)
def test_a_context_line_comes_before_every_sign_in(
    configured: dict[str, str], command: tuple[str, ...]
) -> None:
    trailing = ["--", "true"] if command[0] == "exec" else []
    env = dict(configured, JCSAML_PASSWORD="pw", JCSAML_MFA_TOKEN="123456")
    result = run_cli(*command, "-a", "production", *trailing, env=env)
    assert result.status == 1, result.stderr
    first, *rest = result.stderr.splitlines()
    # exec --server keeps its credentials in jcsaml's own cache, the others in the profile.
    held = "cached credentials for account" if "--server" in command else "credentials in profile"
    assert first == (
        "Signing in to JumpCloud for account 'production' as alice@acme.example "
        f"(app acme-prod-aws-admin): no {held} 'production'"
    ), result.stderr
    assert rest[-1].startswith("jcsaml: error: cannot reach JumpCloud"), result.stderr


def _command_parsers() -> dict[str, argparse.ArgumentParser]:
    """``login`` -> its parser, ``setup aws`` -> its parser: every command a user can run."""
    from jcsaml.cli import build_parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found[f"{prefix}{name}"] = child
                    walk(child, f"{prefix}{name} ")

    walk(build_parser({}), "")
    return found


def test_the_readme_command_table_names_every_option_of_every_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    common = {"-h", "--help", "-a", "--idp-account", "--config", "--debug", "--verbose"}
    parsers = _command_parsers()
    for name, parser in parsers.items():
        if any(other.startswith(name + " ") for other in parsers):
            continue  # ``setup``: its subcommands have the rows
        rows = [line for line in readme.splitlines() if line.startswith(f"| `jcsaml {name}")]
        assert rows, f"no row for jcsaml {name} in the README's command table"
        options = {
            option
            for action in parser._actions
            if action.help != argparse.SUPPRESS
            for option in action.option_strings
            if option.startswith("--")
        }
        if any("[login options]" in row for row in rows):  # login's row lists them
            login = next(line for line in readme.splitlines() if line.startswith("| `jcsaml login"))
            rows.append(login)
        missing = sorted(o for o in options - common if not any(o in row for row in rows))
        assert missing == [], f"jcsaml {name}: {missing} not in the README's command table"


@pytest.mark.parametrize("command", SIGNING_IN[:-1], ids=" ".join)
def test_input_that_ends_at_a_prompt_says_what_to_do(
    configured: dict[str, str], command: tuple[str, ...]
) -> None:
    trailing = ["--", "true"] if command[0] == "exec" else []
    result = run_cli(*command, "-a", "production", *trailing, env=configured, stdin="")
    assert result.status == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "jcsaml: error: cancelled at the JumpCloud password prompt; answer it in a terminal, "
        "or give every input as a flag or variable and add --skip-prompt"
    ), result.stderr


@pytest.mark.parametrize("server", [False, True], ids=["exec", "exec --server"])
def test_exec_of_a_missing_command_says_so_before_signing_in(
    configured: dict[str, str], server: bool
) -> None:
    extra = ["--server"] if server else []
    result = run_cli(
        "exec", *extra, "-a", "production", "--", "no-such-command-here", env=configured
    )
    assert result.status == 127, result.stderr
    assert result.stderr == (
        "jcsaml: error: command not found: no-such-command-here; check its name and PATH\n"
    )
