"""Shared fixtures: every test runs with a temporary HOME and no AWS or jcsaml settings of the
developer's machine; servers are started per module and stopped by the fixture."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.forkserver import run_jcsaml

if TYPE_CHECKING:
    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.testing.idp import IdpKeyPair

REPO = Path(__file__).resolve().parent.parent


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


def cli_environment(home: Path, *extra: Mapping[str, str]) -> dict[str, str]:
    """The environment a CLI subprocess runs in: this process's, minus any AWS or jcsaml
    settings, with every jcsaml and AWS file under ``home`` and the null keyring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JCSAML_", "XDG_"))}
    env.update(
        HOME=str(home),
        JCSAML_CONFIG=str(home / ".jcsaml"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    for more in extra:
        env.update(more)
    return env


@dataclass
class CliResult:
    status: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> CliResult:
    """The real CLI in a process of its own (``python -m jcsaml``), as a user runs it; forked
    from a process that has already imported it when that changes nothing (tests/forkserver.py)."""
    done = run_jcsaml(
        args,
        env=env if env is not None else os.environ,
        stdin=stdin if stdin is not None else "",
        timeout=timeout,
    )
    return CliResult(done.status, done.stdout, done.stderr)


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


@pytest.fixture(scope="module")
def keys() -> IdpKeyPair:
    """The IdP's signing key pair, one per test module."""
    from jcsaml.testing.idp import IdpKeyPair

    return IdpKeyPair.generate()


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
