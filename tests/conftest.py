"""Shared fixtures: every test runs with a temporary HOME and no AWS or jcsaml settings of the
developer's machine; servers are started per module and stopped by the fixture. The end-to-end
tests' world (``tests/world.py``): ``aws_account`` once per module, ``make_world``, ``world`` and
``world_with`` per test."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
