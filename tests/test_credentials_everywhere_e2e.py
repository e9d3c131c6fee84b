"""End to end through the real CLI: the region exec gives its command, --exec-profile, script,
credential-process (run by the real AWS CLI) and status, against the fake JumpCloud and moto."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jcsaml import process_cache
from jcsaml.credentials_file import CredentialsFile
from tests.world import (
    ACCOUNT,
    AWS_CLI,
    EMAIL,
    PASSWORD,
    SIGN_IN,
    World,
    assert_one_line_error,
    configured_region_line,
)

# The runbook's ~/.aws/config, as it is.
RUNBOOK_AWS_CONFIG = "[default]\nregion = us-east-1\n\n[profile production]\nregion = us-east-2\n"


@pytest.fixture
def world(runbook_world: World) -> World:
    return runbook_world


# --- the region exec gives its command ---------------------------------------------------------


BOTO3_REGION = "import boto3; print(boto3.Session().region_name)"


def test_exec_uses_the_profile_region_of_the_runbook_aws_config(world: World) -> None:
    world.write_aws_config(RUNBOOK_AWS_CONFIG)
    world.configure()
    world.login_ok()
    # What the runbook's own command uses: the profile's region.
    direct = world.aws_cli("--profile", "production", "configure", "list")
    assert configured_region_line(direct.stdout)[1] == "us-east-2", direct.stderr

    ran = world.run("exec", "-a", "production", "--", sys.executable, "-c", BOTO3_REGION)
    assert ran.status == 0, ran.stderr
    assert ran.stdout.strip() == "us-east-2"
    listed = world.run("exec", "-a", "production", "--", AWS_CLI, "configure", "list")
    assert listed.status == 0, listed.stderr
    region = configured_region_line(listed.stdout)
    assert region[1] == "us-east-2" and region[2] == "env"
    # The config file is read, not written.
    assert world.aws_config.read_text() == RUNBOOK_AWS_CONFIG


def test_exec_region_of_the_account_wins_and_the_shell_region_beats_the_file(
    world: World,
) -> None:
    world.write_aws_config(RUNBOOK_AWS_CONFIG)
    world.configure()
    world.login_ok()
    from_shell = world.exec_command(
        sys.executable, "-c", BOTO3_REGION, AWS_DEFAULT_REGION="ap-south-1"
    )
    assert from_shell.stdout.strip() == "ap-south-1", from_shell.stderr

    world.configure("--region", "eu-west-1")
    ran = world.exec_command(sys.executable, "-c", BOTO3_REGION, AWS_DEFAULT_REGION="ap-south-1")
    assert ran.status == 0, ran.stderr
    assert ran.stdout.strip() == "eu-west-1"


def test_exec_for_the_default_profile_uses_the_default_section(world: World) -> None:
    world.write_aws_config(RUNBOOK_AWS_CONFIG)
    world.configure("--profile", "default")
    world.login_ok()
    listed = world.run("exec", "-a", "production", "--", AWS_CLI, "configure", "list")
    assert configured_region_line(listed.stdout)[1] == "us-east-1", listed.stderr


# --- exec --exec-profile -----------------------------------------------------------------------


def test_exec_profile_runs_as_the_role_of_that_profile(world: World) -> None:
    world.write_aws_config(
        RUNBOOK_AWS_CONFIG + f"\n[profile deploy]\nrole_arn = {world.roles['Deploy']}\n"
        "region = eu-central-1\n"
    )
    world.configure()
    code = (
        "import boto3; s = boto3.Session(); "
        "print(s.client('sts').get_caller_identity()['Arn'], s.region_name)"
    )
    ran = world.exec_command(
        sys.executable, "-c", code, options=("--exec-profile", "deploy"), **world.sign_in_env()
    )
    assert ran.status == 0, ran.stderr
    arn, region = ran.stdout.split()
    assert arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/Deploy/")
    assert region == "eu-central-1"
    # The profile written by the sign-in still holds the SAML role's credentials.
    saved = CredentialsFile(world.credentials).load("production")
    assert saved is not None and saved.role_arn == world.roles["AcmeJumpCloudAdminRO"]


def test_exec_profile_without_a_role_is_one_error(world: World) -> None:
    world.write_aws_config(RUNBOOK_AWS_CONFIG)
    world.configure()
    world.login_ok()
    ran = world.run("exec", "-a", "production", "--exec-profile", "production", "--", "true")
    assert_one_line_error(ran, "'production'", "no role_arn", "[profile production]")


def test_exec_profile_it_cannot_use_fails_before_signing_in(world: World) -> None:
    world.write_aws_config(
        RUNBOOK_AWS_CONFIG + f"\n[profile deploy]\nrole_arn = {world.roles['Deploy']}\n"
        "duration_seconds = soon\n"
    )
    world.configure()
    missing = world.run("exec", "-a", "production", "--exec-profile", "nosuch", "--", "true")
    assert_one_line_error(missing, "'nosuch'", "no role_arn", "[profile nosuch]")
    bad = world.run("exec", "-a", "production", "--exec-profile", "deploy", "--", "true")
    assert_one_line_error(bad, "duration_seconds of profile 'deploy'")
    assert world.jumpcloud.count() == 0  # nothing was asked, nobody signed in
    assert not world.credentials.exists()


# --- script -----------------------------------------------------------------------------------


SHOW_AWS = (
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
    "if k.startswith(('AWS_', 'JCSAML_'))}))"
)


def test_script_evaluated_by_bash_sets_exactly_exec_variables(world: World) -> None:
    world.write_aws_config(RUNBOOK_AWS_CONFIG)
    world.configure("--region", "sa-east-1")
    profile = ("--profile", "ci+deploy@acme=1,x")  # every punctuation a profile name may hold
    first = world.run("script", "-a", "production", *profile, **world.sign_in_env())
    assert first.status == 0, first.stderr
    assert "export AWS_ACCESS_KEY_ID=" in first.stdout
    saved = CredentialsFile(world.credentials).load("ci+deploy@acme=1,x")
    assert saved is not None
    # eval in a shell that had other AWS settings: exactly the right ones remain.
    env = {k: v for k, v in world.env.items() if not k.startswith(("AWS_", "JCSAML_"))}
    env.update(AWS_PROFILE="elsewhere", AWS_ROLE_ARN="arn:aws:iam::1:role/x")
    done = subprocess.run(
        ["bash", "-c", f'eval "$1" && "{sys.executable}" -c "$2"', "-", first.stdout, SHOW_AWS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "AWS_ACCESS_KEY_ID": saved.access_key_id,
        "AWS_SECRET_ACCESS_KEY": saved.secret_access_key,
        "AWS_SESSION_TOKEN": saved.session_token,
        "AWS_SECURITY_TOKEN": saved.session_token,
        "AWS_CREDENTIAL_EXPIRATION": saved.expiration_rfc3339(),
        "AWS_REGION": "sa-east-1",
        "AWS_DEFAULT_REGION": "sa-east-1",
        "JCSAML_PROFILE": "ci+deploy@acme=1,x",
    }
    # The same variables as exec gives its command (apart from exec's own marker).
    ran = world.run("exec", "-a", "production", *profile, "--", sys.executable, "-c", SHOW_AWS)
    from_exec = json.loads(ran.stdout)
    from_exec.pop("JCSAML_EXEC_ACCOUNT")
    aws_only = {k: v for k, v in json.loads(done.stdout).items() if k.startswith("AWS_")}
    assert {name: from_exec.get(name) for name in aws_only} == aws_only

    world.jumpcloud.clear_requests()
    again = world.run("script", "-a", "production", *profile, "--shell", "json")
    assert again.status == 0, again.stderr
    assert json.loads(again.stdout)["AWS_ACCESS_KEY_ID"] == saved.access_key_id
    assert world.jumpcloud.count() == 0


def test_script_prompts_on_stderr_never_on_stdout(world: World) -> None:
    world.configure()
    typed = f"{PASSWORD}\n{world.code()}\n"
    result = world.run("script", "-a", "production", "--shell", "env", stdin=typed)
    assert result.status == 0, result.stderr
    assert "JumpCloud password" in result.stderr
    names = [line.split("=", 1)[0] for line in result.stdout.splitlines()]
    assert names == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "JCSAML_PROFILE",
    ]


# --- credential-process -------------------------------------------------------------------------


def test_aws_cli_with_credential_process_signs_in_once_and_refreshes_near_the_end(
    world: World,
) -> None:
    world.write_aws_config("# team settings\n" + RUNBOOK_AWS_CONFIG + "output = json\n")
    world.configure()
    done = world.run("configure", "-a", "production", "--credential-process")
    assert done.status == 0, done.stderr
    written = world.aws_config.read_text()
    assert written.startswith("# team settings\n[default]\nregion = us-east-1\n")
    assert "region = us-east-2\noutput = json\ncredential_process = " in written
    assert "credential-process -a production" in written

    identity = ("--profile", "production", "sts", "get-caller-identity", "--output", "json")
    first = world.aws_cli(*identity, **world.sign_in_env())
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AcmeJumpCloudAdminRO/"
    )
    assert world.jumpcloud.count("POST", SIGN_IN) >= 1
    assert not world.credentials.exists()  # never the credentials file

    [entry] = process_cache.entries(environ=world.env)
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.path.parent.stat().st_mode) == 0o700
    world.jumpcloud.clear_requests()
    for _ in range(2):
        again = world.aws_cli(*identity)
        assert again.returncode == 0, again.stderr
    assert world.jumpcloud.count() == 0

    # 16 minutes left: still handed out. 14 minutes left: signs in again, with the saved
    # JumpCloud session (no password, no code).
    def left(minutes: int) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        ending = entry.credentials.__class__(
            **{**entry.credentials.__dict__, "expiration": now + timedelta(minutes=minutes)}
        )
        process_cache.save("production", entry.role, ending, environ=world.env)

    left(16)
    kept = world.aws_cli(*identity)
    assert kept.returncode == 0, kept.stderr
    assert world.jumpcloud.count() == 0
    left(14)
    refreshed = world.aws_cli(*identity)
    assert refreshed.returncode == 0, refreshed.stderr
    assert world.jumpcloud.count() > 0
    assert world.jumpcloud.count("POST", SIGN_IN) == 0
    renewed = process_cache.load("production", entry.role, environ=world.env)
    assert renewed is not None
    assert renewed.expiration - datetime.now(UTC) > timedelta(minutes=30)


def test_configure_credential_process_writes_the_absolute_path_of_the_jcsaml_command(
    world: World, tmp_path: Path
) -> None:
    """Run as an installed ``jcsaml`` script (given relative to the current directory), the
    line it writes runs the same script from anywhere."""
    world.configure()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "jcsaml"
    script.write_text(f"#!{sys.executable}\nfrom jcsaml.launcher import run\n\nrun()\n")
    script.chmod(0o755)
    done = subprocess.run(
        ["./jcsaml", "configure", "-a", "production", "--credential-process"],
        cwd=bin_dir,
        env=world.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(
        text for text in world.aws_config.read_text().splitlines() if "credential_process" in text
    )
    command = line.split("=", 1)[1].strip()
    assert shlex.split(command) == [str(script), "credential-process", "-a", "production"]
    ran = subprocess.run(
        shlex.split(command),
        cwd=world.home,
        env={**world.env, **world.sign_in_env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["Version"] == 1


def test_credential_process_prints_version_1_json(world: World) -> None:
    world.configure()
    result = world.run("credential-process", "-a", "production", **world.sign_in_env())
    assert result.status == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted(document) == [
        "AccessKeyId",
        "Expiration",
        "SecretAccessKey",
        "SessionToken",
        "Version",
    ]
    assert document["Version"] == 1
    assert datetime.fromisoformat(document["Expiration"]) > datetime.now(UTC)
    assert document["Expiration"].endswith("Z")
    # The secret never reaches stderr.
    assert document["SecretAccessKey"] not in result.stderr


def test_credential_process_refuses_a_cache_directory_others_can_write(world: World) -> None:
    world.configure()
    directory = process_cache.cache_directory(world.env)
    directory.mkdir(parents=True)
    directory.chmod(0o777)
    result = world.run("credential-process", "-a", "production", **world.sign_in_env())
    assert result.status == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"jcsaml: error: refusing to use {directory} (the credential-process cache): {directory} "
        f"is writable by other users; run: chmod go-w {directory}\n"
    )
    assert list(directory.iterdir()) == []
    assert world.jumpcloud.requests == []  # refused before anything was sent


def test_credential_process_without_a_terminal_or_answers_fails_in_one_line(
    world: World,
) -> None:
    world.configure()
    done = subprocess.run(
        [sys.executable, "-m", "jcsaml", "credential-process", "-a", "production"],
        env=world.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("jcsaml: error: credential-process must sign in")
    assert "JCSAML_PASSWORD" in lines[0]
    assert "Traceback" not in done.stderr


def test_configure_credential_process_warns_when_long_lived_keys_win(
    world: World,
) -> None:
    world.configure()
    world.credentials.parent.mkdir(exist_ok=True)
    world.credentials.write_text(
        "[production]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n"
    )
    done = world.run("configure", "-a", "production", "--credential-process")
    assert done.status == 0, done.stderr
    assert "credential_process" in done.stdout
    assert "jcsaml: warning: profile 'production'" in done.stderr
    assert "long-lived access keys" in done.stderr


# --- status ------------------------------------------------------------------------------------


def test_status_lists_profiles_cache_and_sessions(world: World) -> None:
    world.configure()
    empty = world.run("status")
    assert empty.status == 0, empty.stderr
    assert "No credentials from jcsaml." in empty.stdout
    assert f"JumpCloud session of {EMAIL} (production): none saved" in empty.stdout

    world.login_ok()
    process = world.run("credential-process", "-a", "production", "--role", "AcmeJumpCloudAdmin")
    assert process.status == 0, process.stderr  # the saved session: no password, no code
    world.jumpcloud.clear_requests()

    result = world.run("status", "--json")
    assert result.status == 0, result.stderr
    document = json.loads(result.stdout)
    by_source = {entry["source"]: entry for entry in document["credentials"]}
    in_file = by_source["credentials file"]
    assert in_file["profile"] == "production" and in_file["account"] == "production"
    assert in_file["role_arn"] == world.roles["AcmeJumpCloudAdminRO"]
    assert 3000 < in_file["seconds_left"] <= 3600
    cached = by_source["credential-process cache"]
    assert cached["account"] == "production"
    assert cached["role_arn"] == world.roles["AcmeJumpCloudAdmin"]
    assert document["sessions"] == [
        {
            "username": EMAIL,
            "console_url": world.jumpcloud.url,
            "accounts": ["production"],
            "saved": True,
        }
    ]
    table = world.run("status")
    assert table.stdout.splitlines()[0].split() == [
        "PROFILE",
        "ACCOUNT",
        "ROLE",
        "VALID",
        "FOR",
        "WHERE",
    ]
    assert f"JumpCloud session of {EMAIL} (production): saved" in table.stdout
    assert world.jumpcloud.count() == 0  # no network


def test_status_with_unreadable_files_warns_and_lists_the_rest(world: World) -> None:
    world.configure()
    done = world.run("credential-process", "-a", "production", **world.sign_in_env())
    assert done.status == 0, done.stderr
    config = world.home / ".jcsaml"
    config.write_text("text before any section\n" + config.read_text())
    world.credentials.parent.mkdir(exist_ok=True)
    world.credentials.write_text("not a profile\n")
    result = world.run("status", "--json")
    assert result.status == 0, result.stderr
    [cached] = json.loads(result.stdout)["credentials"]
    assert cached["source"] == "credential-process cache"
    assert cached["role_arn"] == world.roles["AcmeJumpCloudAdminRO"]
    assert result.stderr.splitlines() == [
        f"jcsaml: warning: cannot read config file {config}: line 1: text before the first "
        "[section] header; fix or remove that file",
        f"jcsaml: warning: cannot use credentials file {world.credentials}: line 1: text before "
        "the first [section] header; fix the file by hand, jcsaml left it as is",
    ]


def test_logout_also_clears_the_credential_process_cache(world: World) -> None:
    world.configure()
    done = world.run("credential-process", "-a", "production", **world.sign_in_env())
    assert done.status == 0, done.stderr
    assert len(process_cache.entries(environ=world.env)) == 1
    out = world.run("logout", "-a", "production")
    assert out.status == 0, out.stderr
    assert "Removed the credential-process cache of account 'production'." in out.stdout
    assert process_cache.entries(environ=world.env) == []


def test_credential_process_asks_on_the_terminal_never_on_stdout(world: World) -> None:
    """A pseudo-terminal as the controlling terminal; stdout and stderr are pipes, as botocore
    runs the process."""
    import fcntl
    import pty
    import select
    import termios

    world.configure()
    master, slave = pty.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "jcsaml", "credential-process", "-a", "production"],
        env=world.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=take_terminal,
        pass_fds=(slave,),
    )
    os.close(slave)
    seen = b""
    answered: set[str] = set()
    answers = {
        b"JumpCloud password": ("password", PASSWORD),
        b"MFA code": ("code", world.jumpcloud.totp_code(EMAIL)),
    }
    try:
        while process.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                seen += os.read(master, 4096)
            except OSError:  # the terminal closed: the process is ending
                break
            for prompt, (name, answer) in answers.items():
                if prompt in seen and name not in answered:
                    answered.add(name)
                    os.write(master, answer.encode() + b"\r")
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert process.returncode == 0, stderr
    assert answered == {"password", "code"}
    assert b"JumpCloud password" not in stdout + stderr
    assert PASSWORD.encode() not in seen  # typed without echo
    assert json.loads(stdout)["Version"] == 1
