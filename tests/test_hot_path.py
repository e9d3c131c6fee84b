"""``jcsaml exec`` with valid cached credentials stays light: no heavy library is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jcsaml.config import Account, save_account
from jcsaml.credentials import AwsCredentials
from jcsaml.credentials_file import CredentialsFile

HEAVY = (
    "boto3",
    "botocore",
    "requests",
    "bs4",
    "signxml",
    "prompt_toolkit",
    "keyring",
    "lxml",
    "cryptography",
    "urllib3",
)


def imported_modules(argv: list[str], env: dict[str, str]) -> tuple[int, set[str]]:
    """Run a Python command with -X importtime and return the top-level modules it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return done.returncode, names


def test_exec_with_cached_credentials_imports_nothing_heavy(hermetic_home: Path) -> None:
    config = hermetic_home / ".jcsaml"
    save_account(
        Account(name="production", url="https://sso.jumpcloud.com/saml2/acme"), path=config
    )
    CredentialsFile(hermetic_home / ".aws" / "credentials").save(
        "production",
        AwsCredentials(
            access_key_id="ASIACACHED",
            secret_access_key="s",
            session_token="t",
            expiration=datetime.now(UTC) + timedelta(hours=1),
            role_arn="arn:aws:iam::012345678987:role/Admin",
            assumed_role_arn="arn:aws:sts::012345678987:assumed-role/Admin/alice",
        ),
    )
    status, modules = imported_modules(
        [
            "-m",
            "jcsaml",
            "exec",
            "-a",
            "production",
            "--",
            sys.executable,
            "-c",
            "import os, sys; sys.exit(0 if os.environ['AWS_ACCESS_KEY_ID'] == 'ASIACACHED' else 3)",
        ],
        dict(os.environ),
    )
    assert status == 0
    assert "jcsaml" in modules
    assert sorted(modules & set(HEAVY)) == []


def test_import_jcsaml_is_cheap() -> None:
    status, modules = imported_modules(
        ["-c", "import jcsaml, jcsaml.saml, jcsaml.errors, jcsaml.credentials"], dict(os.environ)
    )
    assert status == 0
    assert sorted(modules & set(HEAVY)) == []


def test_script_and_credential_process_with_cached_credentials_import_nothing_heavy(
    hermetic_home: Path,
) -> None:
    from jcsaml import process_cache

    role = "arn:aws:iam::012345678987:role/Admin"
    save_account(
        Account(name="production", url="https://sso.jumpcloud.com/saml2/acme", role_arn=role),
        path=hermetic_home / ".jcsaml",
    )
    credentials = AwsCredentials(
        access_key_id="ASIACACHED",
        secret_access_key="s",
        session_token="t",
        expiration=datetime.now(UTC) + timedelta(hours=1),
        role_arn=role,
        assumed_role_arn="arn:aws:sts::012345678987:assumed-role/Admin/alice",
    )
    CredentialsFile(hermetic_home / ".aws" / "credentials").save("production", credentials)
    process_cache.save("production", role, credentials, environ=os.environ)
    for command in ("script", "credential-process"):
        status, modules = imported_modules(
            ["-m", "jcsaml", command, "-a", "production"], dict(os.environ)
        )
        assert status == 0, command
        assert "jcsaml" in modules
        assert sorted(modules & set(HEAVY)) == [], command


def test_status_makes_do_with_the_standard_library_and_the_keyring(hermetic_home: Path) -> None:
    save_account(
        Account(
            name="production",
            url="https://sso.jumpcloud.com/saml2/acme",
            username="alice@acme.example",
        ),
        path=hermetic_home / ".jcsaml",
    )
    status, modules = imported_modules(["-m", "jcsaml", "status"], dict(os.environ))
    assert status == 0
    # The keyring says whether a JumpCloud session is saved; nothing else heavy is needed.
    assert sorted(modules & set(HEAVY)) == ["keyring"]
