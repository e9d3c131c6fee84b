"""The config and credentials files: inline comments, one-line values, names that would break
the files, symlinks, permissions, lock files, and errors that say which file failed and how."""

from __future__ import annotations

import multiprocessing
import os
import re
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import filelock
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jcsaml.config import (
    find_account,
    load_account,
    save_account,
    update_account,
    validate_account_name,
    validate_role_arn,
)
from jcsaml.credentials_file import CredentialsFile, validate_profile_name
from jcsaml.errors import (
    ConfigFileReadError,
    ConfigFileWriteError,
    CredentialsFileError,
    CredentialsFileReadError,
    CredentialsFileWriteError,
    DanglingLinkError,
    FileBusyError,
    InvalidSettingError,
    LinkTargetError,
    LockFileError,
    StaticCredentialsProfileError,
    WritableByOthersError,
)
from jcsaml.ini_edit import check_editable, edit_ini, lock_directory, lock_path_for
from jcsaml.inifile import IniAccessError, IniDocument, read_ini
from jcsaml.testing.contracts import sample_credentials
from tests.conftest import REPO, refused_load
from tests.filesystem import read_only

URL = "https://sso.jumpcloud.com/saml2/acme"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- inline comments (the config file only) ----------------------------------------------------


def test_inline_comments_end_a_value_only_after_whitespace() -> None:
    text = (
        "[a]\n"
        "mfa = Auto   ; Auto, TOTP or PUSH\n"
        "url = https://h/saml2/x#frag\n"
        "region = eu-west-1 # optional\n"
        "role_arn = ; nothing yet\n"
        "username=bob;not-a-comment\n"
    )
    values = IniDocument.parse(text, inline_comments=True).section("a")
    assert values == {
        "mfa": "Auto",
        "url": "https://h/saml2/x#frag",
        "region": "eu-west-1",
        "role_arn": "",
        "username": "bob;not-a-comment",
    }
    # The AWS files keep botocore's rule: the comment is part of the value.
    assert IniDocument.parse(text).section("a")["mfa"] == "Auto   ; Auto, TOTP or PUSH"  # type: ignore[index]


def test_a_rewritten_value_keeps_its_inline_comment_in_its_column() -> None:
    text = "[a]\nmfa = Auto          ; Auto, TOTP or PUSH\nrole_arn = ; later\nregion = x\n"
    doc = IniDocument.parse(text, inline_comments=True)
    doc.update_section("a", {"mfa": "PUSH", "role_arn": "arn", "region": "y"})
    assert doc.render() == (
        "[a]\nmfa = PUSH          ; Auto, TOTP or PUSH\nrole_arn = arn ; later\nregion = y\n"
    )
    doc.update_section("a", {"mfa": "a-value-longer-than-the-gap-before-the-comment"})
    assert "mfa = a-value-longer-than-the-gap-before-the-comment ; Auto" in doc.render()
    reread = IniDocument.parse(doc.render(), inline_comments=True).section("a")
    assert reread == {
        "mfa": "a-value-longer-than-the-gap-before-the-comment",
        "role_arn": "arn",
        "region": "y",
    }


def test_a_value_that_would_read_back_as_a_comment_is_refused() -> None:
    doc = IniDocument.parse("[a]\n", inline_comments=True)
    for value in ("x ; y", "x #y", "#x", ";x"):
        with pytest.raises(ValueError, match="comment"):
            doc.update_section("a", {"k": value})
    assert doc.render() == "[a]\n"
    # Without inline comments (the AWS files), such values read back as written.
    plain = IniDocument.parse("[a]\n")
    plain.update_section("a", {"k": "x ; y"})
    assert IniDocument.parse(plain.render()).section("a") == {"k": "x ; y"}


