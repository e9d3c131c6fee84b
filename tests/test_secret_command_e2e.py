"""password_command and mfa_command: secrets from a password manager's command, through the CLI.

The commands are small Python scripts standing in for ``op item get ...``; each test checks what a
user sees (the login, or one error line) and that no secret reaches the output.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from jcsaml.config import Account
from jcsaml.errors import SecretCommandError
from jcsaml.secret_command import run_secret_command, secret_from_command
from tests.world import (
    EMAIL,
    PASSWORD,
    CliResult,
    World,
    WorldFactory,
    last_error_line,
    run_cli,
)


class Vault:
    """Account ``vault`` configured, and scripts standing in for a password manager."""

    def __init__(self, world: World) -> None:
        self.home = world.home
        self.jumpcloud = world.jumpcloud
        self.config = world.config
        self.world = world
        world.configure(account="vault")

    def script(self, name: str, body: str) -> str:
        """A command line running a Python script with ``body``."""
        path = self.home / f"{name}.py"
        path.write_text("import sys, time\n" + body + "\n")
        return f"{sys.executable} {path}"

    def set_keys(self, **keys: str) -> None:
        with self.config.open("a") as config:
            for key, value in keys.items():
                config.write(f"{key} = {value}\n")

    def login(self, *extra: str, **env: str) -> CliResult:
        login = ("login", "-a", "vault", "--skip-prompt", *extra)
        return run_cli(*login, env={**self.world.env, **env}, timeout=90)

    def prints_password(self) -> str:
        return self.script("password", f"print({PASSWORD!r}); print('second line ignored')")

    def prints_code(self) -> str:
        return self.script("code", f"print({self.jumpcloud.totp_code(EMAIL)!r})")


@pytest.fixture
def site(make_world: WorldFactory) -> Vault:
    return Vault(make_world(configure=(), roles=("Admin",)))


def no_secret(result: CliResult, *secrets: str) -> None:
    for secret in (PASSWORD, *secrets):
        assert secret not in result.stdout
        assert secret not in result.stderr


def test_password_and_code_from_commands_sign_in(site: Vault) -> None:
    code = site.jumpcloud.totp_code(EMAIL)
    site.set_keys(password_command=site.prints_password(), mfa_command=site.prints_code())
    result = site.login("--debug")
    assert result.status == 0, result.stderr
    assert "Logged in as" in result.stdout
    # --debug names the source, never the value.
    assert "password: from password_command" in result.stderr
    assert "MFA code: from mfa_command" in result.stderr
    no_secret(result, code)


def test_the_variables_name_commands_too_and_win_over_the_keys(site: Vault) -> None:
    site.set_keys(password_command=site.script("wrong", "print('not the password')"))
    result = site.login(
        "--debug",
        JCSAML_PASSWORD_COMMAND=site.prints_password(),
        JCSAML_MFA_COMMAND=site.prints_code(),
    )
    assert result.status == 0, result.stderr
    assert "password: from JCSAML_PASSWORD_COMMAND" in result.stderr
    no_secret(result)


def test_a_password_given_by_variable_comes_before_the_command(site: Vault) -> None:
    marker = site.home / "ran"
    site.set_keys(
        password_command=site.script("marks", f"open({str(marker)!r}, 'w'); print('x')"),
        mfa_command=site.prints_code(),
    )
    result = site.login(JCSAML_PASSWORD=PASSWORD)
    assert result.status == 0, result.stderr
    assert not marker.exists()


def test_a_code_given_by_flag_comes_before_mfa_command(site: Vault) -> None:
    site.set_keys(mfa_command=site.script("fails", "sys.exit(9)"))
    code = site.jumpcloud.totp_code(EMAIL)
    result = site.login("--mfa-token", code, JCSAML_PASSWORD=PASSWORD)
    assert result.status == 0, result.stderr


def test_a_failing_command_is_one_line_with_its_status_and_stderr(site: Vault) -> None:
    failing = site.script(
        "locked", f"print({PASSWORD!r}); print('vault is locked', file=sys.stderr); sys.exit(3)"
    )
    site.set_keys(password_command=failing)
    line = last_error_line(site.login())
    assert "password_command exited with status 3: vault is locked" in line
    no_secret(site.login())
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 0  # nothing was sent


def test_a_failing_mfa_command_names_its_variable(site: Vault) -> None:
    failing = site.script(
        "otp", "print('123456'); print('no such item', file=sys.stderr); sys.exit(1)"
    )
    result = site.login(JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_COMMAND=failing)
    line = last_error_line(result)
    assert "JCSAML_MFA_COMMAND exited with status 1: no such item" in line
    no_secret(result, "123456")


def test_a_command_that_prints_nothing_is_refused(site: Vault) -> None:
    site.set_keys(password_command=site.script("empty", "print()"))
    line = last_error_line(site.login())
    assert "password_command printed nothing" in line
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 0


def test_a_command_that_hangs_is_stopped_after_30_seconds(site: Vault) -> None:
    site.set_keys(mfa_command=site.script("hangs", "print('1', flush=True); time.sleep(600)"))
    started = time.monotonic()
    result = site.login(JCSAML_PASSWORD=PASSWORD)
    line = last_error_line(result)
    assert "mfa_command did not finish within 30 s" in line
    assert time.monotonic() - started < 80  # bounded: the command was killed, not waited for


def test_a_missing_program_is_named(site: Vault) -> None:
    site.set_keys(password_command="no-such-password-manager item get JumpCloud")
    line = last_error_line(site.login())
    assert "no-such-password-manager: command not found" in line


# --- the library function ---------------------------------------------------------------------


def test_the_first_line_of_stdout_is_the_secret(tmp_path: Path) -> None:
    command = f"{sys.executable} -c \"print('  s3cret  '); print('more')\""
    assert run_secret_command(command, setting="password_command") == "s3cret"


def test_the_command_is_not_run_by_a_shell(tmp_path: Path) -> None:
    # With a shell, ";" would start a second command and the output would be "a".
    command = f"{sys.executable} -c \"import sys; print(sys.argv[1])\" 'a;echo b'"
    assert run_secret_command(command, setting="password_command") == "a;echo b"


def test_a_hanging_command_is_bounded_by_the_timeout() -> None:
    command = f'{sys.executable} -c "import time; time.sleep(600)"'
    with pytest.raises(SecretCommandError, match=r"did not finish within 0\.5 s"):
        run_secret_command(command, setting="mfa_command", timeout=0.5)


def test_no_command_configured_gives_none() -> None:
    account = Account(name="a", url="https://sso.jumpcloud.com/saml2/x")
    assert secret_from_command(account, "password_command", environ={}) is None
