"""Through the real CLI and the real AWS CLI: JumpCloud failing while the saved session is reused
(the session is kept, and used again once JumpCloud is back), many ``aws`` processes needing
credentials at once (one sign-in), and a credential-process cache that cannot be written or
holds something odd (the credentials are handed out all the same)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jcsaml import managed, process_cache
from tests.conftest import ODD_FILES, replace_with_odd_file
from tests.world import AWS_CLI, SAML_PAGE, SIGN_IN, CliResult, World, assert_one_line_error

SELF = "/userconsole/api/self"
HERD = 25
IDENTITY = ("--profile", "production", "--region", "us-east-1", "sts", "get-caller-identity")


@pytest.fixture
def world(runbook_world: World) -> World:
    return runbook_world


def keyring_sessions(world: World) -> list[str]:
    """The JumpCloud console sessions in the test keyring."""
    if not world.keyring.exists():
        return []
    entries: dict[str, str] = json.loads(world.keyring.read_text())
    return [key for key in entries if key.split("\n")[-1].startswith("session:")]


def signed_in_once(world: World) -> None:
    """Configured for credential_process, signed in once with the password: the JumpCloud
    session is saved (the password, given in a variable, is not), the cache filled."""
    world.configure()
    done = world.run("configure", "-a", "production", "--credential-process")
    assert done.status == 0, done.stderr
    first = world.detached("credential-process", "-a", "production", **world.sign_in_env())
    assert first.returncode == 0, first.stderr
    assert len(keyring_sessions(world)) == 1


def cache_entry_path(world: World) -> Path:
    [entry] = process_cache.entries(environ=world.env)
    return entry.path


# --- the saved session through JumpCloud's failures ---------------------------------------------


def test_a_503_keeps_the_session_says_so_and_every_command_recovers_without_a_prompt(
    world: World,
) -> None:
    signed_in_once(world)
    cache_entry_path(world).unlink()
    world.jumpcloud.fault_switch(SELF, "503")
    failed = world.detached("credential-process", "-a", "production")
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr == (
        f"jcsaml: error: JumpCloud is unavailable (HTTP 503 at {SELF}); the saved session is "
        "kept; try again\n"
    )
    assert len(keyring_sessions(world)) == 1
    login_failed = world.detached("login", "-a", "production", "--skip-prompt")
    assert_one_line_error(
        CliResult(login_failed.returncode, login_failed.stdout, login_failed.stderr),
        "JumpCloud is unavailable (HTTP 503 at",
    )
    assert len(keyring_sessions(world)) == 1

    world.jumpcloud.fault_switch(SELF, None)
    world.jumpcloud.clear_requests()
    # No password and no code anywhere below: only the saved session can sign in.
    process = world.detached("credential-process", "-a", "production")
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout)["Version"] == 1
    cache_entry_path(world).unlink()  # login (of this credential_process profile) must too
    login = world.detached("login", "-a", "production", "--skip-prompt")
    assert login.returncode == 0, login.stderr
    child = (
        "import boto3; "
        "print(boto3.client('sts', region_name='us-east-1').get_caller_identity()['Arn'])"
    )
    cache_entry_path(world).unlink()  # exec --server must sign in too
    served = world.detached(
        "exec", "--server", "-a", "production", "--", sys.executable, "-c", child
    )
    assert served.returncode == 0, served.stderr
    assert ":assumed-role/AcmeJumpCloudAdminRO/" in served.stdout
    assert world.jumpcloud.count("POST", SIGN_IN) == 0
    assert world.jumpcloud.count("GET", SAML_PAGE) == 3


def test_a_401_forgets_the_session(world: World) -> None:
    signed_in_once(world)
    cache_entry_path(world).unlink()
    world.jumpcloud.fault_switch(SELF, "401")
    failed = world.detached("credential-process", "-a", "production")
    assert failed.returncode == 1
    assert keyring_sessions(world) == []
    assert "credential-process must sign in" in failed.stderr


# --- a herd of aws processes --------------------------------------------------------------------


def herd(world: World) -> list[subprocess.CompletedProcess[str]]:
    """HERD ``aws sts get-caller-identity`` at once, each through credential_process."""
    started = [world.spawn([AWS_CLI, *IDENTITY]) for _ in range(HERD)]
    done = []
    for process in started:
        out, err = process.communicate(timeout=500)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


@pytest.mark.timeout(1500)
def test_25_aws_processes_at_once_make_one_sign_in(world: World) -> None:
    signed_in_once(world)
    path = cache_entry_path(world)
    entry = process_cache.entries(environ=world.env)[0]

    # A cold cache.
    path.unlink()
    world.jumpcloud.clear_requests()
    results = herd(world)
    assert [r.returncode for r in results] == [0] * HERD, [r.stderr for r in results]
    assert world.jumpcloud.count("GET", SAML_PAGE) == 1
    assert world.jumpcloud.count("POST") == 0

    # A cache with 5 minutes left.
    now = datetime.now(UTC).replace(microsecond=0)
    ending = entry.credentials.__class__(
        **{**entry.credentials.__dict__, "expiration": now + timedelta(minutes=5)}
    )
    process_cache.save("production", entry.role, ending, environ=world.env)
    world.jumpcloud.clear_requests()
    results = herd(world)
    assert [r.returncode for r in results] == [0] * HERD, [r.stderr for r in results]
    assert world.jumpcloud.count("GET", SAML_PAGE) == 1

    # The session gone and no terminal: each fails with one line, one contacts JumpCloud.
    world.jumpcloud.expire_sessions()
    path.unlink()
    world.jumpcloud.clear_requests()
    results = herd(world)
    assert all(r.returncode != 0 for r in results)
    for result in results:
        assert result.stderr.count("jcsaml: error: ") == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert world.jumpcloud.count() == 1
    assert keyring_sessions(world) == []


# --- the cache never costs a sign-in ------------------------------------------------------------

# Runs the CLI with writing the cache failing as the errno says (a full disk or a read-only file
# system cannot be made here without privileges).
INJECTED = """
import errno, os, sys
from jcsaml import process_cache
NUMBER = getattr(errno, sys.argv[1])
def failing(*args, **kwargs):
    raise OSError(NUMBER, os.strerror(NUMBER))
