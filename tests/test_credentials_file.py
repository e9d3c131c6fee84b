"""The AWS shared credentials file as jcsaml's credentials store."""

from __future__ import annotations

import configparser
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session
import pytest

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.credentials_file import CredentialsFile, CredentialsStore, MemoryCredentialsStore
from jcsaml.errors import CredentialsFileError, StaticCredentialsProfileError
from jcsaml.ini_edit import edit_ini, lock_path_for
from jcsaml.inifile import IniDocument
from jcsaml.testing.contracts import CredentialsStoreContract, sample_credentials

REPO = Path(__file__).resolve().parent.parent
USER_FILE = (
    "# Alice's AWS credentials\n"
    "\n"
    "[default]\n"
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    "; rotated every 90 days\n"
    "\n"
    "# staging, by hand\n"
    "[staging]\n"
    "aws_access_key_id=AKIASTAGINGEXAMPLE\n"
    "aws_secret_access_key=staging/secret/EXAMPLE\n"
)


class TestCredentialsFileContract(CredentialsStoreContract):
    def make_store(self, tmp_path: Path) -> CredentialsStore:
        return CredentialsFile(tmp_path / "aws" / "credentials")


class TestMemoryCredentialsStoreContract(CredentialsStoreContract):
    def make_store(self, tmp_path: Path) -> CredentialsStore:
        return MemoryCredentialsStore()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "aws" / "credentials"


def mode(file: Path) -> int:
    return stat.S_IMODE(file.stat().st_mode)


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".jcsaml-tmp"))


# --- what a user's file looks like after a save -----------------------------------------------


def test_save_keeps_other_profiles_and_comments_byte_for_byte(path):
    path.parent.mkdir()
    path.write_text(USER_FILE)
    store = CredentialsFile(path)
    store.save("production", sample_credentials(1, region="eu-west-1"))
    text = path.read_text()
    assert text == USER_FILE + (
        "\n"
        "[production]\n"
        "aws_access_key_id = ASIAEXAMPLE000000001\n"
        "aws_secret_access_key = secret/0001+EXAMPLEKEYEXAMPLEKEYEXAMPLEKEY\n"
        "aws_session_token = FwoGZXIvYXdzEXAMPLE000001//token=\n"
        "aws_security_token = FwoGZXIvYXdzEXAMPLE000001//token=\n"
        "x_principal_arn = arn:aws:sts::012345678987:assumed-role/Role1/alice@acme.example\n"
        "x_security_token_expires = 2030-01-01T01:00:00Z\n"
        "region = eu-west-1\n"
    )
    # A second login rewrites only its own lines, in place.
    store.save("production", sample_credentials(2, region="eu-west-1"))
    assert path.read_text() == text.replace("000000001", "000000002").replace(
        "000001", "000002"
    ).replace("0001+", "0002+").replace("Role1", "Role2").replace("T01:", "T02:")


def test_save_keeps_the_users_own_keys_and_region(path):
    path.parent.mkdir()
    path.write_text("[production]\nregion = ap-south-1\noutput = json\n")
    store = CredentialsFile(path)
    store.save("production", sample_credentials(1))
    values = configparser_read(path)["production"]
    assert values["region"] == "ap-south-1"  # ours was unknown: the user's stays
    assert values["output"] == "json"
    store.save("production", sample_credentials(1, region="eu-west-1"))
    assert configparser_read(path)["production"]["region"] == "eu-west-1"
    loaded = store.load("production")
    assert loaded is not None
    assert loaded.region == "eu-west-1"


def configparser_read(file: Path) -> dict[str, dict[str, str]]:
    parser = configparser.RawConfigParser()
    assert parser.read(file) == [str(file)]
    return {name: dict(parser.items(name)) for name in parser.sections()}


def test_saved_file_is_private_even_when_it_was_not(path):
    store = CredentialsFile(path)
    store.save("production", sample_credentials(1))
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700  # ~/.aws created private
    assert mode(lock_path_for(path)) == 0o600
    path.chmod(0o644)
    store.save("production", sample_credentials(2))
    assert mode(path) == 0o600
    assert temp_files(path.parent) == []


