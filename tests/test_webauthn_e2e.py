"""WebAuthn sign-in end to end through the CLI's own entry point, with a software security key
standing in for the USB key, against the fake JumpCloud (which verifies the signature for real)
and the strict local STS."""

from __future__ import annotations

import io
import os

import pytest

from jcsaml.cli import Context, main
from jcsaml.testing.authenticator import SoftwareAuthenticator
from jcsaml.testing.jumpcloud import FakeJumpCloud
from jcsaml.testing.sts import LocalAws
from tests.world import SLUG, WorldFactory

EMAIL = "keys@acme.example"


@pytest.fixture
def site(
    make_world: WorldFactory, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeJumpCloud, LocalAws, SoftwareAuthenticator, SoftwareAuthenticator]:
    lost_key, plugged_key = SoftwareAuthenticator(name="lost"), SoftwareAuthenticator(name="mine")
    world = make_world(
        user={"email": EMAIL, "password": "pw", "totp_secret": None}, roles=["Admin"]
    )
    for key, value in world.aws.environment().items():
        monkeypatch.setenv(key, value)  # botocore reads the endpoint from the process
    fake = world.jumpcloud
    for device in (lost_key, plugged_key):  # two registered keys, the first one lost
        fake.register_webauthn(EMAIL, *device.register("127.0.0.1"))
    status, _, err = run(
        ["configure", "-a", "keys", "--url", fake.app_url(SLUG), "--console-url",
         fake.url, "--username", EMAIL, "--mfa", "WEBAUTHN", "--skip-prompt"]
    )  # fmt: skip
    assert status == 0, err
    return fake, world.aws, lost_key, plugged_key


def run(argv: list[str], device: SoftwareAuthenticator | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    status = main(
        argv,
        context=Context(
            environ=dict(os.environ), stdout=out, stderr=err, stdin=io.StringIO(),
            webauthn_device=device,
        ),
    )  # fmt: skip
    return status, out.getvalue(), err.getvalue()


def test_webauthn_login_signs_with_the_key_that_is_plugged_in(
    site: tuple[FakeJumpCloud, LocalAws, SoftwareAuthenticator, SoftwareAuthenticator],
) -> None:
    fake, aws, lost_key, plugged_key = site
    # Only the second registered key is "plugged in": it must be used although it is listed last.
    status, out, err = run(
        ["login", "-a", "keys", "--skip-prompt", "--password", "pw"], plugged_key
    )
    assert status == 0, err
    assert "Logged in as arn:aws:iam::012345678987:role/Admin" in out
    assert (plugged_key.touched, lost_key.touched) == (1, 0)
    assert fake.count("POST", "/userconsole/auth/webauthn") == 1
    assert aws.calls[-1].code == "Success"


def test_a_key_jumpcloud_does_not_know_fails_clearly(
    site: tuple[FakeJumpCloud, LocalAws, SoftwareAuthenticator, SoftwareAuthenticator],
) -> None:
    fake = site[0]
    stranger = SoftwareAuthenticator(name="stranger")
    stranger.register("127.0.0.1")
    status, _, err = run(["login", "-a", "keys", "--skip-prompt", "--password", "pw"], stranger)
    assert status == 1
    assert fake.count("POST", "/userconsole/auth/webauthn") == 0  # nothing to send
    assert err.strip().splitlines()[-1].startswith("jcsaml: error: ")
    assert "Traceback" not in err
