"""The credential-process cache: where it lives, how it is written, when it is used."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jcsaml import process_cache
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import Account, save_account
from jcsaml.errors import UnsafeDirectoryError
from tests.conftest import ODD_FILES, replace_with_odd_file, world_writable_directory

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"


def credentials(minutes: int, role_arn: str = ROLE) -> AwsCredentials:
    return AwsCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret/with+chars",
        session_token="token==",
        expiration=NOW + timedelta(minutes=minutes),
        role_arn=role_arn,
        assumed_role_arn="arn:aws:sts::012345678987:assumed-role/AcmeJumpCloudAdminRO/alice",
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "JCSAML_CONFIG": str(tmp_path / "jcsaml")}


def test_directory_follows_xdg_cache_home_else_home(tmp_path: Path) -> None:
    assert process_cache.cache_directory({"HOME": "/h"}) == Path(
        "/h/.cache/jcsaml/credential-process"
    )
    assert process_cache.cache_directory({"HOME": "/h", "XDG_CACHE_HOME": "/c"}) == Path(
        "/c/jcsaml/credential-process"
    )
    # A relative XDG_CACHE_HOME is invalid by the specification: ignored.
    assert process_cache.cache_directory({"HOME": "/h", "XDG_CACHE_HOME": "c"}) == Path(
        "/h/.cache/jcsaml/credential-process"
    )


def test_save_and_load_round_trip_privately(env: dict[str, str]) -> None:
    path = process_cache.save("production", ROLE, credentials(60), environ=env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert process_cache.load("production", ROLE, environ=env) == credentials(60)
    assert process_cache.load("production", "", environ=env) is None
    assert process_cache.load("staging", ROLE, environ=env) is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_failed_write_leaves_the_old_entry(env: dict[str, str]) -> None:
    process_cache.save("production", ROLE, credentials(60), environ=env)

    class Broken(AwsCredentials):
        def expiration_rfc3339(self) -> str:
            raise OSError("disk full")

    broken = Broken(**{**credentials(90).__dict__})
    with pytest.raises(OSError, match="disk full"):
        process_cache.save("production", ROLE, broken, environ=env)
    assert process_cache.load("production", ROLE, environ=env) == credentials(60)
    directory = process_cache.cache_directory(env)
    assert len(list(directory.iterdir())) == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: "{not json",
        # A value that is not text is not passed on as a key, not even as "7".
        lambda text: json.dumps({**json.loads(text), "access_key_id": 7}),
        lambda text: json.dumps({**json.loads(text), "assumed_role_arn": ["x"]}),
    ],
    ids=["not-json", "number", "list"],
)
def test_a_damaged_entry_is_ignored(env: dict[str, str], damage: Callable[[str], str]) -> None:
    path = process_cache.save("production", ROLE, credentials(60), environ=env)
    path.write_text(damage(path.read_text()))
    assert process_cache.load("production", ROLE, environ=env) is None
    assert process_cache.entries(environ=env) == []


def test_usable_only_with_more_than_15_minutes_left_and_for_the_role() -> None:
    assert process_cache.usable(credentials(16), role=ROLE, now=NOW) is not None
    assert process_cache.usable(credentials(14), role=ROLE, now=NOW) is None
    assert process_cache.usable(credentials(16), role="AcmeJumpCloudAdminRO", now=NOW)
    assert process_cache.usable(credentials(16), role="", now=NOW)
    other = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdmin"
    assert process_cache.usable(credentials(16), role=other, now=NOW) is None


def test_cached_output_uses_the_account_role_and_prints_version_1(env: dict[str, str]) -> None:
    save_account(
        Account(name="production", url="https://sso.jumpcloud.com/saml2/acme", role_arn=ROLE),
        path=Path(env["JCSAML_CONFIG"]),
    )
    assert process_cache.cached_process_output("production", environ=env, now=NOW) is None
    process_cache.save("production", ROLE, credentials(60), environ=env)
    text = process_cache.cached_process_output("production", environ=env, now=NOW)
    assert text is not None
    assert json.loads(text) == {
        "Version": 1,
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": "secret/with+chars",
        "SessionToken": "token==",
        "Expiration": "2026-11-24T13:00:00Z",
    }
    later = NOW + timedelta(minutes=46)
    assert process_cache.cached_process_output("production", environ=env, now=later) is None


def test_entries_and_delete_account(env: dict[str, str]) -> None:
    process_cache.save("production", ROLE, credentials(60), environ=env)
    process_cache.save("production", "", credentials(60), environ=env)
    process_cache.save("staging", "", credentials(60), environ=env)
    assert [(e.account, e.role) for e in process_cache.entries(environ=env)] == [
        ("production", ""),
        ("production", ROLE),
        ("staging", ""),
    ]
    assert process_cache.delete_account("production", environ=env) == 2
    assert [e.account for e in process_cache.entries(environ=env)] == ["staging"]


def test_the_cache_never_touches_the_credentials_file(env: dict[str, str]) -> None:
    process_cache.save("production", ROLE, credentials(60), environ=env)
    assert not os.path.exists(Path(env["HOME"]) / ".aws")


def test_a_cache_directory_others_can_write_is_neither_read_nor_written(
    env: dict[str, str],
) -> None:
    path = process_cache.save("production", ROLE, credentials(60), environ=env)
    path.parent.chmod(0o777)  # another user could swap in their own credentials
    with pytest.raises(UnsafeDirectoryError, match=r"writable by other users; run: chmod go-w "):
        process_cache.load("production", ROLE, environ=env)
    with pytest.raises(UnsafeDirectoryError, match=r"writable by other users; run: chmod go-w "):
        process_cache.save("production", ROLE, credentials(60), environ=env)
    path.parent.chmod(0o700)
    assert process_cache.load("production", ROLE, environ=env) == credentials(60)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ODD_FILES)
def test_an_entry_that_is_not_a_small_regular_file_is_never_read_and_is_replaced(
    env: dict[str, str], kind: str
) -> None:
    path = process_cache.save("production", ROLE, credentials(60), environ=env)
    replace_with_odd_file(path, kind)
    # No hang (the test's timeout bounds it), nothing read, and not listed.
    assert process_cache.load("production", ROLE, environ=env) is None
    assert process_cache.entries(environ=env) == []
    process_cache.save("production", ROLE, credentials(90), environ=env)
    assert stat.S_ISREG(os.lstat(path).st_mode)
    assert process_cache.load("production", ROLE, environ=env) == credentials(90)


def test_temporary_files_of_a_killed_writer_are_removed_and_never_listed(
    env: dict[str, str],
) -> None:
    path = process_cache.save("production", ROLE, credentials(60), environ=env)
    old = path.parent / ".tmp-killedwriter.json"
    old.write_text(path.read_text())
    os.utime(old, (0, 0))
    recent = path.parent / ".tmp-livewriter.json"
    recent.write_text(path.read_text())
    assert [e.path for e in process_cache.entries(environ=env)] == [path]
    process_cache.save("production", "", credentials(60), environ=env)
    assert not old.exists()  # older than a minute: its writer is gone
    assert recent.exists()  # a writer that may still be renaming it
    assert len(process_cache.entries(environ=env)) == 2


def test_a_world_writable_parent_of_xdg_cache_home_is_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    parent = world_writable_directory(tmp_path / "shared")
    cache = parent / "cache"
    environ = {**env, "XDG_CACHE_HOME": str(cache)}
    with pytest.raises(UnsafeDirectoryError) as refused:
        process_cache.save("production", ROLE, credentials(60), environ=environ)
    assert f"{parent} is writable by other users" in str(refused.value)
    assert not cache.exists()
    parent.chmod(0o1777)  # a sticky directory of root's (like /tmp) is fine, if root owns it
    if os.stat(parent).st_uid == 0:
        process_cache.save("production", ROLE, credentials(60), environ=environ)
        assert process_cache.load("production", ROLE, environ=environ) == credentials(60)


def test_a_link_in_place_of_the_cache_directory_is_followed_only_as_resolved(
    env: dict[str, str], tmp_path: Path
) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    cache_home = Path(env["XDG_CACHE_HOME"]) if "XDG_CACHE_HOME" in env else None
    base = cache_home or Path(env["HOME"]) / ".cache"
    base.mkdir(parents=True, exist_ok=True)
    (base / "jcsaml").symlink_to(real)
    path = process_cache.save("production", ROLE, credentials(60), environ=env)
    assert (real / "credential-process" / path.name).exists()
