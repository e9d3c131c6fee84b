"""Through the real CLI: what can fail locally fails before JumpCloud hears anything, and
``configure`` changes only what it is asked to, even when several run at once."""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import sys
from collections.abc import Callable

import filelock

from jcsaml.cli import Context, main
from jcsaml.ini_edit import lock_path_for
from tests.filesystem import read_only
from tests.world import World, assert_one_line_error


def configured(world: World) -> World:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    world.jumpcloud.clear_requests()
    return world


def test_a_malformed_credentials_file_with_force_fails_before_signing_in(world: World) -> None:
    configured(world)
    world.credentials.parent.mkdir(parents=True)
    world.credentials.write_text("[personal]\naws_access_key_id = AKIA\ngarbage line\n")
    result = world.login("--force")
    assert_one_line_error(result, str(world.credentials), "line 3")
    assert world.jumpcloud.requests == []


def test_a_read_only_credentials_directory_fails_before_signing_in(world: World) -> None:
    configured(world)
    world.credentials.parent.mkdir(parents=True)
    world.credentials.write_text("")
    with read_only(world.credentials.parent):
        result = world.login()
    assert_one_line_error(
        result, f"cannot write credentials file {world.credentials}", str(world.credentials.parent)
    )
    assert "remove" not in result.stderr
    assert world.jumpcloud.requests == []


def test_a_full_disk_fails_before_signing_in(world: World) -> None:
    configured(world)

    def no_room() -> None:  # every write of a byte fails, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    login = [sys.executable, "-m", "jcsaml", "login", "-a", "production", "--skip-prompt"]
    answers = {"JCSAML_PASSWORD": "x", "JCSAML_MFA_TOKEN": "123456"}
    done = world.without_terminal(login, answers, preexec_fn=no_room)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("jcsaml: error: cannot write credentials file"), done.stderr
    assert world.jumpcloud.requests == []


def test_a_held_lock_fails_at_once_before_signing_in(world: World) -> None:
    configured(world)
    lock = lock_path_for(world.credentials, world.env)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(lock):
        result = world.login()
    assert_one_line_error(result, str(lock), str(world.credentials), "try again")
    assert world.jumpcloud.requests == []


def test_profile_names_are_checked_before_anything_is_asked(world: World) -> None:
    configured(world)
    for command in (["login"], ["exec"]):
        for profile in ("[x]", "DEFAULT"):
            extra = ["--", "true"] if command == ["exec"] else []
            # No --skip-prompt and no password: a prompt would come first if the check did not.
            result = world.run(*command, "-a", "production", "--profile", profile, *extra)
            assert_one_line_error(result, "--profile", repr(profile))
    assert world.jumpcloud.requests == []
    assert not world.credentials.exists()


def test_default_is_refused_as_an_account_or_profile_name(world: World) -> None:
    result = world.run("configure", "-a", "DEFAULT", "--url", world.app_url)
    assert_one_line_error(result, "'DEFAULT'", "defaults section")
    result = world.run("configure", "-a", "x", "--url", world.app_url, "--profile", "DEFAULT")
    assert_one_line_error(result, "'DEFAULT'")
    assert_one_line_error(world.run("login", "-a", "DEFAULT", "--skip-prompt"), "'DEFAULT'")
    assert not world.config.exists()


def test_configure_refuses_a_value_with_a_newline_and_writes_nothing(world: World) -> None:
    configured(world)
    before = world.config.read_bytes()
    for flag, value in (
        ("--username", "bob\nurl = https://evil.example/saml2/x"),
        ("--role", world.roles["AcmeJumpCloudAdmin"] + "\n"),
        ("--region", "eu-west-1\r"),
    ):
        result = world.run("configure", "-a", "production", flag, value, "--skip-prompt")
        assert_one_line_error(result, "invalid")
        assert "unexpected" not in result.stderr
        assert world.config.read_bytes() == before


def test_a_continued_url_is_refused_naming_key_and_line(world: World) -> None:
    configured(world)
    world.config.write_text(
        world.config.read_text().replace(
            f"url = {world.app_url}\n",
            f"url = {world.app_url}\n  https://evil.example/saml2/x\n",
        )
    )
    assert_one_line_error(world.login(), "invalid url", f"line 3 of {world.config}")
    assert world.jumpcloud.requests == []


