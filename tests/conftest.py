"""Shared fixtures: every test runs with a temporary HOME and no AWS or jcsaml settings of the
developer's machine; servers are started per module and stopped by the fixture."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.forkserver import run_jcsaml

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
