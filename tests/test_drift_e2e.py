"""When JumpCloud changes its sign-in: the recorded exchanges with one step changed at a time,
replayed to the real CLI. Each change gives one error line naming the step and asking for a
recording; an access policy's denial is reported in JumpCloud's own words; MFA asked for at the
SSO step goes through the factor flow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from jcsaml.errors import JumpCloudChangedError
from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.replay import (
    RECORDED_BASE_URL,
    Exchange,
    ExpectedRequest,
    RecordedResponse,
    ReplayServer,
    load_exchange,
    load_exchanges,
)
from tests.conftest import cli_environment, run_cli

SLUG = "acme-prod-aws-admin"
RECORD_HINT = "run the same command with `--record FILE` and attach FILE to a bug report"


def answer(exchange: Exchange, status: int, body: object, **headers: str) -> Exchange:
    """``exchange`` with another answer: JSON for a dict, else the text as it is."""
    text = json.dumps(body) if isinstance(body, dict) else str(body)
    kind = "application/json" if isinstance(body, dict) else "text/html; charset=utf-8"
    return replace(
        exchange, response=RecordedResponse(status, {"Content-Type": kind, **headers}, text)
    )


def page(path: str, status: int, body: str) -> Exchange:
    return Exchange(
        ExpectedRequest("GET", path),
        RecordedResponse(status, {"Content-Type": "text/html; charset=utf-8"}, body),
    )


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def login_error(server: ReplayServer, home: Path, slug: str = SLUG) -> str:
    """``jcsaml login`` against the changed exchanges: the one error line it ends with."""
    env = cli_environment(home)
    configured = run_cli(
        "configure", "-a", "drift", "--url", f"{server.url}/saml2/{slug}",
        "--console-url", server.url, "--username", "alice@acme.example", "--skip-prompt",
        env=env,
    )  # fmt: skip
    assert configured.status == 0, configured.stderr
    result = run_cli("login", "-a", "drift", "--skip-prompt", env={**env, "JCSAML_PASSWORD": "pw"})
    assert result.status == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jcsaml: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert "pw" not in lines[0].split(": ", 2)[2].split()  # no secret, as a word
    server.assert_done()
    return lines[0]


def test_html_instead_of_json_at_the_xsrf_step(server: ReplayServer, hermetic_home: Path) -> None:
    server.add(load_exchange("html_instead_of_json"))
    line = login_error(server, hermetic_home)
    assert "at the xsrf step (GET /userconsole/xsrf): expected JSON, got text/html" in line
    assert RECORD_HINT in line


def test_a_new_json_key_set_at_the_password_step(server: ReplayServer, hermetic_home: Path) -> None:
    auth = answer(load_exchange("auth_success"), 200, {"session": "s3cr3t", "state": "ok"})
    server.add(load_exchange("xsrf"), auth)
    line = login_error(server, hermetic_home)
    assert "at the password step (POST /userconsole/auth)" in line
    assert "expected JSON with redirectTo, factors or message" in line
    assert "keys [session, state]" in line
    assert "s3cr3t" not in line and "ok" not in line.split("keys")[1]  # never values
    assert RECORD_HINT in line


def test_an_empty_redirect_to(server: ReplayServer, hermetic_home: Path) -> None:
    server.add(
        load_exchange("xsrf"), answer(load_exchange("auth_success"), 200, {"redirectTo": ""})
    )
    line = login_error(server, hermetic_home)
    assert "at the password step (POST /userconsole/auth): expected a redirectTo URL" in line
    assert RECORD_HINT in line


def test_a_policy_denial_page_is_reported_in_jumpclouds_words(
    server: ReplayServer, hermetic_home: Path
) -> None:
    server.add(*load_exchanges("xsrf", "auth_success", "saml_page_access_denied"))
    line = login_error(server, hermetic_home, slug="acme-restricted-aws")
    assert "JumpCloud refused access (the application page (GET /saml2/acme-restricted-aws)" in line
    assert "Your administrator has set a policy that prevents access" in line
    assert RECORD_HINT in line


def test_a_policy_denial_in_json(server: ReplayServer, hermetic_home: Path) -> None:
    denied = {"message": "Access denied by policy: untrusted device."}
    server.add(load_exchange("xsrf"), answer(load_exchange("auth_success"), 403, denied))
    line = login_error(server, hermetic_home)
    assert "the password step (POST /userconsole/auth): Access denied by policy" in line


def test_a_redirect_to_an_unknown_path_at_the_password_step(
    server: ReplayServer, hermetic_home: Path
) -> None:
    moved = answer(
        load_exchange("auth_success"), 302, "", Location=f"{RECORDED_BASE_URL}/userconsole/v2"
    )
    server.add(load_exchange("xsrf"), moved)
    line = login_error(server, hermetic_home)
    assert "at the password step (POST /userconsole/auth): expected JSON" in line
    assert "HTTP 302 redirecting to /userconsole/v2" in line
    assert RECORD_HINT in line


def test_a_redirect_to_an_unknown_path_at_the_application_page(
    server: ReplayServer, hermetic_home: Path
) -> None:
    moved = replace(
        load_exchange("saml_page"),
        response=RecordedResponse(302, {"Location": f"{RECORDED_BASE_URL}/sso/continue"}, ""),
    )
    landing = page("/sso/continue", 200, "<html><title>Continue</title><body></body></html>")
    server.add(*load_exchanges("xsrf", "auth_success"), moved, landing)
    line = login_error(server, hermetic_home)
    assert f"at the application page (GET /saml2/{SLUG})" in line
    assert "titled 'Continue') after a redirect to /sso/continue" in line
    assert RECORD_HINT in line


# --- MFA asked for at the SSO step ------------------------------------------------------------


def authenticator(server: ReplayServer) -> JumpCloudAuthenticator:
    return JumpCloudAuthenticator(
        app_url=f"{server.url}/saml2/{SLUG}",
        console_url=server.url,
        prompter=ScriptedPrompter([]),
        sleep=lambda seconds: None,
    )


def test_mfa_at_the_sso_step_goes_through_the_factor_flow(server: ReplayServer) -> None:
    mfa = load_exchange("auth_mfa_required")
    asked = replace(load_exchange("saml_page"), response=mfa.response)  # 401 "MFA required."
    server.add(
        *load_exchanges("xsrf", "auth_success"),
        asked,
        *load_exchanges("auth_totp_success", "saml_page"),
    )
    page_ = authenticator(server).authenticate(
        PasswordCredentials("alice@acme.example", "pw", mfa_token="123456")
    )
    server.assert_done()
    assert page_.saml_response


def test_mfa_at_the_sso_step_of_an_unknown_shape(server: ReplayServer) -> None:
    moved = replace(
        load_exchange("saml_page"),
        response=RecordedResponse(302, {"Location": f"{RECORDED_BASE_URL}/mfa/factor"}, ""),
    )
    factor_page = page("/mfa/factor", 200, "<html><title>Verify it's you</title></html>")
    server.add(*load_exchanges("xsrf", "auth_success"), moved, factor_page)
    with pytest.raises(JumpCloudChangedError, match="after a redirect to /mfa/factor") as caught:
        authenticator(server).authenticate(PasswordCredentials("alice@acme.example", "pw"))
    assert "--record FILE" in str(caught.value)
