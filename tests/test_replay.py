"""Recorded JumpCloud exchanges and the server that replays them, Stubber style."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from signxml.verifier import VerifyResult, XMLVerifier

from jcsaml.testing.replay import (
    DEFAULT_FIXTURES_DIR,
    RECORDED_BASE_URL,
    RECORDING_PASSWORD,
    Exchange,
    ReplayServer,
    load_exchange,
    load_exchanges,
    record_fixtures,
    save_exchange,
)

TIMEOUT = 5
ALICE = "alice@acme.example"
APP = "acme-prod-aws-admin"
BROWSER_API = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}


def auth_body(otp: str = "") -> dict[str, str]:
    return {
        "context": "sso",
        "redirectTo": f"saml2/{APP}",
        "email": ALICE,
        "password": "whatever the test uses",
        "otp": otp,
    }


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def xsrf_headers(http: requests.Session, base: str) -> dict[str, str]:
    token = http.get(f"{base}/userconsole/xsrf", headers=BROWSER_API, timeout=TIMEOUT).json()
    return {**BROWSER_API, "X-Xsrftoken": token["xsrf"]}


def test_a_recorded_totp_sign_in_replays_end_to_end(replay: ReplayServer) -> None:
    replay.add(
        *load_exchanges("xsrf", "auth_mfa_required", "auth_totp_success", "saml_page", "api_self")
    )
    http = requests.Session()
    headers = xsrf_headers(http, replay.url)
    first = http.post(
        f"{replay.url}/userconsole/auth", json=auth_body(), headers=headers, timeout=TIMEOUT
    )
    assert first.status_code == 401 and first.json()["message"] == "MFA required."
    second = http.post(
        f"{replay.url}/userconsole/auth", json=auth_body("123456"), headers=headers, timeout=TIMEOUT
    )
    redirect = second.json()["redirectTo"]
    assert redirect == f"{replay.url}/saml2/{APP}"  # the recording host became the replay's
    page = http.get(redirect, timeout=TIMEOUT)
    assert "SAMLResponse" in page.text
    assert (
        http.get(f"{replay.url}/userconsole/api/self", headers=headers, timeout=TIMEOUT).json()[
            "email"
        ]
        == ALICE
    )
    replay.assert_done()
    assert [e.name for e in replay.served][-1] == "api_self"


def test_recorded_saml_response_verifies_against_the_stored_certificate() -> None:
    page = load_exchange("saml_page").response.body
    found = re.search(r'name="SAMLResponse" value="([^"]+)"', page)
    assert found
    cert = (DEFAULT_FIXTURES_DIR / "idp_cert.pem").read_text()
    result = XMLVerifier().verify(base64.b64decode(found.group(1)), x509_cert=cert)
    assert isinstance(result, VerifyResult)
    assert b"AcmeJumpCloudAdminRO" in base64.b64decode(found.group(1))


def test_redirects_point_back_at_the_replay_server(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("saml_login_redirect", "login_page"))
    page = requests.get(f"{replay.url}/saml2/{APP}", timeout=TIMEOUT)
    assert page.status_code == 200
    assert "SAMLResponse" not in page.text
    assert page.history[0].headers["Location"].startswith(f"{replay.url}/login?")
    replay.assert_done()


def test_recorded_headers_come_back(replay: ReplayServer) -> None:
    replay.add(load_exchange("rate_limited"), load_exchange("xsrf"))
    http = requests.Session()
    limited = http.get(f"{replay.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    http.get(f"{replay.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert http.cookies["_xsrf"] == load_exchange("xsrf").response.json()["xsrf"]
    replay.assert_done()


@pytest.mark.parametrize(
    ("method", "path", "body", "reason"),
    [
        ("GET", "/userconsole/auth", None, "expected POST /userconsole/auth"),
        ("POST", "/userconsole/auth/totp", auth_body(), "expected POST /userconsole/auth"),
        ("POST", "/userconsole/auth", {"email": ALICE, "password": "x"}, "lacks context, otp"),
    ],
)
def test_a_request_that_does_not_match_gets_599_and_fails_assert_done(
    replay: ReplayServer, method: str, path: str, body: dict[str, str] | None, reason: str
) -> None:
    xsrf, auth = load_exchanges("xsrf", "auth_failed")
    replay.add(auth)
    headers = {**BROWSER_API, "X-Xsrftoken": xsrf.response.json()["xsrf"]}
    answer = requests.request(
        method, replay.url + path, json=body, headers=headers, timeout=TIMEOUT
    )
    assert answer.status_code == 599
    assert reason in answer.json()["message"]
    with pytest.raises(AssertionError, match=reason):
        replay.assert_done()
    assert replay.pending == [auth]  # a mismatch does not use up the expectation


def test_a_missing_xsrf_header_is_a_mismatch(replay: ReplayServer) -> None:
    replay.add(load_exchange("auth_failed"))
    answer = requests.post(f"{replay.url}/userconsole/auth", json=auth_body(), timeout=TIMEOUT)
    assert answer.status_code == 599
    assert replay.mismatches == ["POST /userconsole/auth: header X-Xsrftoken is missing or differs"]


def test_leftover_expectations_fail_assert_done(replay: ReplayServer) -> None:
    replay.add(*load_exchanges("xsrf", "auth_success"))
    requests.get(f"{replay.url}/userconsole/xsrf", timeout=TIMEOUT)
    with pytest.raises(
        AssertionError, match=r"not requested: auth_success \(POST /userconsole/auth\)"
    ):
        replay.assert_done()


def test_a_request_after_the_last_exchange_is_unexpected(replay: ReplayServer) -> None:
    replay.add(load_exchange("xsrf"))
    http = requests.Session()
    assert http.get(f"{replay.url}/userconsole/xsrf", timeout=TIMEOUT).status_code == 200
    assert http.get(f"{replay.url}/userconsole/xsrf", timeout=TIMEOUT).status_code == 599
    with pytest.raises(AssertionError, match="unexpected GET /userconsole/xsrf"):
        replay.assert_done()
    assert replay.received == [("GET", "/userconsole/xsrf")] * 2


def test_exchanges_load_from_another_directory(tmp_path: Path) -> None:
    exchange = Exchange.from_dict(
        {
            "request": {"method": "GET", "path": "/userconsole/api/self"},
            "response": {"status": 401, "headers": {}, "body": '{"message": "Unauthorized"}'},
        },
        name="custom",
    )
    save_exchange(exchange, tmp_path)
    loaded = load_exchange("custom.json", fixtures_dir=tmp_path)
    assert loaded == exchange
    assert loaded.response.json() == {"message": "Unauthorized"}
    with pytest.raises(FileNotFoundError, match="fixtures_dir"):
        load_exchange("xsrf", fixtures_dir=tmp_path / "missing")


def test_every_fixture_is_well_formed_and_holds_no_secret() -> None:
    names = sorted(p.stem for p in DEFAULT_FIXTURES_DIR.glob("*.json"))
    assert {
        "xsrf",
        "auth_success",
        "auth_failed",
        "auth_mfa_required",
        "auth_totp_rejected",
    } <= set(names)
    for name in names:
        text = (DEFAULT_FIXTURES_DIR / f"{name}.json").read_text()
        assert RECORDING_PASSWORD not in text, name
        exchange = load_exchange(name)
        if exchange.response.headers.get("Content-Type", "").startswith("application/json"):
            exchange.response.json()  # parses
        if exchange.request.json and "password" in exchange.request.json:
            assert exchange.request.json["password"] == "***"
        assert "127.0.0.1" not in text, name  # the recording host is replaced by a placeholder
    assert RECORDED_BASE_URL in load_exchange("auth_success").response.body


def test_fixtures_match_what_the_fake_answers_today(tmp_path: Path) -> None:
    """Recording again gives the same steps, statuses and JSON shapes: the fixtures have not
    drifted from the fake (tokens, ids and signatures differ on every recording)."""
    directory = tmp_path / "fixtures"
    record_fixtures(directory)
    fresh = sorted(p.name for p in directory.iterdir())
    assert fresh == sorted(
        p.name for p in DEFAULT_FIXTURES_DIR.iterdir() if p.suffix in (".json", ".pem")
    )
    push_id = re.compile(r"/push/[0-9a-f]{24}")
    for path in directory.glob("*.json"):
        now, kept = load_exchange(path.stem, fixtures_dir=directory), load_exchange(path.stem)
        assert push_id.sub("/push/ID", now.request.path) == push_id.sub(
            "/push/ID", kept.request.path
        )
        assert now.request.method == kept.request.method
        assert now.request.json == kept.request.json
        assert now.response.status == kept.response.status, path.stem
        assert set(now.response.headers) == set(kept.response.headers), path.stem
        if kept.response.headers.get("Content-Type", "").startswith("application/json"):
            assert _shape(now.response.json()) == _shape(kept.response.json()), path.stem
        else:
            assert ("SAMLResponse" in now.response.body) == ("SAMLResponse" in kept.response.body)


def _shape(value: object) -> object:
    """The JSON structure without the values that change per recording."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_fixture_files_are_plain_json_objects() -> None:
    raw = json.loads((DEFAULT_FIXTURES_DIR / "auth_mfa_required.json").read_text())
    assert set(raw) == {"request", "response"}
    assert set(raw["response"]) == {"status", "headers", "body"}
    assert json.loads(raw["response"]["body"])["factors"] == [
        {"type": "duo", "status": "unavailable"},
        {"type": "totp", "status": "available"},
    ]