def test_configure_keeps_what_it_was_not_asked_to_change_and_says_what_changed(
    world: World,
) -> None:
    world.config.write_text(
        "[production]\n"
        f"url = {world.app_url}  ; the AWS app\n"
        "mfa = Push\n"
        "provider = JumpCloud\n"
        "skip_verify = false\n"
    )
    result = world.run("configure", "-a", "production", "--region", "eu-west-1", "--skip-prompt")
    assert result.status == 0, result.stderr
    assert "set region = eu-west-1" in result.stdout
    assert "  set mfa" not in result.stdout and "  changed mfa" not in result.stdout
    assert world.config.read_text() == (
        "[production]\n"
        f"url = {world.app_url}  ; the AWS app\n"
        "mfa = Push\n"
        "provider = JumpCloud\n"
        "skip_verify = false\n"
        "region = eu-west-1\n"
    )
    again = world.run("configure", "-a", "production", "--region", "eu-west-1", "--skip-prompt")
    assert again.stdout.startswith("Nothing to change in IdP account 'production'")
    changed = world.run("configure", "-a", "production", "--mfa", "totp", "--skip-prompt")
    assert "changed mfa: Push -> TOTP" in changed.stdout
    removed = world.run("configure", "-a", "production", "--region", "", "--skip-prompt")
    assert "removed region (was eu-west-1)" in removed.stdout
    assert "region" not in world.config.read_text()


def configure_rounds(job: tuple[dict[str, str], str, list[str]]) -> list[str]:
    """In a worker process: jcsaml configure of account production, setting ``flag`` to each
    value in turn, as the CLI does in the environment given; the errors of failed runs."""
    environ, flag, values = job
    os.environ.clear()
    os.environ.update(environ)
    failures = []
    for value in values:
        out, err = io.StringIO(), io.StringIO()
        argv = ["configure", "-a", "production", flag, value, "--skip-prompt"]
        if main(argv, context=Context(environ=environ, stdout=out, stderr=err)) != 0:
            failures.append(err.getvalue())
    return failures


def test_concurrent_configure_runs_lose_no_change(world: World) -> None:
    configured(world)
    flags: dict[str, Callable[[int], str]] = {
        "--username": lambda n: f"user{n}@acme.example",
        "--region": lambda n: f"eu-west-{n}",
        "--profile": lambda n: f"profile{n}",
        "--console-url": lambda n: f"https://console{n}.jumpcloud.com",
        "--idp-cert": lambda n: "",  # empty: remove (no certificate file needed)
        "--credentials-file": lambda n: f"/aws/credentials{n}",
        "--role": lambda n: f"arn:aws:iam::012345678987:role/Role{n}",
        "--session-duration": lambda n: str(900 + n),
    }
    jobs = [(world.env, flag, [value(n) for n in range(10)]) for flag, value in flags.items()]
    # One process per flag, forked rather than started afresh: what runs at once is processes.
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        failures = [stderr for done in pool.map(configure_rounds, jobs) for stderr in done]
    assert failures == []
    text = world.config.read_text()
    for line in (
        "username = user9@acme.example",
        "region = eu-west-9",
        "aws_profile = profile9",
        "console_url = https://console9.jumpcloud.com",
        "credentials_file = /aws/credentials9",
        "role_arn = arn:aws:iam::012345678987:role/Role9",
        "aws_session_duration = 909",
    ):
        assert line in text.splitlines(), text


def test_a_read_only_config_directory_is_a_write_error(world: World) -> None:
    configured(world)
    config = world.home / "settings" / "jcsaml.ini"
    config.parent.mkdir()
    config.write_bytes(world.config.read_bytes())
    with read_only(config.parent):
        result = world.run(
            "configure",
            "-a",
            "production",
            "--region",
            "eu-west-1",
            "--skip-prompt",
            "--config",
            str(config),
        )
    assert_one_line_error(result, f"cannot write config file {config}", str(config.parent))
    assert "cannot read" not in result.stderr and "remove" not in result.stderr


def test_no_lock_file_is_left_in_the_home_directory(world: World) -> None:
    configured(world)
    assert world.login().status == 0
    leftovers = [p for p in world.home.rglob("*.lock") if ".cache" not in p.parts]
    assert leftovers == []
    locks = sorted(p.name.split("-")[0] for p in (world.home / ".cache/jcsaml/locks").iterdir())
    # The config file's, the credentials file's, the record's and the sign-in's.
    assert locks == [".jcsaml", "credentials", "managed.json", "sign"]


def test_a_dangling_credentials_link_is_refused_and_creates_nothing(world: World) -> None:
    configured(world)
    world.credentials.parent.mkdir(parents=True)
    target = world.home / ".config" / "autostart" / "x.desktop"
    world.credentials.symlink_to(target)
    result = world.login()
    assert_one_line_error(result, str(world.credentials), str(target), "does not exist")
    assert not target.parent.exists()
    assert world.jumpcloud.requests == []


def test_a_credentials_file_others_can_write_is_refused(world: World) -> None:
    configured(world)
    world.credentials.parent.mkdir(parents=True)
    world.credentials.write_text("")
    world.credentials.chmod(0o666)
    result = world.login("--force")
    assert_one_line_error(result, f"chmod go-w {world.credentials}", "other users")
    assert world.jumpcloud.requests == []
