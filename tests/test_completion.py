"""jcsaml completion: the scripts list this jcsaml's commands and options, and complete account
names from the config file at completion time (through jcsaml completion --accounts)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jcsaml.cli import build_parser
from jcsaml.cli.completion import describe
from tests.conftest import cli_environment, run_cli

CONFIG = """\
[production]
url = https://sso.jumpcloud.com/saml2/acme-prod-aws-admin

# a comment
[staging]
url = https://sso.jumpcloud.com/saml2/acme-staging-aws
"""


@pytest.fixture
def env(hermetic_home: Path, tmp_path: Path) -> dict[str, str]:
    (hermetic_home / ".jcsaml").write_text(CONFIG)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "jcsaml"  # what the user has on PATH
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m jcsaml "$@"\n')
    shim.chmod(0o755)
    environment = cli_environment(hermetic_home)
    environment["PATH"] = f"{bin_dir}:{environment.get('PATH', '')}"
    return environment


def test_accounts_callback(env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("completion", "--accounts", env=env)
    assert (result.status, result.stdout) == (0, "production\nstaging\n")
    other = tmp_path / "other.ini"
    other.write_text("[ci]\nurl = https://sso.jumpcloud.com/saml2/ci\n")
    result = run_cli("completion", "--accounts", "--config", str(other), env=env)
    assert result.stdout == "ci\n"


def test_the_description_follows_the_parser() -> None:
    commands = {c.name: c for c in describe(build_parser({}))}
    assert {"configure", "login", "exec", "console", "list-roles", "logout", "completion"} <= set(
        commands
    )
    console = {n: o for o in commands["console"].options for n in o.names}
    assert console["-a"].kind == "account" and console["--link"].kind == "flag"
    assert console["--config"].kind == "path" and console["--region"].kind == "value"
    configure = {n: o for o in commands["configure"].options for n in o.names}
    assert configure["--mfa"].choices == ("AUTO", "TOTP", "PUSH", "WEBAUTHN")
    assert commands["completion"].arguments == ("bash", "zsh", "fish")


def complete_bash(env: dict[str, str], line: str) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end) with the script loaded."""
    words = line.split(" ")
    program = (
        "source <(jcsaml completion bash)\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_jcsaml\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", program], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completes_commands_options_choices_and_accounts(env: dict[str, str]) -> None:
    assert complete_bash(env, "jcsaml l") == ["login", "list-roles", "logout"]
    assert complete_bash(env, "jcsaml co") == ["configure", "console", "completion"]
    assert complete_bash(env, "jcsaml console --l") == ["--link"]
    assert "--firefox-container" in complete_bash(env, "jcsaml console --")
    assert complete_bash(env, "jcsaml login -a ") == ["production", "staging"]
    assert complete_bash(env, "jcsaml console --idp-account st") == ["staging"]
    assert complete_bash(env, "jcsaml configure --mfa T") == ["TOTP"]
    assert complete_bash(env, "jcsaml completion ") == ["bash", "zsh", "fish"]
    assert complete_bash(env, "jcsaml login --role ") == []  # free text: nothing offered


def test_bash_accounts_follow_config_on_the_line(env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "other.ini"
    other.write_text("[ci]\nurl = https://sso.jumpcloud.com/saml2/ci\n")
    assert complete_bash(env, f"jcsaml login --config {other} -a ") == ["ci"]


def test_bash_with_a_broken_config_offers_nothing(env: dict[str, str], hermetic_home: Path) -> None:
    (hermetic_home / ".jcsaml").write_text("[production\n")
    assert complete_bash(env, "jcsaml login -a ") == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(env: dict[str, str], shell: str) -> None:
    result = run_cli("completion", shell, env=env)
    assert result.status == 0, result.stderr
    script = result.stdout
    assert "jcsaml completion --accounts" in script
    for command in ("configure", "login", "exec", "console", "list-roles", "logout"):
        assert command in script
    assert "--firefox-container" in script or "-l firefox-container" in script
    if shell == "zsh":
        assert script.startswith("#compdef jcsaml\n") and "compdef _jcsaml jcsaml" in script
    else:
        assert "complete -c jcsaml -n '__fish_seen_subcommand_from console' -l link" in script
    if shutil.which(shell):  # the shell's own parser, where it is installed
        subprocess.run([shell, "-n"], input=script, text=True, check=True, timeout=60)


def test_bash_script_is_valid_bash(env: dict[str, str]) -> None:
    result = run_cli("completion", "bash", env=env)
    subprocess.run(["bash", "-n"], input=result.stdout, text=True, check=True, timeout=60)


def test_completion_without_a_shell_is_a_usage_error(env: dict[str, str]) -> None:
    result = run_cli("completion", env=env)
    assert result.status == 2 and "name the shell" in result.stderr
    assert run_cli("completion", "tcsh", env=env).status == 2
