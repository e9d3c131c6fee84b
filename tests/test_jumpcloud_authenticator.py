"""The JumpCloud authenticator against the fake JumpCloud, a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jcsaml.errors import (
    AuthenticationFailedError,
    ConsoleUrlNotFoundError,
    IdpProtocolError,
    IdpServerError,
    IdpUnavailableError,
    InputRequiredError,
    InvalidSettingError,
    MfaCodeRejectedError,
    MfaFactorUnavailableError,
    NoSamlResponseError,
    NothingTypedError,
)
from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
from jcsaml.saml import parse_saml_response
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser

PRINCIPAL = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
RO = "arn:aws:iam::012345678987:role/ReadOnly"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def jumpcloud() -> Iterator[FakeJumpCloud]:
    users = [
        FakeUser(email="mfa@acme.example", password="pw", totp_secret=SECRET, apps=["aws"]),
        FakeUser(email="plain@acme.example", password="pw", apps=["aws"]),
        FakeUser(email="unbound@acme.example", password="pw", apps=[]),
    ]
    with FakeJumpCloud(users=users, apps=[FakeApp(slug="aws", roles=[(RO, PRINCIPAL)])]) as fake:
        yield fake


def authenticator(fake: FakeJumpCloud, answers: list[str] | None = None) -> JumpCloudAuthenticator:
    return JumpCloudAuthenticator(
        app_url=fake.app_url("aws"), console_url=fake.url, prompter=ScriptedPrompter(answers or [])
    )


def test_password_only_sign_in_returns_the_saml_page(jumpcloud: FakeJumpCloud) -> None:
    page = authenticator(jumpcloud).authenticate(PasswordCredentials("plain@acme.example", "pw"))
    assert parse_saml_response(page.saml_response, verify=False).roles[0].role_arn == RO
    assert page.form_action == "https://signin.aws.amazon.com/saml"
    assert jumpcloud.errors == []


def test_totp_from_the_flag_is_sent_once(jumpcloud: FakeJumpCloud) -> None:
    code = jumpcloud.totp_code("mfa@acme.example")
    auth = authenticator(jumpcloud)
    page = auth.authenticate(
        PasswordCredentials("mfa@acme.example", "pw", mfa="TOTP", mfa_token=code)
    )
    assert page.saml_response
    assert jumpcloud.count("POST", "/userconsole/auth") == 2
    assert auth.prompter.asked == []  # type: ignore[attr-defined]


def test_totp_is_asked_when_not_given(jumpcloud: FakeJumpCloud) -> None:
    auth = authenticator(jumpcloud, [jumpcloud.totp_code("mfa@acme.example")])
    auth.authenticate(PasswordCredentials("mfa@acme.example", "pw"))
    assert auth.prompter.asked == ["MFA code"]  # type: ignore[attr-defined]


def test_wrong_password_shows_jumpclouds_message(jumpcloud: FakeJumpCloud) -> None:
    with pytest.raises(AuthenticationFailedError) as caught:
        authenticator(jumpcloud).authenticate(PasswordCredentials("plain@acme.example", "nope"))
    assert "Authentication failed" in str(caught.value)
    assert "nope" not in str(caught.value)


def test_wrong_and_reused_totp_codes_are_rejected(jumpcloud: FakeJumpCloud) -> None:
    good = jumpcloud.totp_code("mfa@acme.example")
    wrong = "000000" if good != "000000" else "111111"
    with pytest.raises(MfaCodeRejectedError):
        authenticator(jumpcloud).authenticate(
            PasswordCredentials("mfa@acme.example", "pw", mfa_token=wrong)
        )
    authenticator(jumpcloud).authenticate(
        PasswordCredentials("mfa@acme.example", "pw", mfa_token=good)
    )
    with pytest.raises(MfaCodeRejectedError):
        authenticator(jumpcloud).authenticate(
            PasswordCredentials("mfa@acme.example", "pw", mfa_token=good)
        )


def test_missing_code_without_prompting_names_the_flag(jumpcloud: FakeJumpCloud) -> None:
    with pytest.raises(InputRequiredError, match="pass mfa_token="):
        authenticator(jumpcloud).authenticate(PasswordCredentials("mfa@acme.example", "pw"))


def test_configured_factor_that_is_not_available(jumpcloud: FakeJumpCloud) -> None:
    with pytest.raises(MfaFactorUnavailableError) as caught:
        authenticator(jumpcloud).authenticate(
            PasswordCredentials("mfa@acme.example", "pw", mfa="PUSH")
        )
    assert caught.value.available == "TOTP"


def test_user_not_bound_to_the_app_gets_the_conditional_access_message(
    jumpcloud: FakeJumpCloud,
) -> None:
    with pytest.raises(NoSamlResponseError, match="conditional-access"):
        authenticator(jumpcloud).authenticate(PasswordCredentials("unbound@acme.example", "pw"))


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("html", IdpProtocolError),
        ("500", IdpServerError),
        ("503", IdpServerError),
    ],
)
def test_faults_on_the_xsrf_call(jumpcloud: FakeJumpCloud, kind: str, error: type) -> None:
    jumpcloud.inject_fault("/userconsole/xsrf", kind, times=5)  # type: ignore[arg-type]
    with pytest.raises(error):
        authenticator(jumpcloud).authenticate(PasswordCredentials("plain@acme.example", "pw"))


def test_unreachable_idp_is_reported_with_its_url() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    auth = JumpCloudAuthenticator(
        app_url=f"http://127.0.0.1:{port}/saml2/aws",
        console_url=f"http://127.0.0.1:{port}",
        prompter=ScriptedPrompter(),
    )
    with pytest.raises(IdpUnavailableError, match=f"127.0.0.1:{port}"):
        auth.authenticate(PasswordCredentials("plain@acme.example", "pw"))


def test_slow_idp_times_out(jumpcloud: FakeJumpCloud) -> None:
    jumpcloud.inject_fault("/userconsole/xsrf", "slow", delay=2)
    auth = JumpCloudAuthenticator(
        app_url=jumpcloud.app_url("aws"),
        console_url=jumpcloud.url,
        prompter=ScriptedPrompter(),
        http_timeout=0.5,
    )
    with pytest.raises(IdpUnavailableError, match=r"no answer within 0\.5 s"):
        auth.authenticate(PasswordCredentials("plain@acme.example", "pw"))


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(InvalidSettingError, match="https"):
        JumpCloudAuthenticator(
            app_url="http://sso.jumpcloud.com/saml2/aws", prompter=ScriptedPrompter()
        )


def test_a_code_typed_with_spaces_is_sent_without_them(jumpcloud: FakeJumpCloud) -> None:
    code = jumpcloud.totp_code("mfa@acme.example")
    auth = authenticator(jumpcloud, [f" {code[:3]} {code[3:]} "])
    auth.authenticate(PasswordCredentials("mfa@acme.example", "pw"))
    assert jumpcloud.errors == []


def test_an_empty_code_is_asked_again_and_never_sent(jumpcloud: FakeJumpCloud) -> None:
    code = jumpcloud.totp_code("mfa@acme.example")
    auth = authenticator(jumpcloud, ["", "  ", code])
    auth.authenticate(PasswordCredentials("mfa@acme.example", "pw"))
    assert auth.prompter.asked == ["MFA code"] * 3  # type: ignore[attr-defined]
    assert jumpcloud.count("POST", "/userconsole/auth") == 2  # the password, then the one code


def test_three_empty_codes_stop_without_sending_one(jumpcloud: FakeJumpCloud) -> None:
    auth = authenticator(jumpcloud, ["", "", ""])
    with pytest.raises(NothingTypedError, match="no MFA code was typed"):
        auth.authenticate(PasswordCredentials("mfa@acme.example", "pw"))
    assert jumpcloud.count("POST", "/userconsole/auth") == 1


def test_a_console_url_answering_404_is_named(jumpcloud: FakeJumpCloud) -> None:
    jumpcloud.inject_fault("/userconsole/xsrf", "404")
    with pytest.raises(ConsoleUrlNotFoundError) as caught:
        authenticator(jumpcloud).authenticate(PasswordCredentials("plain@acme.example", "pw"))
    message = str(caught.value)
    assert f"console URL {jumpcloud.url} answered HTTP 404" in message
    assert "console_url setting" in message and "flow may have changed" not in message
