"""Shared fixtures: every test runs with a temporary HOME and no AWS or jcsaml settings of the
developer's machine; servers are started per module and stopped by the fixture. The end-to-end
tests' world (``tests/world.py``): ``aws_account`` once per module, ``make_world``, ``world`` and
``world_with`` per test."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from jcsaml.testing.idp import IdpKeyPair
from tests.world import (
    READ_ONLY,
    AwsAccount,
    CliResult,
    Signed,
    World,
    WorldFactory,
    cli_environment,
    run_cli,
)

__all__ = ["REPO", "CliResult", "cli_environment", "run_cli"]

if TYPE_CHECKING:
    from jcsaml.aws_credentials import AwsCredentials

REPO = Path(__file__).resolve().parent.parent


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the machine has cores. Many end-to-end tests wait on a
    process, a timer or a server rather than compute (measured on 2 cores: 221 s with 3 workers,
    265 s with 2, 222 s with 4)."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(autouse=True)
def hermetic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith(("AWS_", "JCSAML_", "XDG_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("JCSAML_CONFIG", str(home / ".jcsaml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return home


@pytest.fixture(autouse=True)
def terminal_ctrl_c() -> Iterator[None]:
    """Ctrl-C as a terminal delivers it, in this process and so in every process a test starts:
    a SIGINT that something earlier in this worker left ignored would be ignored there too
    (an ignored signal stays ignored across exec)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def keys() -> IdpKeyPair:
    """The fake JumpCloud's signing keys, which the module's AWS account trusts."""
    return IdpKeyPair.generate()


@pytest.fixture(scope="module")
def aws_account(keys: IdpKeyPair) -> Iterator[AwsAccount]:
    with AwsAccount.running(keys) as running:
        yield running


@pytest.fixture
def make_world(hermetic_home: Path, aws_account: AwsAccount) -> Iterator[WorldFactory]:
    """Worlds with knobs (see ``World.running``), each with its own fake JumpCloud, stopped at
    the end of the test."""
    with contextlib.ExitStack() as stack:

        def make(**knobs: Any) -> World:
            return stack.enter_context(World.running(hermetic_home, aws_account, **knobs))

        yield make


@pytest.fixture
def world(make_world: WorldFactory) -> World:
    """Alice, with TOTP, offered the read-only and the admin role; nothing configured yet."""
    return make_world()


@pytest.fixture
def world_with(make_world: WorldFactory) -> WorldFactory:
    """``make_world`` whose app offers the read-only role alone, unless ``app`` says otherwise."""
    return functools.partial(make_world, roles=(READ_ONLY,))


@pytest.fixture
def runbook_world(make_world: WorldFactory, aws_account: AwsAccount) -> World:
    """The runbook's setting: a keyring that keeps what is saved, a region in the AWS config
    file alone, and the read-only role configured for profile ``production``."""
    role = aws_account.roles[READ_ONLY]
    return make_world(
        keyring=True, env_region=False, configure=("--profile", "production", "--role", role)
    )


@pytest.fixture
def signed(
    hermetic_home: Path, aws_account: AwsAccount, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Signed]:
    """The library signed in once, in this process (see ``Signed``)."""
    for key, value in aws_account.local.environment().items():  # botocore reads the endpoint
        monkeypatch.setenv(key, value)
    with Signed.running(hermetic_home, aws_account) as found:
        yield found


#: Where a test that makes a home per generated example (hundreds) makes them: a file system in
#: memory where there is one, as making and removing directories on a busy disk costs
#: milliseconds each.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def scratch_home() -> tempfile.TemporaryDirectory[str]:
    """A temporary directory, removed on leaving the ``with`` block, for one example's home."""
    return tempfile.TemporaryDirectory(dir=SCRATCH)


def world_writable_directory(path: Path) -> Path:
    """A new directory at ``path`` that every user may write in: no safe place for a cache."""
    path.mkdir()
    path.chmod(0o777)
    return path


def run_python(
    source: str, *, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``source`` run by a fresh interpreter (``python -c``), its output captured as text."""
    return subprocess.run(
        [sys.executable, "-c", source],
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def fresh_credentials(
    role_arn: str = "arn:aws:iam::012345678987:role/Admin",
    *,
    lasting: timedelta = timedelta(hours=1),
    **fields: str,
) -> AwsCredentials:
    """Credentials for ``role_arn`` that expire ``lasting`` from now: access key ASIACACHED,
    secret "s" and token "t" unless ``fields`` say otherwise."""
    from jcsaml.aws_credentials import AwsCredentials

    values = {"access_key_id": "ASIACACHED", "secret_access_key": "s", "session_token": "t"}
    return AwsCredentials(
        **{**values, **fields}, expiration=datetime.now(UTC) + lasting, role_arn=role_arn
    )


def cached_account(
    home: Path,
    credentials: AwsCredentials,
    *,
    name: str = "production",
    url: str = "https://sso.jumpcloud.com/saml2/acme",
    role_arn: str = "",
    profile: bool = True,
    process: bool = False,
    **settings: Any,
) -> dict[str, str]:
    """Account ``name`` (with ``url``, ``role_arn`` and more ``settings``) in the config file
    under ``home``, ``credentials`` saved in its profile and, with ``process``, in
    credential-process's cache; returns the environment of a CLI run there (see
    :func:`cli_environment`)."""
    from jcsaml import process_cache
    from jcsaml.config import Account, save_account
    from jcsaml.credentials_file import CredentialsFile

    environment = cli_environment(home)
    save_account(
        Account(name=name, url=url, role_arn=role_arn, **settings),
        path=Path(environment["JCSAML_CONFIG"]),
    )
    if profile:
        CredentialsFile(Path(environment["AWS_SHARED_CREDENTIALS_FILE"])).save(name, credentials)
    if process:
        process_cache.save(name, role_arn, credentials, environ=environment)
    return environment


ErrorT = TypeVar("ErrorT", bound=BaseException)


def refused_load(path: Path, text: str, error: type[ErrorT], account: str = "production") -> ErrorT:
    """What loading ``account`` from a config file at ``path`` holding ``text`` raises, which
    must be an ``error``."""
    from jcsaml.config import load_account

    path.write_text(text)
    with pytest.raises(error) as caught:
        load_account(account, path=path)
    return caught.value


ODD_FILES = ["fifo", "link to /dev/zero", "10 MB"]


def replace_with_odd_file(path: Path, kind: str, filler: bytes = b" ") -> None:
    """Put at ``path`` what a cache reader must never read: a FIFO (a read would hang), a link to
    an endless file, or a 10 MB file of ``filler``."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "link to /dev/zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(filler * (10 * 1024 * 1024))