process_cache._write = failing
sys.argv = ["jcsaml", *sys.argv[2:]]
from jcsaml.launcher import run
run()
"""


@pytest.mark.parametrize(
    ("failure", "wording"),
    [
        ("ENOSPC", "the disk is full"),
        ("EROFS", "the file system is read-only"),
        ("EACCES", "permission denied; check that directory's permissions"),
        ("ENOTDIR", "something that is not a directory is in the way"),
    ],
)
def test_credentials_are_printed_when_the_cache_cannot_be_written(
    world: World, tmp_path: Path, failure: str, wording: str
) -> None:
    world.configure()
    argv = ["credential-process", "-a", "production"]
    if failure == "ENOTDIR":  # for real: a file where the cache directory should be
        cache = process_cache.cache_directory(world.env)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text("not a directory")
        command = [sys.executable, "-m", "jcsaml", *argv]
    else:
        script = tmp_path / "injected.py"
        script.write_text(INJECTED)
        command = [sys.executable, str(script), failure, *argv]
    done = world.without_terminal(command, world.sign_in_env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Version"] == 1
    lines = done.stderr.splitlines()
    warnings = [line for line in lines if line.startswith("jcsaml: warning: ")]
    assert len(warnings) == 1, done.stderr
    assert "could not cache the new credentials" in warnings[0]
    assert wording in warnings[0]
    # Nothing was cached, so nothing is noted as this account's for logout to remove.
    record = managed.load(world.env).get("production")
    assert record is None or record.cache_roles == ()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ODD_FILES)
def test_an_odd_cache_file_is_never_read_and_replaced_after_one_sign_in(
    world: World, kind: str
) -> None:
    signed_in_once(world)
    path = cache_entry_path(world)
    replace_with_odd_file(path, kind, filler=b"{")
    world.jumpcloud.clear_requests()
    done = world.detached("credential-process", "-a", "production")
    assert done.returncode == 0, done.stderr
    assert world.jumpcloud.count("GET", SAML_PAGE) == 1
    assert stat.S_ISREG(os.lstat(path).st_mode)
    assert process_cache.entries(environ=world.env)[0].path == path
    world.jumpcloud.clear_requests()
    again = world.detached("credential-process", "-a", "production")
    assert again.returncode == 0, again.stderr
    assert world.jumpcloud.count() == 0


def test_a_world_writable_parent_of_xdg_cache_home_is_refused(world: World) -> None:
    world.configure()
    parent = world.home / "shared"
    parent.mkdir()
    parent.chmod(0o777)
    done = world.detached(
        "credential-process",
        "-a",
        "production",
        XDG_CACHE_HOME=str(parent / "cache"),
        **world.sign_in_env(),
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("jcsaml: error: refusing to use ")
    assert f"{parent} is writable by other users; run: chmod go-w {parent}" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert world.jumpcloud.requests == []