def test_the_readme_config_example_parses_verbatim(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```ini\n(.*?)```", readme, flags=re.DOTALL)
    example = next(block for block in blocks if "url = https://sso.jumpcloud.com" in block)
    config = tmp_path / "jcsaml.ini"
    config.write_text(example, encoding="utf-8")
    environ = {"HOME": str(tmp_path)}
    account = load_account("production", path=config, environ=environ)
    assert account.url == "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin"
    assert account.username == "alice@acme.example"
    assert account.mfa == "Auto"
    assert account.role_arn == "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
    assert account.aws_profile == "production"
    assert account.region == "eu-west-1"
    assert account.session_duration == 3600
    assert account.credentials_file == "~/.aws/credentials"
    assert account.idp_cert == "/path/to/jumpcloud-idp.pem"
    assert account.console_url == "https://console.jumpcloud.com"
    assert account.http_timeout == 30
    assert account.push_timeout == 120
    # A change keeps every comment of the example.
    update_account("production", {"region": "us-east-1"}, path=config, environ=environ)
    assert config.read_text() == example.replace(
        "region = eu-west-1            ; optional", "region = us-east-1            ; optional"
    )


# --- one-line values, names that break the files ----------------------------------------------


def test_a_continued_value_is_refused_naming_the_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    text = f"[a]\nmfa = TOTP\nurl = {URL}\n  https://evil.example/saml2/x\n"
    continued = refused_load(config, text, InvalidSettingError, "a")
    assert continued.setting == "url"
    assert f"line 4 of {config}" in str(continued)
    # configure can still replace the broken value.
    update_account("a", {"url": URL + "2"}, path=config)
    assert load_account("a", path=config).url == URL + "2"


def test_the_role_arn_pattern_refuses_a_trailing_newline() -> None:
    arn = "arn:aws:iam::012345678987:role/Admin"
    assert validate_role_arn(arn) == arn
    with pytest.raises(InvalidSettingError):
        validate_role_arn(arn + "\n")


@pytest.mark.parametrize("name", ["DEFAULT", "", " x", "a]b", "[x]", "a\nb", "tab\tname"])
def test_unusable_account_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidSettingError):
        validate_account_name(name)


def test_default_in_lower_case_stays_the_default_account() -> None:
    assert validate_account_name("default") == "default"
    assert validate_profile_name("default") == "default"
    assert validate_profile_name("ci+deploy@acme=1,x.y_z-2") == "ci+deploy@acme=1,x.y_z-2"
    with pytest.raises(InvalidSettingError, match="letters, digits"):
        validate_profile_name("it's mine")  # botocore reads it, a shell would not


@pytest.mark.parametrize("name", ["DEFAULT", "", "[x]", " x", "a\nb", "#x", "x\x1b[2K", "a\tb"])
def test_unusable_profile_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidSettingError):
        validate_profile_name(name)
    path = tmp_path / "credentials"
    with pytest.raises(InvalidSettingError):
        CredentialsFile(path).save(name, sample_credentials(1))
    assert not path.exists()


def test_update_refuses_values_that_break_the_file_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config"
    update_account("a", {"url": URL}, path=config)
    before = config.read_bytes()
    for key, value in [
        ("username", "bob\nurl = https://evil"),
        ("region", "eu-west-1\r"),
        ("username", "bob ; x"),
        ("role_arn", "arn:aws:iam::012345678987:role/Admin\n"),
        ("aws_profile", "DEFAULT"),
    ]:
        with pytest.raises(InvalidSettingError) as caught:
            update_account("a", {key: value}, path=config)
        assert caught.value.setting == key
        assert config.read_bytes() == before
    with pytest.raises(InvalidSettingError):
        update_account("DEFAULT", {"url": URL}, path=config)
    assert config.read_bytes() == before


# --- only the keys given change -----------------------------------------------------------------


def test_update_changes_only_the_keys_given_and_says_which(tmp_path: Path) -> None:
    config = tmp_path / "config"
    original = (
        "[prod]\n"
        f"url = {URL}\n"
        "mfa = Push   ; my phone\n"
        "provider = JumpCloud\n"
        "http_timeout = not-a-number\n"
    )
    config.write_text(original)
    changed = update_account("prod", {"region": "eu-west-1", "mfa": None}, path=config)
    assert changed == {"region": (None, "eu-west-1"), "mfa": ("Push", None)}
    assert config.read_text() == original.replace("mfa = Push   ; my phone\n", "") + (
        "region = eu-west-1\n"
    )
    assert update_account("prod", {"region": "eu-west-1"}, path=config) == {}
    assert find_account("prod", path=config) is not None


