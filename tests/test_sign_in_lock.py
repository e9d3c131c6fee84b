"""The sign-in lock: one sign-in at a time for an account and role, across processes; a stuck
holder's lock is broken with a warning; the lock directory is checked like the cache's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jcsaml.errors import UnsafeDirectoryError
from jcsaml.sign_in_lock import lock_name, sign_in_lock
from tests.conftest import world_writable_directory

# Holds the lock of account "production" until its stdin closes.
HOLDER = """
import sys
from jcsaml.sign_in_lock import sign_in_lock
with sign_in_lock("production", "", bound=60):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}


def holder(environ: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env={**os.environ, **environ},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "held\n"
    return process


def test_a_waiter_says_it_waits_and_a_stuck_holder_is_broken_with_a_warning(
    environ: dict[str, str],
) -> None:
    other = holder(environ)
    said: list[str] = []
    warned: list[str] = []
    try:
        with sign_in_lock(
            "production", "", bound=0.5, environ=environ, waiting=said.append, warn=warned.append
        ):
            entered = True
    finally:
        other.communicate("")
    assert entered
    assert said == [
        "jcsaml: waiting for another jcsaml process to finish signing in to JumpCloud for "
        "account 'production'..."
    ]
    [warning] = warned
    assert warning.startswith("another process has held the sign-in lock ")
    assert warning.endswith(" for more than 0.5 s; breaking it")


def test_other_accounts_and_roles_do_not_wait(environ: dict[str, str]) -> None:
    other = holder(environ)
    said: list[str] = []
    try:
        with sign_in_lock("staging", "", bound=60, environ=environ, waiting=said.append):
            pass
        with sign_in_lock("production", "Admin", bound=60, environ=environ, waiting=said.append):
            pass
    finally:
        other.communicate("")
    assert said == []
    assert lock_name("production", "") != lock_name("production", "Admin")


def test_a_lock_directory_under_a_world_writable_parent_is_refused(
    environ: dict[str, str], tmp_path: Path
) -> None:
    shared = world_writable_directory(tmp_path / "shared")
    unsafe = {**environ, "XDG_CACHE_HOME": str(shared / "cache")}
    refused = pytest.raises(UnsafeDirectoryError, match=rf"{shared} is writable by other users")
    with refused, sign_in_lock("production", "", bound=60, environ=unsafe):
        pass
