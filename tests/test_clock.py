"""A wrong local clock never refuses a sign-in that AWS would accept: the assertion's validity
is judged by STS with AWS's clock, and the person is told when the clocks disagree."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import jcsaml
from jcsaml.config import Account
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws

ACCOUNT = "012345678987"
EMAIL = "alice@acme.example"
PASSWORD = "correct horse battery staple"
AHEAD = timedelta(minutes=3)  # JumpCloud's and AWS's clocks: this computer's is 3 minutes slow


@pytest.fixture
def world() -> Iterator[tuple[LocalAws, FakeJumpCloud, str]]:
    keys = IdpKeyPair.generate()
    with LocalAws(clock=lambda: datetime.now(UTC) + AHEAD) as aws:
        principal = aws.create_saml_provider("JumpCloud", keys.metadata_xml(), account_id=ACCOUNT)
        role = aws.create_role("ReadOnly", trusted_principal_arn=principal, account_id=ACCOUNT)
        app = FakeApp(slug="aws", roles=[(role, principal)])
        user = FakeUser(email=EMAIL, password=PASSWORD, apps=["aws"])
        clock = lambda: time.time() + AHEAD.total_seconds()  # noqa: E731
        with FakeJumpCloud(users=[user], apps=[app], keys=keys, clock=clock) as jumpcloud:
            yield aws, jumpcloud, role


def test_a_local_clock_three_minutes_slow_signs_in_and_says_so(
    world: tuple[LocalAws, FakeJumpCloud, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, jumpcloud, role = world
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)  # boto3 finds the local STS as it finds AWS
    account = Account(
        name="production", url=jumpcloud.app_url("aws"), console_url=jumpcloud.url, username=EMAIL
    )
    prompter = ScriptedPrompter()
    credentials = jcsaml.login(
        account,
        password=PASSWORD,
        prompter=prompter,
        environ=os.environ,
    )
    assert credentials.role_arn == role
    [note] = [n for n in prompter.notices if "clock" in n]
    assert "This computer's clock says " in note and "but JumpCloud's says " in note
    assert "3 minutes behind" in note
