"""The JumpCloud authenticator against recorded exchanges, replayed in order: every expected call
must be made, in that order, and no other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from jcsaml.errors import (
    AuthenticationFailedError,
    ConditionalAccessError,
    IdpProtocolError,
    IdpServerError,
    MfaCodeRejectedError,
    NoSamlResponseError,
)
from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
from jcsaml.saml import parse_saml_response
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.replay import ReplayServer, load_exchange, load_exchanges

SLUG = "acme-prod-aws-admin"


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def authenticator(server: ReplayServer, *answers: str, slug: str = SLUG) -> JumpCloudAuthenticator:
    return JumpCloudAuthenticator(
        app_url=f"{server.url}/saml2/{slug}",
        console_url=server.url,
        prompter=ScriptedPrompter(list(answers)),
        sleep=lambda seconds: None,
    )


def test_password_only(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_success", "saml_page"))
    page = authenticator(replay).authenticate(PasswordCredentials("bob@acme.example", "pw"))
    replay.assert_done()
    recorded_at = datetime(2024, 6, 3, 9, 1, tzinfo=UTC)
    roles = parse_saml_response(page.saml_response, now=recorded_at, verify=False).roles
    assert [r.role_name for r in roles] == ["AcmeJumpCloudAdminRO", "AcmeJumpCloudAdmin"]
    assert page.form_action == "https://signin.aws.amazon.com/saml"


def test_password_then_totp(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_mfa_required", "auth_totp_success", "saml_page"))
    auth = authenticator(replay)
    auth.authenticate(PasswordCredentials("alice@acme.example", "pw", mfa_token="123456"))
    replay.assert_done()


def test_auto_picks_the_only_available_factor_and_asks_for_the_code(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_mfa_required", "auth_totp_success", "saml_page"))
    auth = authenticator(replay, "123456")
    auth.authenticate(PasswordCredentials("alice@acme.example", "pw", mfa="Auto"))
    replay.assert_done()
    assert auth.prompter.asked == ["MFA code"]  # type: ignore[attr-defined]


def test_auto_with_two_factors_asks_which(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_mfa_required_multi", "auth_totp_success", "saml_page"))
    auth = authenticator(replay, "1", "123456")
    auth.authenticate(PasswordCredentials("dave@acme.example", "pw"))
    replay.assert_done()
    assert auth.prompter.asked == ["MFA method", "MFA code"]  # type: ignore[attr-defined]


def test_push_accepted_after_polling(replay: ReplayServer) -> None:
    replay.add(
        *load_exchanges(
            "xsrf", "auth_mfa_required_push", "push_start", "push_pending", "push_accepted",
            "push_login", "saml_page",
        )
    )  # fmt: skip
    auth = authenticator(replay)
    auth.authenticate(PasswordCredentials("carol@acme.example", "pw"))
    replay.assert_done()
    notices = auth.prompter.notices  # type: ignore[attr-defined]
    assert any("JumpCloud Protect" in notice for notice in notices)


def test_wrong_password(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_failed"))
    with pytest.raises(AuthenticationFailedError, match="Authentication failed"):
        authenticator(replay).authenticate(PasswordCredentials("alice@acme.example", "bad"))
    replay.assert_done()


def test_wrong_code_given_up_front_is_not_retried(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_mfa_required", "auth_totp_rejected"))
    with pytest.raises(MfaCodeRejectedError, match="Invalid OTP"):
        authenticator(replay).authenticate(
            PasswordCredentials("alice@acme.example", "pw", mfa_token="000000")
        )
    replay.assert_done()


def test_html_instead_of_json(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("html_instead_of_json"))
    with pytest.raises(IdpProtocolError, match="expected JSON"):
        authenticator(replay).authenticate(PasswordCredentials("alice@acme.example", "pw"))


def test_server_error_on_the_password_post(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "server_error"))
    with pytest.raises(IdpServerError, match="HTTP 500"):
        authenticator(replay).authenticate(PasswordCredentials("alice@acme.example", "pw"))


def test_page_without_saml_response(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_success", "saml_page_no_response"))
    with pytest.raises(NoSamlResponseError, match="not bound"):
        authenticator(replay, slug="acme-billing-aws").authenticate(
            PasswordCredentials("bob@acme.example", "pw")
        )
    replay.assert_done()


def test_conditional_access_refusal(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_success", "saml_page_access_denied"))
    with pytest.raises(ConditionalAccessError, match="conditional-access"):
        authenticator(replay, slug="acme-restricted-aws").authenticate(
            PasswordCredentials("bob@acme.example", "pw")
        )
    replay.assert_done()


def test_resume_with_a_live_session_makes_two_requests(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("api_self", "saml_page"))
    auth = authenticator(replay)
    saved = json.dumps({"xsrf": xsrf_token(), "cookies": []})
    page = auth.resume(saved)
    assert page is not None and page.saml_response
    replay.assert_done()


def test_resume_with_an_expired_session_returns_none(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("api_self_expired"))
    saved = json.dumps({"xsrf": xsrf_token(), "cookies": []})
    assert authenticator(replay).resume(saved) is None
    replay.assert_done()


@pytest.mark.parametrize(
    "sso_step",
    [("saml_login_redirect", "login_page"), ("auth_mfa_required",)],
    ids=["sent-to-sign-in", "mfa-asked"],
)
def test_resume_a_session_the_sso_step_does_not_take_returns_none(
    replay: ReplayServer, sso_step: tuple[str, ...]
) -> None:
    """The console says the session is alive, but the application page sends the browser to
    the sign-in page, or asks for MFA: a sign-in is needed, not an error."""
    answers = load_exchanges(*sso_step)
    if sso_step == ("auth_mfa_required",):  # that 401 "MFA required." as the SAML page's answer
        answers = [replace(load_exchange("saml_page"), response=answers[0].response)]
    replay.add(*load_exchanges("api_self"), *answers)
    saved = json.dumps({"xsrf": xsrf_token(), "cookies": []})
    assert authenticator(replay).resume(saved) is None
    replay.assert_done()


def xsrf_token() -> str:
    (exchange,) = load_exchanges("xsrf")
    token: str = exchange.response.json()["xsrf"]
    return token