def test_botocore_and_the_aws_cli_read_what_was_saved(path, monkeypatch):
    path.parent.mkdir()
    path.write_text(USER_FILE)
    credentials = sample_credentials(7, region="eu-west-1")
    CredentialsFile(path).save("production", credentials)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    found = botocore.session.Session(profile="production").get_credentials()
    assert found is not None
    frozen = found.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token,
    )
    static = botocore.session.Session(profile="staging").get_credentials()
    assert static is not None
    assert static.access_key == "AKIASTAGINGEXAMPLE"
    assert configparser_read(path)["production"]["aws_security_token"] == (
        credentials.session_token
    )


# --- loading ----------------------------------------------------------------------------------


def test_load_of_a_missing_file_or_profile_is_none(path):
    store = CredentialsFile(path)
    assert store.load("production") is None
    assert not path.exists()
    path.parent.mkdir()
    path.write_text(USER_FILE)
    assert store.load("production") is None


def test_long_lived_keys_are_not_jcsaml_credentials(path):
    path.parent.mkdir()
    path.write_text(USER_FILE)
    assert CredentialsFile(path).load("default") is None


def test_load_reads_a_saml2aws_profile_with_a_local_offset(path):
    path.parent.mkdir()
    path.write_text(
        "[production]\n"
        "aws_access_key_id        = ASIAEXAMPLE\n"
        "aws_secret_access_key    = secret\n"
        "aws_session_token        = token\n"
        "aws_security_token       = token\n"
        "x_principal_arn          = arn:aws-cn:sts::012345678987:assumed-role/Admin/alice\n"
        "x_security_token_expires = 2026-11-24T13:00:00+01:00\n"
    )
    loaded = CredentialsFile(path).load("production")
    assert loaded == AwsCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret",
        session_token="token",
        expiration=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        role_arn="arn:aws-cn:iam::012345678987:role/Admin",
        assumed_role_arn="arn:aws-cn:sts::012345678987:assumed-role/Admin/alice",
    )
    assert loaded.expiration.utcoffset() == timedelta(0)


def test_load_parses_utc_offsets_written_as_plus_zero(path):
    path.parent.mkdir()
    path.write_text(
        "[p]\naws_access_key_id = A\naws_secret_access_key = S\naws_session_token = T\n"
        "x_security_token_expires = 2026-11-24T12:00:00+00:00\n"
    )
    loaded = CredentialsFile(path).load("p")
    assert loaded is not None
    assert loaded.expiration == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert loaded.role_arn == ""


def test_credentials_without_an_assumed_role_keep_their_role(path):
    credentials = sample_credentials(1)
    credentials = AwsCredentials(
        access_key_id="A",
        secret_access_key="S",
        session_token="T",
        expiration=credentials.expiration,
        role_arn="arn:aws:iam::012345678987:role/Admin",
    )
    store = CredentialsFile(path)
    store.save("p", credentials)
    assert store.load("p") == credentials


# --- refusing to damage a user's file ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (
            "[personal]\naws_access_key_id = AKIA\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            3,
        ),
        ("[a]\nk = 1\n[b]\n\n[a]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n", 5),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n[a]\n", 1),
    ],
)
def test_corrupt_file_is_reported_by_line_and_never_overwritten(path, content, line):
    path.parent.mkdir()
    path.write_text(content)
    path.chmod(0o644)
    before = path.stat()
    store = CredentialsFile(path)
    for attempt in (
        lambda: store.load("personal"),
        lambda: store.save("production", sample_credentials(1)),
        lambda: store.delete("personal"),
    ):
        with pytest.raises(CredentialsFileError) as caught:
            attempt()
        message = str(caught.value)
        assert f"line {line}:" in message
        assert str(path) in message
        assert "wJalrXUtnFEMI" not in message
        assert caught.value.path == str(path)
    after = path.stat()
    assert path.read_text() == content
    assert (after.st_ino, after.st_mtime_ns, mode(path)) == (
        before.st_ino,
        before.st_mtime_ns,
        0o644,
    )


def test_save_refuses_to_replace_long_lived_keys(path):
    path.parent.mkdir()
    path.write_text(USER_FILE)
    with pytest.raises(StaticCredentialsProfileError) as caught:
        CredentialsFile(path).save("default", sample_credentials(1))
    assert isinstance(caught.value, CredentialsFileError)
    assert "--profile" in str(caught.value)
    assert "'default'" in str(caught.value)
    assert "wJalrXUtnFEMI" not in str(caught.value)
    assert path.read_text() == USER_FILE


