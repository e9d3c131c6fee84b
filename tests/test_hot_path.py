"""The instant paths stay light: which modules they import, checked in a real subprocess.

A regression gate, not a timing: ``jcsaml exec`` with valid cached credentials, ``--help`` and
``--version`` are answered by jcsaml.launcher without the full CLI, and nothing heavy is imported
by them or by ``import jcsaml``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from jcsaml.config import Account, save_account
from jcsaml.shell_script import SHELLS
from tests.conftest import cached_account, cli_environment, fresh_credentials, run_cli

HEAVY = (
    "boto3",
    "botocore",
    "requests",
    "bs4",
    "signxml",
    "prompt_toolkit",
    "keyring",
    "lxml",
    "cryptography",
    "urllib3",
    "filelock",
)
# What the light entry promises not to need on top of that: the full CLI and what it imports.
LIGHT_PROMISE = (
    "argparse",
    "logging",
    "dataclasses",
    "datetime",
    "pathlib",
    "inspect",
    "jcsaml.cli",
    "jcsaml.config",
    "jcsaml.aws_credentials",
    "jcsaml.credentials_file",
    "jcsaml.errors",
    "jcsaml.signin",
)
CHECK_ENV = (
    "import os, sys; sys.exit(0 if os.environ['AWS_ACCESS_KEY_ID'] == 'ASIACACHED' "
    "and os.environ['JCSAML_EXEC_ACCOUNT'] == 'production' else 3)"
)

RUN_CHECK = (sys.executable, "-c", CHECK_ENV)


def imported_modules(argv: list[str], env: dict[str, str]) -> tuple[int, set[str]]:
    """Run a Python command with -X importtime and return the modules it imported beyond what
    the interpreter's own start imports (site, and e.g. an editable install's import hook)."""
    status, modules = _imported(argv, env)
    return status, modules - _imported(["-c", "pass"], env)[1]


def _imported(argv: list[str], env: dict[str, str]) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return done.returncode, names


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture
def cached_profile(hermetic_home: Path) -> dict[str, str]:
    credentials = fresh_credentials(assumed_role_arn=ASSUMED)
    return cached_account(hermetic_home, credentials)


def test_exec_with_cached_credentials_imports_nothing_heavy(cached_profile: dict[str, str]) -> None:
    status, modules = imported_modules(
        ["-m", "jcsaml", "exec", "-a", "production", "--", *RUN_CHECK],
        cached_profile,
    )
    assert status == 0
    assert {"jcsaml.launcher", "jcsaml.light_lookup"} <= modules
    assert sorted(top_level(modules) & set(HEAVY)) == []
    assert sorted(modules & set(LIGHT_PROMISE)) == []


def test_the_console_scripts_way_in_is_as_light(cached_profile: dict[str, str]) -> None:
    # What the installed ``jcsaml`` script runs (pip's wrapper imports re and sys, then this).
    script = "import re, sys; from jcsaml.launcher import run; sys.argv[0] = 'jcsaml'; run()"
    status, modules = imported_modules(
        ["-c", script, "exec", "-a", "production", "--skip-prompt", "--", *RUN_CHECK],
        cached_profile,
    )
    assert status == 0
    assert "jcsaml.light_lookup" in modules
    assert sorted(modules & set(LIGHT_PROMISE + HEAVY)) == []


def test_version_is_light(hermetic_home: Path) -> None:
    status, modules = imported_modules(
        ["-m", "jcsaml", "--version"], cli_environment(hermetic_home, {"COLUMNS": "80"})
    )
    assert status == 0
    assert "jcsaml.launcher" in modules
    assert sorted(modules & set(LIGHT_PROMISE + HEAVY)) == []


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_is_argparses_and_imports_nothing_heavy(hermetic_home: Path, option: str) -> None:
    status, modules = imported_modules(
        ["-m", "jcsaml", option], cli_environment(hermetic_home, {"COLUMNS": "80"})
    )
    assert status == 0
    assert "jcsaml.cli" in modules  # the one parser is the one source of the text
    assert sorted(top_level(modules) & set(HEAVY)) == []


def test_an_option_the_light_path_does_not_know_takes_the_full_cli(
    cached_profile: dict[str, str],
) -> None:
    status, modules = imported_modules(
        ["-m", "jcsaml", "exec", "-a", "production", "--debug", "--", *RUN_CHECK],
        cached_profile,
    )
    assert status == 0
    assert "jcsaml.cli" in modules  # declined, then answered by the full CLI
    assert sorted(top_level(modules) & set(HEAVY)) == []


def test_expired_credentials_take_the_full_cli(
    cached_profile: dict[str, str], hermetic_home: Path
) -> None:
    path = hermetic_home / ".aws" / "credentials"
    text = path.read_text()
    expires = next(line for line in text.splitlines() if line.startswith("x_security"))
    path.write_text(text.replace(expires, "x_security_token_expires = 2020-01-01T00:00:00Z"))
    done = subprocess.run(
        [sys.executable, "-m", "jcsaml", "exec", "-a", "production", "--skip-prompt", "--", "true"],
        env=cached_profile,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # The full CLI tries to sign in and, told never to ask, names what is missing.
    assert done.returncode == 1
    assert done.stderr.startswith("jcsaml: error: ")
    assert "JCSAML_USERNAME" in done.stderr or "--username" in done.stderr


def test_import_jcsaml_is_cheap() -> None:
    status, modules = imported_modules(
        ["-c", "import jcsaml, jcsaml.saml, jcsaml.errors, jcsaml.aws_credentials"],
        dict(os.environ),
    )
    assert status == 0
    assert sorted(top_level(modules) & set(HEAVY)) == []


def test_both_ways_give_the_command_the_same_environment(cached_profile: dict[str, str]) -> None:
    show = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
    env = dict(cached_profile, AWS_PROFILE="elsewhere", AWS_ACCESS_KEY_ID="AKIASTATIC")
    light = run_cli("exec", "-a", "production", "--", *show, env=env)
    full = run_cli("exec", "-a", "production", "--debug", "--", *show, env=env)
    assert light.status == full.status == 0
    assert json.loads(light.stdout) == json.loads(full.stdout)
    assert json.loads(light.stdout)["AWS_ACCESS_KEY_ID"] == "ASIACACHED"
    assert "AWS_PROFILE" not in json.loads(light.stdout)


def test_a_command_that_cannot_be_run_is_reported_by_the_full_cli(
    cached_profile: dict[str, str], hermetic_home: Path
) -> None:
    broken = hermetic_home / "not-a-program"
    broken.write_bytes(b"\x7fELF-but-not-really")
    broken.chmod(0o755)
    done = run_cli("exec", "-a", "production", "--", str(broken), env=cached_profile)
    # The light path declined when execvpe failed; the full CLI says it as a shell would (126).
    assert done.status == 126
    assert done.stderr.startswith("jcsaml: error: cannot run ")
    assert len(done.stderr.splitlines()) == 1


ROLE = "arn:aws:iam::012345678987:role/Admin"
ASSUMED = "arn:aws:sts::012345678987:assumed-role/Admin/alice"


@pytest.fixture
def cached_everywhere(hermetic_home: Path) -> dict[str, str]:
    """An account whose profile and credential-process cache both hold valid credentials;
    the values need quoting in every shell."""
    (hermetic_home / ".aws").mkdir(exist_ok=True)
    (hermetic_home / ".aws" / "config").write_text("[profile production]\nregion = eu-west-1\n")
    credentials = fresh_credentials(
        ROLE,
        secret_access_key='it\'s a "secret" $HOME `x` \\ key',
        session_token="t/o+k=e n",
        assumed_role_arn=ASSUMED,
    )
    return cached_account(hermetic_home, credentials, role_arn=ROLE, process=True)


LIGHT_RUNS = [
    ["script", "-a", "production"],
    ["script", "--idp-account=production", "--shell", "fish", "--skip-prompt"],
    ["credential-process", "-a", "production"],
    ["credential-process", "-a", "production", "--role", ROLE],
]


@pytest.mark.parametrize("argv", LIGHT_RUNS, ids=" ".join)
def test_script_and_credential_process_with_cached_credentials_are_light(
    cached_everywhere: dict[str, str], argv: list[str]
) -> None:
    status, modules = imported_modules(["-m", "jcsaml", *argv], cached_everywhere)
    assert status == 0
    assert {"jcsaml.launcher", "jcsaml.light_lookup"} <= modules
    assert sorted(top_level(modules) & set(HEAVY)) == []
    assert sorted(modules & set(LIGHT_PROMISE)) == []


@pytest.mark.parametrize("command", ["script", "credential-process"])
def test_the_console_scripts_way_in_is_as_light_for_script_and_credential_process(
    cached_everywhere: dict[str, str], command: str
) -> None:
    script = "import re, sys; from jcsaml.launcher import run; sys.argv[0] = 'jcsaml'; run()"
    status, modules = imported_modules(
        ["-c", script, command, "-a", "production"], cached_everywhere
    )
    assert status == 0
    assert "jcsaml.light_lookup" in modules
    assert sorted(modules & set(LIGHT_PROMISE + HEAVY)) == []


@pytest.mark.parametrize(
    "argv",
    [
        *(["script", "-a", "production", "--shell", shell] for shell in SHELLS),
        ["script", "-a", "production", "--profile", "production", "--role", ROLE],
        ["credential-process", "-a", "production"],
        ["credential-process", "--idp-account=production", f"--role={ROLE}", "--skip-prompt"],
    ],
    ids=" ".join,
)
def test_light_and_full_script_and_credential_process_print_the_same_bytes(
    cached_everywhere: dict[str, str], argv: list[str]
) -> None:
    env = dict(cached_everywhere, AWS_PROFILE="elsewhere")
    light = subprocess.run(
        [sys.executable, "-m", "jcsaml", *argv], env=env, capture_output=True, check=False
    )
    # --debug is not a light option: the full CLI answers.
    full = subprocess.run(
        [sys.executable, "-m", "jcsaml", *argv, "--debug"],
        env=env,
        capture_output=True,
        check=False,
    )
    assert light.returncode == full.returncode == 0
    assert light.stderr == b""
    assert light.stdout == full.stdout
    assert b"ASIACACHED" in light.stdout


def test_credential_process_near_its_margin_takes_the_full_cli(
    cached_everywhere: dict[str, str],
) -> None:
    from jcsaml import process_cache

    found = process_cache.load("production", ROLE, environ=cached_everywhere)
    assert found is not None
    soon = fresh_credentials(ROLE, lasting=timedelta(minutes=14), access_key_id="ASIASOON")
    process_cache.save("production", ROLE, soon, environ=cached_everywhere)
    status, modules = imported_modules(
        ["-m", "jcsaml", "credential-process", "-a", "production", "--skip-prompt"],
        cached_everywhere,
    )
    # Declined, then the full CLI tries to sign in and, told never to ask, fails in one line.
    assert status == 1
    assert "jcsaml.cli" in modules


def test_credential_process_with_cached_credentials_takes_the_light_path(
    hermetic_home: Path,
) -> None:
    role = "arn:aws:iam::012345678987:role/Admin"
    credentials = fresh_credentials(role)
    env = cached_account(hermetic_home, credentials, role_arn=role, profile=False, process=True)
    status, modules = imported_modules(
        ["-m", "jcsaml", "credential-process", "-a", "production", "--skip-prompt"], env
    )
    assert status == 0
    assert "jcsaml.light_lookup" in modules
    assert sorted(modules & set(LIGHT_PROMISE + HEAVY)) == []
    # The same document as the full CLI prints (--debug always takes the full CLI).
    light = run_cli("credential-process", "-a", "production", env=env)
    full = run_cli("credential-process", "-a", "production", "--debug", env=env)
    assert light.status == full.status == 0, full.stderr
    assert light.stdout == full.stdout
    assert json.loads(light.stdout) == {
        "Version": 1,
        "AccessKeyId": "ASIACACHED",
        "SecretAccessKey": "s",
        "SessionToken": "t",
        "Expiration": credentials.expiration_rfc3339(),
    }


def test_status_makes_do_with_the_standard_library_and_the_keyring(hermetic_home: Path) -> None:
    save_account(
        Account(
            name="production",
            url="https://sso.jumpcloud.com/saml2/acme",
            username="alice@acme.example",
        ),
        path=hermetic_home / ".jcsaml",
    )
    status, modules = imported_modules(["-m", "jcsaml", "status"], dict(os.environ))
    assert status == 0
    # The keyring says whether a JumpCloud session is saved; nothing else heavy is needed.
    assert sorted(modules & set(HEAVY)) == ["keyring"]