#: For each key, its value in a given round.
ROUND_VALUES: dict[str, Callable[[int], str]] = {
    "username": lambda n: f"user{n}@acme.example",
    "region": lambda n: f"eu-west-{n}",
    "aws_profile": lambda n: f"profile{n}",
    "console_url": lambda n: f"https://console{n}.jumpcloud.com",
    "idp_cert": lambda n: f"/certs/{n}.pem",
    "credentials_file": lambda n: f"/aws/credentials{n}",
    "role_arn": lambda n: f"arn:aws:iam::012345678987:role/Role{n}",
    "aws_session_duration": lambda n: str(900 + n),
}


def _set_key_repeatedly(args: tuple[str, str, int]) -> None:
    path, key, rounds = args
    for round_ in range(rounds):
        update_account("shared", {key: ROUND_VALUES[key](round_)}, path=Path(path))


def test_concurrent_updates_of_different_keys_lose_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config"
    update_account("shared", {"url": URL}, path=config)
    jobs = [(str(config), key, 10) for key in ROUND_VALUES]
    # Forked, not spawned: the workers need no fresh interpreter to be separate processes.
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        pool.map(_set_key_repeatedly, jobs)
    section = IniDocument.parse(config.read_text(), inline_comments=True).section("shared")
    assert section == {"url": URL, **{key: value(9) for key, value in ROUND_VALUES.items()}}


# --- symlinks and permissions -------------------------------------------------------------------


def test_a_symlink_to_an_own_regular_file_is_followed(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "credentials"
    target.parent.mkdir()
    target.write_text("")
    link = tmp_path / "credentials"
    link.symlink_to(target)
    CredentialsFile(link).save("p", sample_credentials(1))
    assert link.is_symlink()
    assert CredentialsFile(link).load("p") == sample_credentials(1)


def test_a_dangling_symlink_is_refused_and_no_directory_is_created(tmp_path: Path) -> None:
    link = tmp_path / "credentials"
    link.symlink_to(tmp_path / "autostart" / "x.desktop")
    store = CredentialsFile(link)
    attempts: list[Callable[[], None]] = [
        lambda: store.save("p", sample_credentials(1)),
        lambda: store.check_writable("p"),
    ]
    for attempt in attempts:
        with pytest.raises(DanglingLinkError) as caught:
            attempt()
        assert str(tmp_path / "autostart" / "x.desktop") in str(caught.value)
    assert not (tmp_path / "autostart").exists()


def test_a_dangling_symlinked_directory_is_refused(tmp_path: Path) -> None:
    aws = tmp_path / ".aws"
    aws.symlink_to(tmp_path / "missing" / "aws")
    with pytest.raises(DanglingLinkError):
        CredentialsFile(aws / "credentials").save("p", sample_credentials(1))
    assert not (tmp_path / "missing").exists()


def test_a_symlink_to_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    link = tmp_path / "credentials"
    link.symlink_to(tmp_path / "dir")
    with pytest.raises(LinkTargetError, match="not a regular file"):
        CredentialsFile(link).save("p", sample_credentials(1))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_symlink_to_another_users_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "theirs"
    target.write_text("")
    os.chown(target, 65534, 65534)
    link = tmp_path / "credentials"
    link.symlink_to(target)
    with pytest.raises(LinkTargetError, match="another user"):
        CredentialsFile(link).save("p", sample_credentials(1))


def test_files_and_directories_others_can_write_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "aws"
    directory.mkdir()
    path = directory / "credentials"
    store = CredentialsFile(path)
    store.save("p", sample_credentials(1))
    path.chmod(0o646)
    for attempt in (
        store.load,
        lambda p: store.save(p, sample_credentials(2)),
        store.check_writable,
    ):
        with pytest.raises(WritableByOthersError) as caught:
            attempt("p")
        assert caught.value.kind == "file"
        assert f"chmod go-w {path}" in str(caught.value)
    path.chmod(0o600)
    directory.chmod(0o777)
    with pytest.raises(WritableByOthersError) as caught:
        store.save("p", sample_credentials(2))
    assert caught.value.kind == "directory"
    assert f"chmod go-w {directory}" in str(caught.value)
    directory.chmod(0o1777)  # sticky, like /tmp: others cannot replace the file
    store.save("p", sample_credentials(2))
    assert store.load("p") == sample_credentials(2)


# --- lock files -----------------------------------------------------------------------------------


def test_lock_files_live_out_of_sight_keyed_by_the_real_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    environ = {"HOME": str(home)}
    assert lock_directory(environ) == home / ".cache" / "jcsaml" / "locks"
    assert lock_directory({**environ, "XDG_CACHE_HOME": str(tmp_path / "c")}) == (
        tmp_path / "c" / "jcsaml" / "locks"
    )
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o700)
    assert lock_directory({**environ, "XDG_RUNTIME_DIR": str(runtime)}) == runtime / "jcsaml"
    runtime.chmod(0o755)  # not private: not used
    assert lock_directory({**environ, "XDG_RUNTIME_DIR": str(runtime)}).is_relative_to(home)
    path = tmp_path / "credentials"
    link = tmp_path / "link"
    link.symlink_to(path)
    assert lock_path_for(link, environ) == lock_path_for(path, environ)
    edit_ini(path, lambda doc: doc.update_section("a", {"k": "v"}), environ=environ)
    lock = lock_path_for(path, environ)
    assert lock.name.startswith("credentials-")
    assert (mode(lock), mode(lock.parent)) == (0o600, 0o700)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "home", "link", "run"]


