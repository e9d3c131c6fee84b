"""Session duration negotiation against the strict local STS and the fake JumpCloud."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import Account
from jcsaml.errors import StsError
from jcsaml.signin import login
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws
from tests.conftest import cli_environment, run_cli

ACCOUNT = "012345678987"


@dataclass
class Setup:
    aws: LocalAws
    jumpcloud: FakeJumpCloud

    def login(self, slug: str, prompter: ScriptedPrompter, **kwargs: object) -> AwsCredentials:
        account = Account(
            name=slug,
            url=self.jumpcloud.app_url(slug),
            console_url=self.jumpcloud.url,
            username="alice@acme.example",
        )
        return login(account, password="pw", prompter=prompter, environ={}, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def servers() -> Iterator[Setup]:
    keys = IdpKeyPair.generate()
    with LocalAws() as aws:
        principal = aws.create_saml_provider("JumpCloud", keys.metadata_xml(), account_id=ACCOUNT)
        short = aws.create_role(
            "Short", trusted_principal_arn=principal, max_session_duration=3600, account_id=ACCOUNT
        )
        long = aws.create_role(
            "Long", trusted_principal_arn=principal, max_session_duration=43200, account_id=ACCOUNT
        )
        untrusted = aws.create_role_with_policy(
            "Untrusted", {"Version": "2012-10-17", "Statement": []}, account_id=ACCOUNT
        )
        apps = [
            FakeApp(slug="short", roles=[(short, principal)], session_duration=43200),
            FakeApp(slug="long", roles=[(long, principal)], session_duration=43200),
            FakeApp(slug="capped", roles=[(long, principal)], session_duration=3600),
            FakeApp(slug="untrusted", roles=[(untrusted, principal)], session_duration=3600),
        ]
        user = FakeUser(email="alice@acme.example", password="pw", apps=[app.slug for app in apps])
        with FakeJumpCloud(users=[user], apps=apps, keys=keys) as jumpcloud:
            yield Setup(aws, jumpcloud)


@pytest.fixture
def local(servers: Setup, monkeypatch: pytest.MonkeyPatch) -> Setup:
    # botocore reads the endpoint override from the process environment.
    for key, value in servers.aws.environment().items():
        monkeypatch.setenv(key, value)
    return servers


def hours_left(creds: AwsCredentials) -> float:
    return (creds.expiration - datetime.now(UTC)) / timedelta(hours=1)


def test_the_assertions_session_duration_is_requested(local: Setup) -> None:
    creds = local.login("long", ScriptedPrompter())
    assert 11.9 < hours_left(creds) <= 12
    assert local.aws.calls[-1].duration_seconds == 43200


def test_role_maximum_below_the_request_retries_once_with_an_hour_and_says_so(
    local: Setup,
) -> None:
    prompter = ScriptedPrompter()
    before = len(local.aws.calls)
    creds = local.login("short", prompter)
    assert 0.9 < hours_left(creds) <= 1
    calls = local.aws.calls[before:]
    assert [(c.duration_seconds, c.code) for c in calls] == [
        (43200, "ValidationError"),
        (3600, "Success"),
    ]
    assert any("MaxSessionDuration" in notice for notice in prompter.notices)


def test_a_request_above_the_assertions_limit_is_lowered_and_said(local: Setup) -> None:
    prompter = ScriptedPrompter()
    creds = local.login("capped", prompter, session_duration=7200)
    assert 0.9 < hours_left(creds) <= 1
    assert local.aws.calls[-1].duration_seconds == 3600
    assert any("at most 3600 s" in notice for notice in prompter.notices)


def test_a_user_request_within_limits_is_honoured(local: Setup) -> None:
    creds = local.login("long", ScriptedPrompter(), session_duration=7200)
    assert 1.9 < hours_left(creds) <= 2


def test_untrusted_role_names_the_trust_policy(local: Setup) -> None:
    with pytest.raises(StsError) as caught:
        local.login("untrusted", ScriptedPrompter())
    assert caught.value.code == "AccessDenied"
    assert "trust policy" in str(caught.value)


def test_the_cli_tells_the_user_about_the_shorter_session(
    servers: Setup, hermetic_home: Path
) -> None:
    env = cli_environment(hermetic_home, servers.aws.environment(), {"JCSAML_PASSWORD": "pw"})
    configured = run_cli(
        "configure", "-a", "short", "--url", servers.jumpcloud.app_url("short"),
        "--console-url", servers.jumpcloud.url, "--username", "alice@acme.example",
        "--skip-prompt", env=env,
    )  # fmt: skip
    assert configured.status == 0, configured.stderr
    result = run_cli("login", "-a", "short", "--skip-prompt", env=env)
    assert result.status == 0, result.stderr
    assert "MaxSessionDuration" in result.stderr and "using 3600 s" in result.stderr
    assert "(in 59 minutes)" in result.stdout or "(in 60 minutes)" in result.stdout