def test_delete_removes_only_jcsaml_credentials(path):
    path.parent.mkdir()
    path.write_text(USER_FILE + "\n[production]\noutput = json\n")
    store = CredentialsFile(path)
    store.save("production", sample_credentials(1))
    store.save("dev", sample_credentials(2))
    assert store.delete("production") is True
    assert store.delete("dev") is True
    # The user's own key stays; a profile with nothing left goes.
    assert path.read_text() == USER_FILE + "\n[production]\noutput = json\n"
    assert store.delete("default") is False  # long-lived keys: never jcsaml's to delete
    assert path.read_text() == USER_FILE + "\n[production]\noutput = json\n"


def test_delete_without_a_file_creates_none(path):
    assert CredentialsFile(path).delete("production") is False
    assert not path.parent.exists()


# --- where the file is ------------------------------------------------------------------------


def test_default_path_is_under_home_from_the_given_environment():
    assert CredentialsFile.default_path({"HOME": "/home/alice"}) == Path(
        "/home/alice/.aws/credentials"
    )
    assert CredentialsFile.default_path(
        {"HOME": "/home/alice", "AWS_SHARED_CREDENTIALS_FILE": ""}
    ) == Path("/home/alice/.aws/credentials")


def test_default_path_honours_aws_shared_credentials_file_with_expansion():
    environ = {"HOME": "/home/alice", "WORK": "/srv/work"}
    for configured, expected in [
        ("/etc/aws/creds", "/etc/aws/creds"),
        ("~/creds/aws", "/home/alice/creds/aws"),
        ("~", "/home/alice"),
        ("$WORK/aws-credentials", "/srv/work/aws-credentials"),
        ("${WORK}/c", "/srv/work/c"),
        ("$UNSET/c", "$UNSET/c"),
        ("relative/creds", "relative/creds"),
    ]:
        environ["AWS_SHARED_CREDENTIALS_FILE"] = configured
        assert CredentialsFile.default_path(environ) == Path(expected), configured


def test_default_path_reads_the_process_environment(hermetic_home):
    # conftest points AWS_SHARED_CREDENTIALS_FILE into the temporary HOME.
    assert CredentialsFile.default_path() == hermetic_home / ".aws" / "credentials"


# --- concurrency and crashes ------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """This test's environment (its temporary HOME, hence its lock directory) for a child."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


CONCURRENT_WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.credentials_file import CredentialsFile

path, profile, saves = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = CredentialsFile(path, lock_timeout=60)
print("ready", flush=True)
sys.stdin.readline()  # start together, to collide
for n in range(1, saves + 1):
    store.save(profile, AwsCredentials(
        access_key_id=f"ASIA{profile}N{n}",
        secret_access_key=f"secret-{profile}-{n}",
        session_token=f"token-{profile}-{n}",
        expiration=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
        role_arn="arn:aws:iam::012345678987:role/Admin",
        assumed_role_arn="arn:aws:sts::012345678987:assumed-role/Admin/" + profile,
    ))
"""


def test_sixteen_concurrent_writers_all_land(path):
    path.parent.mkdir()
    path.write_text(USER_FILE)
    saves = 4
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, str(path), f"w{index:02d}", str(saves)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for index in range(16)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline() == "ready\n"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.close()
        assert [writer.wait(timeout=60) for writer in writers] == [0] * 16
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
            if writer.stdout:
                writer.stdout.close()

    store = CredentialsFile(path)
    for index in range(16):
        loaded = store.load(f"w{index:02d}")
        assert loaded is not None
        assert loaded.access_key_id == f"ASIAw{index:02d}N{saves}"
    assert path.read_text().startswith(USER_FILE)
    assert configparser_read(path).keys() == {"default", "staging"} | {
        f"w{index:02d}" for index in range(16)
    }
    assert mode(path) == 0o600
    assert temp_files(path.parent) == []


PROFILES = 150


def save_generations_forever(path: Path, generation: int, ready: int) -> None:
    """In a forked child: say "ready" on the pipe ``ready``, then save profile after profile,
    each tagged with the next generation, until killed."""
    store = CredentialsFile(path)
    os.write(ready, b"ready\n")
    while True:
        generation += 1
        index = generation % PROFILES
        tag = f"P{index:03d}G{generation:09d}"
        store.save(
            f"p{index:03d}",
            AwsCredentials(
                access_key_id="ASIA" + tag,
                secret_access_key="S" + tag,
                session_token="T" + tag + "/" + "x" * 1000,
                expiration=datetime(2030, 1, 1, tzinfo=UTC),
                role_arn="arn:aws:iam::012345678987:role/Admin",
            ),
        )


def start_writer(path: Path, generation: int) -> int:
    """A writer process, ready to save (its modules loaded), forked from this one rather than
    started afresh: the test kills many. Returns its process id."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            save_generations_forever(path, generation, write_end)
        finally:
            os._exit(1)  # never back into the test runner
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        assert ready.readline() == "ready\n"
    return pid


