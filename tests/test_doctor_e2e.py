"""jcsaml doctor against the fake JumpCloud and a local STS: a healthy machine, then one broken
item at a time, each giving its FAIL row and exit status 1."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jcsaml.doctor import diagnose, failed
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws
from tests.conftest import CliResult, cli_environment, run_cli

PASSWORD = "doctor-password-not-shown"
EMAIL = "alice@acme.example"


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


@pytest.fixture(scope="module")
def jumpcloud() -> Iterator[FakeJumpCloud]:
    keys = IdpKeyPair.generate()
    app = FakeApp(slug="aws", roles=[])
    with FakeJumpCloud(
        users=[FakeUser(EMAIL, PASSWORD, apps=["aws"])], apps=[app], keys=keys
    ) as fake:
        yield fake


class Machine:
    def __init__(self, home: Path, aws: LocalAws, jumpcloud: FakeJumpCloud) -> None:
        self.home = home
        self.jumpcloud = jumpcloud
        self.env = cli_environment(home, aws.environment(), {"JCSAML_PASSWORD": PASSWORD})

    def configure(self, *extra: str, console_url: str | None = None) -> None:
        result = run_cli(
            "configure", "-a", "production", "--url", self.jumpcloud.app_url("aws"),
            "--console-url", console_url or self.jumpcloud.url, "--username", EMAIL,
            "--skip-prompt", *extra, env=self.env,
        )  # fmt: skip
        assert result.status == 0, result.stderr

    def doctor(self, *args: str) -> CliResult:
        result = run_cli("doctor", *args, env=self.env)
        assert PASSWORD not in result.stdout + result.stderr
        return result


@pytest.fixture
def machine(hermetic_home: Path, aws: LocalAws, jumpcloud: FakeJumpCloud) -> Machine:
    return Machine(hermetic_home, aws, jumpcloud)


def rows(result: CliResult, status: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(status)]


def test_a_healthy_machine_passes_without_signing_in(machine: Machine) -> None:
    machine.configure()
    machine.jumpcloud.clear_requests()
    result = machine.doctor()
    assert result.status == 0, result.stdout + result.stderr
    assert not rows(result, "FAIL")
    text = result.stdout
    assert "account" in text and f"console_url={machine.jumpcloud.url}" in text
    assert any("reach" in row and "console_url" in row for row in rows(result, "OK"))
    assert any("clock" in row for row in rows(result, "OK"))
    assert any("versions" in row and "boto3" in row for row in rows(result, "OK"))
    # The null keyring of the tests, and no pinned certificate yet: worth a warning, no more.
    assert any("keyring" in row for row in rows(result, "WARN"))
    # Only the configured hosts were asked, and nothing was signed in to.
    assert machine.jumpcloud.count("POST") == 0
    assert machine.jumpcloud.count("GET") == 2  # the app page and the console's xsrf


def test_json_has_one_object_per_row(machine: Machine) -> None:
    machine.configure()
    result = machine.doctor("-a", "production", "--json")
    assert result.status == 0, result.stderr
    findings = json.loads(result.stdout)
    assert {f["status"] for f in findings} <= {"OK", "WARN", "FAIL"}
    assert {"check", "setting", "status", "detail", "account"} <= set(findings[0])
    assert any(f["check"] == "reach" and f["setting"] == "url" for f in findings)


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_dead_console_url_fails(machine: Machine) -> None:
    machine.configure(console_url=dead_url())
    result = machine.doctor()
    assert result.status == 1
    failing = rows(result, "FAIL")
    assert len(failing) == 1, result.stdout
    assert "reach" in failing[0] and "console_url" in failing[0]
    assert "connection refused" in failing[0]


def test_a_console_url_that_is_not_jumpcloud_fails(machine: Machine, aws: LocalAws) -> None:
    machine.configure(console_url=aws.endpoint_url)
    failing = rows(machine.doctor(), "FAIL")
    assert any("not a JumpCloud console" in row and "console_url" in row for row in failing)


def test_an_unreadable_credentials_file_fails(machine: Machine) -> None:
    machine.configure()
    credentials = machine.home / ".aws" / "credentials"
    credentials.mkdir(parents=True)  # unreadable as a file, even for root
    result = machine.doctor()
    assert result.status == 1
    failing = rows(result, "FAIL")
    assert len(failing) == 1, result.stdout
    assert "credentials_file" in failing[0] and "cannot be read" in failing[0]


def test_world_readable_credentials_warn(machine: Machine) -> None:
    machine.configure()
    credentials = machine.home / ".aws" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.write_text("[other]\naws_access_key_id = AKIAEXAMPLE\n")
    os.chmod(credentials, 0o644)
    result = machine.doctor()
    assert result.status == 0
    assert any("chmod 600" in row for row in rows(result, "WARN"))


def test_a_credential_process_pointing_at_a_missing_file_fails(machine: Machine) -> None:
    machine.configure()
    config = machine.home / ".aws" / "config"
    config.parent.mkdir(parents=True)
    missing = machine.home / "gone" / "jcsaml"
    config.write_text(
        "[profile production]\n"
        f"credential_process = {missing} credential-process -a production\n"
        "[profile staging]\n"
        f"credential_process = {os.environ.get('PYTHON', 'python3')} -m jcsaml "
        "credential-process -a staging\n"
    )
    result = machine.doctor()
    assert result.status == 1
    failing = rows(result, "FAIL")
    assert len(failing) == 1, result.stdout
    assert "credential_process" in failing[0] and "profile production" in failing[0]
    assert str(missing) in failing[0]
    assert any("profile staging" in row for row in rows(result, "OK"))


def test_an_invalid_account_fails_naming_the_setting(machine: Machine) -> None:
    machine.configure()
    with (machine.home / ".jcsaml").open("a") as config:
        config.write("mfa = SMS\n")
    result = machine.doctor()
    assert result.status == 1
    failing = rows(result, "FAIL")
    assert any(" mfa " in row for row in failing), result.stdout


def test_a_skewed_clock_fails(machine: Machine) -> None:
    machine.configure()
    env = machine.env
    findings = diagnose(
        config=machine.home / ".jcsaml", environ=env, clock=lambda: time.time() + 600
    )
    assert failed(findings)
    clocks = [f for f in findings if f.check == "clock"]
    assert clocks and all(f.status == "FAIL" for f in clocks)
    assert {f.setting for f in clocks} == {"url", "console_url", "AWS_ENDPOINT_URL_STS"}
    assert re.search(r"clock is 60[01] s ahead of", clocks[0].detail)
    # A small skew is fine.
    findings = diagnose(config=machine.home / ".jcsaml", environ=env, clock=time.time)
    assert all(f.status == "OK" for f in findings if f.check == "clock")