def test_a_held_lock_fails_the_check_at_once(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    store = CredentialsFile(path)
    lock = lock_path_for(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(lock), pytest.raises(FileBusyError) as caught:
        store.check_writable("p")
    assert str(lock) in str(caught.value) and str(path) in str(caught.value)
    store.check_writable("p")  # free again
    assert not path.exists()


def test_the_check_waits_out_a_lock_held_for_a_moment(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    lock = filelock.FileLock(lock_path_for(path), thread_local=False)  # released by a timer
    lock_path_for(path).parent.mkdir(parents=True, exist_ok=True)
    lock.acquire()
    released = threading.Timer(0.1, lock.release)
    released.start()
    try:
        CredentialsFile(path).check_writable("p")  # another process's quick rewrite is no error
    finally:
        released.join()


def test_an_unusable_lock_directory_is_named(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache directory should be")
    environ = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(cache)}
    path = tmp_path / "config"
    with pytest.raises(LockFileError) as caught:
        edit_ini(path, lambda doc: doc.update_section("a", {"k": "v"}), environ=environ)
    assert str(lock_path_for(path, environ)) in str(caught.value)
    assert "remove" not in str(caught.value)
    with pytest.raises(LockFileError):
        update_account("a", {"url": URL}, path=path, environ=environ)
    assert not path.exists()


# --- which file failed, and how ----------------------------------------------------------------


def test_the_check_reports_a_file_it_cannot_parse_or_a_static_profile(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("[p]\ngarbage\n")
    with pytest.raises(CredentialsFileError, match="line 2"):
        CredentialsFile(path).check_writable("p")
    path.write_text("[p]\naws_access_key_id = AKIA\naws_secret_access_key = x\n")
    with pytest.raises(StaticCredentialsProfileError):
        CredentialsFile(path).check_writable("p")
    CredentialsFile(path).check_writable("other")


def test_a_read_only_directory_is_a_write_error(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    config = directory / "config"
    credentials = directory / "credentials"
    config.write_text(f"[a]\nurl = {URL}\n")
    credentials.write_text("")
    with read_only(directory):
        with pytest.raises(ConfigFileWriteError) as caught:
            update_account("a", {"region": "eu-west-1"}, path=config)
        message = str(caught.value)
        assert message.startswith(f"cannot write config file {config}:")
        assert "remove" not in message and str(directory) in message
        with pytest.raises(CredentialsFileWriteError) as written:
            CredentialsFile(credentials).check_writable("p")
        assert "remove" not in str(written.value)
        with pytest.raises(CredentialsFileWriteError):
            CredentialsFile(credentials).save("p", sample_credentials(1))
        assert load_account("a", path=config).url == URL  # reading still works
    assert config.read_text() == f"[a]\nurl = {URL}\n"


def test_an_unreadable_file_is_a_read_error(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()  # a directory where the file should be: fails for root too
    with pytest.raises(ConfigFileReadError, match="cannot read config file"):
        load_account("a", path=tmp_path / "config")
    (tmp_path / "credentials").mkdir()
    with pytest.raises(CredentialsFileReadError, match="cannot read credentials file"):
        CredentialsFile(tmp_path / "credentials").load("p")
    with pytest.raises(IniAccessError) as caught:
        read_ini(tmp_path / "credentials")
    assert caught.value.operation == "read"


def test_check_editable_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "credentials"
    assert check_editable(path) is None
    assert not (tmp_path / "sub").exists()
    path.parent.mkdir()
    path.write_text("[a]\nk = v\n")
    doc = check_editable(path)
    assert doc is not None and doc.section("a") == {"k": "v"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials"]


def test_save_account_still_writes_a_whole_account(tmp_path: Path) -> None:
    from jcsaml.config import Account

    config = tmp_path / "config"
    save_account(Account(name="a", url=URL, mfa="PUSH"), path=config)
    assert load_account("a", path=config).mfa == "PUSH"


_VALUE_TEXT = st.text(st.sampled_from("ab;# =:\t\\x"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    old=_VALUE_TEXT,
    comment=st.sampled_from(["", "  ; note", " # note", "\t;"]),
    new=_VALUE_TEXT,
)
def test_inline_comment_edits_read_back_as_written(old: str, comment: str, new: str) -> None:
    """Whatever the line held, a value that update_section accepts reads back as given and
    the comment after the old value survives."""
    text = f"[a]\nk = {old}{comment}\n"
    doc = IniDocument.parse(text, inline_comments=True)
    try:
        doc.update_section("a", {"k": new})
    except ValueError:
        assert doc.render() == text
        return
    reread = IniDocument.parse(doc.render(), inline_comments=True)
    assert reread.section("a") == {"k": new}
    if comment and doc.render() != text:
        assert doc.render().rstrip("\n").endswith(comment.strip())


def test_the_light_exec_path_declines_what_the_full_cli_refuses(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from jcsaml import light_lookup
    from jcsaml.aws_credentials import AwsCredentials

    config = tmp_path / "config"
    credentials = tmp_path / "aws" / "credentials"
    environ = {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    config.write_text(f"[prod]\nurl = {URL}   ; the AWS app\n")
    later = datetime.now(UTC) + timedelta(hours=1)
    fresh = AwsCredentials(
        access_key_id="ASIAX",
        secret_access_key="s",
        session_token="t",
        expiration=later,
        role_arn="arn:aws:iam::012345678987:role/Admin",
    )
    CredentialsFile(credentials).save("prod", fresh)
    CredentialsFile(credentials).save("other", fresh)

    def lookup(profile: str | None = None) -> object:
        return light_lookup.lookup("prod", profile=profile, config=str(config), environ=environ)

    assert lookup() is not None  # the inline comment is read as the CLI reads it
    assert lookup(profile="DEFAULT") is None
    credentials.chmod(0o666)
    assert lookup() is None
    credentials.chmod(0o600)
    config.write_text(f"[prod]\nurl = {URL}\nusername = a\n  b\n")
    assert lookup() is None
