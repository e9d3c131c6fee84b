"""The record of what jcsaml wrote per account: one private JSON file, rewritten whole."""

from __future__ import annotations

import stat
from pathlib import Path

from jcsaml import managed
from jcsaml.managed import KEYS, PROCESS, ManagedProfile


def environ(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}


def test_profiles_and_cache_entries_are_recorded_per_account(hermetic_home: Path) -> None:
    env = environ(hermetic_home)
    managed.record_profiles("dev", [ManagedProfile("dev", KEYS, "/c")], environ=env)
    managed.record_profiles("dev", [ManagedProfile("dev-Admin", KEYS, "/c")], environ=env)
    managed.record_cache("dev", "", environ=env)
    managed.record_profiles("prod", [ManagedProfile("prod", PROCESS, "/a")], environ=env)
    records = managed.load(env)
    assert [p.profile for p in records["dev"].profiles] == ["dev", "dev-Admin"]
    assert records["dev"].cache_roles == ("",)
    assert records["prod"].profile("prod") == ManagedProfile("prod", PROCESS, "/a")
    path = managed.state_path(env)
    assert path == hermetic_home / ".local" / "state" / "jcsaml" / "managed.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_last_writer_owns_a_profile_and_rename_and_forget_follow(hermetic_home: Path) -> None:
    env = environ(hermetic_home)
    managed.record_profiles("a", [ManagedProfile("shared", KEYS, "/c")], environ=env)
    managed.record_profiles("b", [ManagedProfile("shared", KEYS, "/c")], environ=env)
    assert "a" not in managed.load(env)  # nothing left to it
    managed.rename_account("b", "c", environ=env)
    assert list(managed.load(env)) == ["c"]
    managed.forget_account("c", environ=env)
    assert managed.load(env) == {}


def test_a_damaged_record_is_read_as_empty_and_written_whole_again(hermetic_home: Path) -> None:
    env = environ(hermetic_home)
    path = managed.state_path(env)
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "accounts": {"dev": {"profiles": [{"prof')  # cut short
    assert managed.load(env) == {}
    managed.record_cache("dev", "", environ=env)
    assert managed.load(env)["dev"].cache_roles == ("",)
    assert [p.name for p in path.parent.iterdir()] == ["managed.json"]  # no temporary left


def test_only_jcsaml_credential_process_lines_for_the_account_count() -> None:
    line = "/home/a/.local/bin/jcsaml credential-process -a prod --config /x"
    assert managed.is_jcsaml_process(line, "prod")
    assert not managed.is_jcsaml_process(line, "dev")
    assert managed.is_jcsaml_process("python3 -m jcsaml credential-process", "default")
    assert not managed.is_jcsaml_process("aws-vault exec prod --json", None)
