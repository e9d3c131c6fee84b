"""What a new user meets in the first hour, end to end through the real CLI: options before the
command, typos, several roles, the keyring, the role picker's memory, exec's exit statuses, help
pages and logout."""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.world import (
    EMAIL,
    PASSWORD,
    SLUG,
    CliResult,
    World,
    WorldFactory,
    cli_environment,
    run_cli,
)


@pytest.fixture
def user(make_world: WorldFactory) -> World:
    """Alice's machine, nothing configured; the null keyring unless ``with_keyring()``."""
    return make_world(configure=())


def one_error_line(result: CliResult, status: int = 1) -> str:
    assert result.status == status, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


# --- the command line -------------------------------------------------------------------------


def test_common_options_work_before_the_command(user: World) -> None:
    user.configure("--role", user.roles["AcmeJumpCloudAdminRO"])
    other = user.home / "elsewhere.ini"
    other.write_bytes(user.config.read_bytes())
    user.config.unlink()
    result = user.run(
        "-a", "production", "--config", str(other), "--debug", "login", "--skip-prompt",
        JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=user.code(),
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert "jcsaml: debug:" in result.stderr
    assert "profile 'production'" in result.stdout


def test_an_option_after_the_command_wins_over_one_before(user: World) -> None:
    user.configure("--role", user.roles["AcmeJumpCloudAdminRO"])
    result = user.run("-a", "nope", "logout", "-a", "production")
    assert result.status == 0, result.stderr


def test_an_unknown_option_shows_the_commands_usage(user: World) -> None:
    result = user.run("login", "--no-such-flag")
    assert result.status == 2
    assert result.stderr.startswith("usage: jcsaml login ")
    assert "jcsaml login: error: unrecognized arguments: --no-such-flag" in result.stderr


def test_an_account_name_typo_offers_the_closest_account(user: World) -> None:
    user.configure()
    user.configure(account="development")
    line = one_error_line(user.run("login", "-a", "prodution", "--skip-prompt"))
    assert "(it has: production, development)" in line
    assert "did you mean 'production'?" in line


def test_several_roles_without_prompting_lists_them_with_the_cli_flag(user: World) -> None:
    user.configure()
    line = one_error_line(user.login())
    assert "pass --role or set JCSAML_ROLE" in line and "role=" not in line
    assert user.roles["AcmeJumpCloudAdminRO"] in line and user.roles["AcmeJumpCloudAdmin"] in line


def test_session_duration_flag_is_named_in_its_error(user: World) -> None:
    user.configure()
    line = one_error_line(user.login("--session-duration", "100"))
    assert "invalid --session-duration: '100'" in line
    line = one_error_line(user.run("configure", "-a", "x", "--session-duration", "100"))
    assert "invalid --session-duration" in line


def test_configure_role_takes_a_role_name_like_login(user: World) -> None:
    user.configure("--role", "AcmeJumpCloudAdmin")
    assert "role_arn = AcmeJumpCloudAdmin\n" in user.config.read_text()
    result = user.login()
    assert result.status == 0, result.stderr
    assert f"Logged in as {user.roles['AcmeJumpCloudAdmin']}" in result.stdout


def test_a_wrong_console_url_is_named(user: World) -> None:
    user.configure("--role", "AcmeJumpCloudAdmin")
    user.jumpcloud.inject_fault("/userconsole/xsrf", "404")
    line = one_error_line(user.login())
    assert "console URL" in line and "answered HTTP 404" in line and "console_url" in line


def test_an_unresolvable_host_names_its_setting(user: World) -> None:
    user.configure("--role", "AcmeJumpCloudAdmin", "--console-url", "https://console.invalid")
    line = one_error_line(user.login())
    assert line == (
        "jcsaml: error: cannot resolve the host name console.invalid (from the account's "
        "console_url setting); check console_url and your DNS or VPN (jcsaml doctor tests both)"
    )


# --- sign-in: keyring, passwords, roles -------------------------------------------------------


def test_the_no_keyring_warning_comes_once_per_machine(user: World) -> None:
    user.configure("--role", "AcmeJumpCloudAdminRO")
    first = user.login()
    assert first.status == 0, first.stderr
    assert first.stderr.count("no OS keyring is available") == 1
    again = user.login("--force", steps=1)
    assert again.status == 0, again.stderr
    assert "keyring" not in again.stderr
    debug = user.login("--force", "--debug", steps=-1)
    assert debug.status == 0, debug.stderr
    assert "jcsaml: debug: jcsaml.secret_store: no OS keyring is available" in debug.stderr


def test_a_rejected_keyring_password_says_so_and_how_to_forget_it(user: World) -> None:
    user.with_keyring()
    user.configure("--role", "AcmeJumpCloudAdminRO")
    # Typed once (and so saved), then changed in JumpCloud.
    typed = user.run("login", "-a", "production", stdin=f"{PASSWORD}\n{user.code()}\n")
    assert typed.status == 0, typed.stderr
    keyring = json.loads(user.keyring.read_text())
    keyring = {k: v for k, v in keyring.items() if "session:" not in k}  # no live session
    user.keyring.write_text(json.dumps(keyring))
    user.person.password = new = "a new password"  # changed in JumpCloud
    line = one_error_line(user.run("login", "-a", "production", "--force", "--skip-prompt"))
    assert "password saved in the OS keyring for alice@acme.example" in line
    assert "jcsaml logout -a production --forget-password" in line
    # Interactively: Enter reuses the saved one, JumpCloud refuses it, the password is asked
    # again naming the user, and the new one is kept.
    retried = user.run("login", "-a", "production", "--force", stdin=f"\n{new}\n{user.code(1)}\n")
    assert retried.status == 0, retried.stderr
    assert "JumpCloud rejected the password saved in the OS keyring for" in retried.stderr
    assert "JumpCloud password for alice@acme.example: " in retried.stderr
    assert new in json.loads(user.keyring.read_text()).values()


def test_force_keeps_the_saved_session_until_a_new_sign_in_works(user: World) -> None:
    user.with_keyring()
    user.configure("--role", "AcmeJumpCloudAdminRO")
    assert user.login().status == 0
    sessions = {k: v for k, v in json.loads(user.keyring.read_text()).items() if "session:" in k}
    assert sessions
    abandoned = user.login("--force", JCSAML_PASSWORD="wrong")
    assert abandoned.status == 1
    kept = json.loads(user.keyring.read_text())
    assert all(kept.get(k) == v for k, v in sessions.items())
    user.jumpcloud.clear_requests()
    # Without --force the profile's valid credentials do; the saved session still works.
    user.credentials.unlink()
    again = user.run("login", "-a", "production", "--skip-prompt")
    assert again.status == 0, again.stderr
    assert user.jumpcloud.count("POST", "/userconsole/auth") == 0


def test_the_role_picker_remembers_the_last_choice(user: World) -> None:
    user.configure()
    admin = user.roles["AcmeJumpCloudAdmin"]
    first = user.run("login", "-a", "production", stdin=f"{PASSWORD}\n{user.code()}\n1\n")
    assert first.status == 0, first.stderr
    assert f"Logged in as {admin}" in first.stdout  # 1) is AcmeJumpCloudAdmin, sorted by name
    assert "[1-2]:" in first.stderr
    typed = f"{PASSWORD}\n{user.code(steps=1)}\n\n"  # Enter at the picker: the last choice
    again = user.run("login", "-a", "production", "--force", stdin=typed)
    assert again.status == 0, again.stderr
    assert "[1-2, Enter for 1]" in again.stderr
    assert f"Logged in as {admin}" in again.stdout
    assert admin in (user.home / ".local" / "state" / "jcsaml" / "notices").read_text()


def test_a_context_line_says_who_signs_in_and_why(user: World) -> None:
    user.configure("--role", "AcmeJumpCloudAdminRO")
    script = [sys.executable, "-c", "print('ran')"]
    first = user.run(
        "exec", "-a", "production", "--", *script, stdin=f"{PASSWORD}\n{user.code()}\n"
    )
    assert first.status == 0, first.stderr
    assert first.stderr.splitlines()[0] == (
        f"Signing in to JumpCloud for account 'production' as {EMAIL} (app {SLUG}): "
        "no credentials in profile 'production'"
    )
    # Expired credentials: the line says when they expired.
    text = user.credentials.read_text()
    old = datetime.now(UTC) - timedelta(minutes=3)
    stamp = text.split("x_security_token_expires = ")[1].split()[0]
    user.credentials.write_text(text.replace(stamp, old.strftime("%Y-%m-%dT%H:%M:%SZ")))
    again = user.run(
        "exec", "-a", "production", "--", *script, stdin=f"{PASSWORD}\n{user.code(steps=1)}\n"
    )
    assert again.status == 0, again.stderr
    expected = f"expired at {old.astimezone():%H:%M}"  # the child has the same time zone
    assert expected in again.stderr.splitlines()[0]


# --- exec's exit statuses -----------------------------------------------------------------------


def test_exec_of_a_file_that_is_not_executable_exits_126(user: World) -> None:
    user.configure("--role", "AcmeJumpCloudAdminRO")
    assert user.login().status == 0
    plain = user.home / "script.sh"
    plain.write_text("echo hi\n")
    plain.chmod(0o644)
    line = one_error_line(user.run("exec", "-a", "production", "--", str(plain)), status=126)
    assert f"cannot run {plain}" in line and "not executable" in line
    bindir = user.home / "bin"
    bindir.mkdir()
    (bindir / "tool").write_text("echo hi\n")
    path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    line = one_error_line(user.run("exec", "-a", "production", "--", "tool", PATH=path), 126)
    assert "cannot run tool" in line
    line = one_error_line(user.run("exec", "-a", "production", "--", "no-such-xyz"), status=127)
    assert "command not found: no-such-xyz" in line


# --- help and logout --------------------------------------------------------------------------


def test_help_lists_the_topics_and_prints_a_page(user: World) -> None:
    listing = user.run("help")
    assert listing.status == 0
    assert "saml-verification" in listing.stdout and "troubleshooting" in listing.stdout
    page = user.run("help", "configuration")
    assert page.status == 0
    assert page.stdout == (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    unknown = user.run("help", "configuraton")
    assert unknown.status == 2 and "did you mean 'configuration'?" in unknown.stderr


def test_logout_without_a_session_says_nothing_was_forgotten(user: World) -> None:
    user.configure()
    result = user.run("logout", "-a", "production", "--skip-prompt")
    assert result.status == 0, result.stderr
    assert f"No JumpCloud session of {EMAIL} was saved." in result.stdout
    assert "Forgot" not in result.stdout


def test_disable_keychain_leaves_the_keyring_alone(user: World) -> None:
    """--disable-keychain (or SAML2AWS_DISABLE_KEYCHAIN): no session saved, none read."""
    user.with_keyring()
    user.configure("--role", "AcmeJumpCloudAdminRO")
    assert user.login("--disable-keychain").status == 0
    assert not user.keyring.exists() or "session:" not in user.keyring.read_text()
    assert user.login("--force", steps=1).status == 0  # without it: the session is kept
    assert "session:" in user.keyring.read_text()
    user.jumpcloud.clear_requests()
    roles = ("list-roles", "-a", "production", "--skip-prompt")
    assert user.run(*roles).status == 0  # through the saved session
    assert user.jumpcloud.count("GET", "/userconsole/api/self") == 1
    user.jumpcloud.clear_requests()
    refused = user.run(*roles, SAML2AWS_DISABLE_KEYCHAIN="true")
    assert refused.status == 1 and "password" in refused.stderr  # it would have to sign in
    assert user.jumpcloud.count() == 0


def test_logout_takes_the_username_from_either_variable(user: World) -> None:
    user.configure()
    other = "bob@acme.example"
    result = user.run("logout", "-a", "production", "--skip-prompt", SAML2AWS_USERNAME=other)
    assert result.status == 0, result.stderr
    assert f"No JumpCloud session of {other} was saved." in result.stdout
    both = user.run(
        "logout", "-a", "production", "--skip-prompt",
        JCSAML_USERNAME=EMAIL, SAML2AWS_USERNAME=other,
    )  # fmt: skip
    assert f"No JumpCloud session of {EMAIL} was saved." in both.stdout  # jcsaml's own wins


def test_logout_forgets_a_saved_session(user: World) -> None:
    user.with_keyring()
    user.configure("--role", "AcmeJumpCloudAdminRO")
    assert user.login().status == 0
    result = user.run("logout", "-a", "production", "--forget-password")
    assert result.status == 0, result.stderr
    assert f"Forgot the JumpCloud session of {EMAIL}." in result.stdout
    assert "session:" not in user.keyring.read_text()


# --- a real terminal: prompt_toolkit reading from a pipe ----------------------------------------


def terminal_context(
    environ: dict[str, str], pipe: object
) -> tuple[object, io.StringIO, io.StringIO]:
    from prompt_toolkit.output import DummyOutput

    from jcsaml.cli import Context

    out, err = io.StringIO(), io.StringIO()
    ctx = Context(
        environ=environ,
        stdout=out,
        stderr=err,
        terminal_input=pipe,  # type: ignore[arg-type]
        terminal_output=DummyOutput(),
    )
    return ctx, out, err


CLEAR = "\x15"  # Ctrl-U: clears the pre-filled default before typing


def test_configure_checks_each_answer_at_its_prompt_and_offers_the_regional_console(
    hermetic_home: Path,
) -> None:
    from prompt_toolkit.input import create_pipe_input

    from jcsaml.cli import main

    environ = cli_environment(hermetic_home)
    with create_pipe_input() as pipe:
        for keys in (
            "ftp://nope\r",  # refused: asked again
            "https://sso.eu.jumpcloud.com/saml2/acme\r",
            "\r",  # the EU console, offered because of the URL
            "alice@acme.example\r",
            f"{CLEAR}sms\r",  # refused: asked again
            f"{CLEAR}totp\r",
            f"{CLEAR}DEFAULT\r",  # refused: asked again
            f"{CLEAR}prod\r",
        ):
            pipe.send_text(keys)
        pipe.close()  # every answer is typed ahead: one question too many fails at once
        ctx, out, err = terminal_context(environ, pipe)
        status = main(["configure", "-a", "production"], context=ctx)  # type: ignore[arg-type]
    assert status == 0, err.getvalue()
    notices = err.getvalue().splitlines()
    assert len(notices) == 3, notices
    assert notices[0].startswith("invalid url: 'ftp://nope' must be an https:// URL")
    assert notices[1].startswith("invalid mfa: 'SMS'")
    assert notices[2].startswith("invalid aws_profile: 'DEFAULT'")
    assert all(line.endswith("; try again") for line in notices)
    text = (hermetic_home / ".jcsaml").read_text()
    for line in (
        "url = https://sso.eu.jumpcloud.com/saml2/acme",
        "console_url = https://console.eu.jumpcloud.com",
        "username = alice@acme.example",
        "mfa = TOTP",
        "aws_profile = prod",
    ):
        assert line in text
    assert "console_url           https://console.eu.jumpcloud.com" in out.getvalue()


def test_configure_lists_the_default_console_url_in_its_summary(hermetic_home: Path) -> None:
    result = run_cli(
        "configure", "-a", "p", "--url", "https://sso.jumpcloud.com/saml2/acme", "--skip-prompt",
        env=cli_environment(hermetic_home),
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert "console_url           https://console.jumpcloud.com (default" in result.stdout


def test_configure_of_an_existing_account_asks_every_setting_with_its_value(
    hermetic_home: Path,
) -> None:
    from prompt_toolkit.input import create_pipe_input

    from jcsaml.cli import main

    config = hermetic_home / ".jcsaml"
    config.write_text("[production]\nurl = https://sso.jumpcloud.com/saml2/acme\nmfa = TOTP\n")
    environ = cli_environment(hermetic_home)
    with create_pipe_input() as pipe:
        # Enter keeps the URL, a username is typed, Enter keeps TOTP and the profile.
        pipe.send_text("\rbob@acme.example\r\r\r")
        pipe.close()  # every answer is typed ahead: one question too many fails at once
        ctx, _, err = terminal_context(environ, pipe)
        status = main(
            ["configure", "-a", "production", "--console-url", "https://console.jumpcloud.eu"],
            context=ctx,  # type: ignore[arg-type]
        )
    assert status == 0, err.getvalue()
    text = config.read_text()
    assert "username = bob@acme.example" in text and "mfa = TOTP" in text
    assert "console_url = https://console.jumpcloud.eu" in text


def test_a_terminal_login_retries_the_password_strips_the_code_and_preselects_the_role(
    user: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prompt_toolkit.input import create_pipe_input

    from jcsaml import remembered
    from jcsaml.cli import main

    user.configure()
    ro = user.roles["AcmeJumpCloudAdminRO"]
    remembered.remember_role("production", ro, user.env)  # chosen last time
    for key, value in user.env.items():  # boto3 reads the process's own environment
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    code = user.code()
    with create_pipe_input() as pipe:
        for keys in ("a typo\r", f"{PASSWORD}\r", f"{code[:3]} {code[3:]}\r", "\r"):
            pipe.send_text(keys)
        pipe.close()  # every answer is typed ahead: one question too many fails at once
        ctx, out, err = terminal_context(user.env, pipe)
        status = main(["login", "-a", "production"], context=ctx)  # type: ignore[arg-type]
    assert status == 0, err.getvalue()
    assert f"Logged in as {ro}" in out.getvalue()  # Enter took the remembered role
    assert f"JumpCloud rejected the password for {EMAIL}" in err.getvalue()
    assert "2 attempts left" in err.getvalue()
    assert user.jumpcloud.count("POST", "/userconsole/auth") == 3  # typo, password, one code


def test_the_docs_pages_are_package_data() -> None:
    import tomllib
    from importlib.resources import files

    root = Path(__file__).parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert "docs/*.md" in project["tool"]["setuptools"]["package-data"]["jcsaml"]
    shipped = sorted(p.name for p in (files("jcsaml") / "docs").iterdir())
    assert shipped == sorted(p.name for p in (root / "docs").glob("*.md"))


def test_debug_in_several_runs_of_main_in_one_process_logs_each_line_once(
    hermetic_home: Path,
) -> None:
    """A library caller may run main() many times: --debug output is never repeated, and each
    run's lines go to that run's stream."""
    import io
    import logging

    from jcsaml.cli import Context, main

    streams = []
    for _ in range(3):
        err = io.StringIO()
        ctx = Context(environ=cli_environment(hermetic_home), stdout=io.StringIO(), stderr=err)
        main(["--debug", "status"], context=ctx)
        logging.getLogger("jcsaml.test").debug("one line")
        streams.append(err.getvalue())
    assert [s.count("jcsaml: debug: jcsaml.test: one line") for s in streams] == [1, 1, 1]