_TAG = re.compile(r"P(\d{3})G(\d{9})")


def generations(path: Path) -> dict[str, int]:
    """Each profile's generation; fails unless the file is complete and each profile whole."""
    text = path.read_text()
    assert text.startswith(USER_FILE)
    doc = IniDocument.parse(text)
    assert doc.sections() == ["default", "staging"] + [f"p{i:03d}" for i in range(PROFILES)]
    assert configparser_read(path).keys() == set(doc.sections())
    found = {}
    for index in range(PROFILES):
        values = doc.section(f"p{index:03d}")
        assert values is not None
        tags = {
            match.groups()
            for key in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
            if (match := _TAG.search(values[key]))
        }
        assert len(tags) == 1, f"profile p{index:03d} mixes two saves: {tags}"
        ((profile_index, generation),) = tags
        assert int(profile_index) == index
        assert values["aws_session_token"].endswith("x" * 1000)
        found[f"p{index:03d}"] = int(generation)
    return found


def test_writer_killed_mid_write_leaves_the_old_or_the_new_file(path):
    def fill(doc: IniDocument) -> None:
        for index in range(PROFILES):
            tag = f"P{index:03d}G{0:09d}"
            doc.update_section(
                f"p{index:03d}",
                {
                    "aws_access_key_id": "ASIA" + tag,
                    "aws_secret_access_key": "S" + tag,
                    "aws_session_token": "T" + tag + "/" + "x" * 1000,
                    "x_security_token_expires": "2030-01-01T00:00:00Z",
                },
            )

    path.parent.mkdir()
    path.write_text(USER_FILE)
    edit_ini(path, fill)
    assert path.stat().st_size > PROFILES * 1000
    known = generations(path)
    rng = random.Random(1234)
    deadline = time.monotonic() + 8
    kills = 0
    caught_mid_write = 0
    while kills < 30 and time.monotonic() < deadline:
        kills += 1
        writer = start_writer(path, kills * 10**6)
        time.sleep(rng.uniform(0, 0.06))
        os.kill(writer, signal.SIGKILL)
        os.waitpid(writer, 0)

        now = generations(path)
        for profile, generation in now.items():
            assert generation >= known[profile], "a save went backwards"
        known = now
        leftovers = temp_files(path.parent)
        assert len(leftovers) <= 1  # the one being written when killed; the next save removes it
        caught_mid_write += len(leftovers)
        assert mode(path) == 0o600

    assert kills >= 10
    assert max(known.values()) > 0, "the writer never completed a save"
    CredentialsFile(path).save("p000", sample_credentials(1))
    assert temp_files(path.parent) == []
    # How often the kill landed between creating and renaming the temporary file.
    print(f"{kills} kills, {caught_mid_write} mid-write")


# --- hot path ---------------------------------------------------------------------------------


def test_loading_imports_only_the_standard_library(path):
    CredentialsFile(path).save("production", sample_credentials(1))
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from jcsaml.credentials_file import CredentialsFile\n"
        f"assert CredentialsFile(Path({str(path)!r})).load('production') is not None\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=child_env(), check=True
    )
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    third_party = {"filelock", "boto3", "botocore", "requests", "lxml", "prompt_toolkit"}
    assert loaded & third_party == set()
