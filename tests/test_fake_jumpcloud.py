"""The fake JumpCloud shipped in jcsaml.testing, spoken to over plain HTTP as a client would."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
import trustme
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml.verifier import VerifyResult, XMLVerifier

from jcsaml.testing.authenticator import SoftwareAuthenticator
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import (
    SESSION_COOKIE,
    XSRF_COOKIE,
    FakeApp,
    FakeFactor,
    FakeJumpCloud,
    FakeUser,
)
from jcsaml.webauthn import answer_challenge

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"
RO = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
ADMIN = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdmin"
PROVIDER = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
APP = "acme-prod-aws-admin"
PASSWORD = "correct horse battery staple"
SECRET = pyotp.random_base32()
ALICE = "alice@acme.example"  # TOTP
BOB = "bob@acme.example"  # no MFA
CAROL = "carol@acme.example"  # push
ERIN = "erin@acme.example"  # bound to no app
FRANK = "frank@acme.example"  # no MFA until a test registers a security key
TIMEOUT = 5


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeJumpCloud]:
    users = [
        FakeUser(ALICE, PASSWORD, totp_secret=SECRET, apps=[APP, "cn", "gov", "restricted"]),
        FakeUser(BOB, PASSWORD, apps=[APP]),
        FakeUser(CAROL, PASSWORD, factors=["push"], apps=[APP]),
        FakeUser(ERIN, PASSWORD),
        FakeUser(FRANK, PASSWORD, apps=[APP]),
    ]
    apps = [
        FakeApp(APP, roles=[(RO, PROVIDER), (ADMIN, PROVIDER)], session_duration=7200),
        FakeApp(
            "cn",
            roles=[
                (
                    "arn:aws-cn:iam::012345678987:role/RO",
                    "arn:aws-cn:iam::012345678987:saml-provider/JC",
                )
            ],
        ),
        FakeApp(
            "gov",
            roles=[
                (
                    "arn:aws-us-gov:iam::012345678987:role/RO",
                    "arn:aws-us-gov:iam::012345678987:saml-provider/JC",
                )
            ],
        ),
        FakeApp("restricted", roles=[(RO, PROVIDER)], conditional_access_denied=True),
    ]
    with FakeJumpCloud(users=users, apps=apps, clock=clock, session_lifetime=600) as server:
        yield server
        assert server.errors == []


class Console:
    """A client of the console API: one cookie jar, the xsrf token on every call."""

    def __init__(self, fake: FakeJumpCloud) -> None:
        self.base = fake.url
        self.http = requests.Session()
        answer = self.http.get(f"{self.base}/userconsole/xsrf", timeout=TIMEOUT)
        self.xsrf: str = answer.json()["xsrf"]
        self.headers = {
            "X-Xsrftoken": self.xsrf,
            "Accept": "application/json",
            "X-Requested-With": "XMLHttpRequest",
        }

    def post(self, path: str, body: Any) -> requests.Response:
        return self.http.post(
            self.base + path,
            json=body,
            headers=self.headers,
            timeout=TIMEOUT,
            allow_redirects=False,
        )

    def get(self, path: str) -> requests.Response:
        return self.http.get(
            self.base + path, headers=self.headers, timeout=TIMEOUT, allow_redirects=False
        )

    def auth(self, email: str, password: str = PASSWORD, otp: str = "") -> requests.Response:
        body = {
            "context": "sso",
            "redirectTo": f"saml2/{APP}",
            "email": email,
            "password": password,
            "otp": otp,
        }
        return self.post("/userconsole/auth", body)


def saml_response_of(page: str) -> str | None:
    found = re.search(r'name="SAMLResponse" value="([^"]*)"', page)
    return found.group(1) if found else None


def form_action_of(page: str) -> str | None:
    found = re.search(r'<form method="POST" action="([^"]*)"', page)
    return found.group(1) if found else None


# --- xsrf -------------------------------------------------------------------------------------


def test_xsrf_token_comes_as_body_and_cookie(fake: FakeJumpCloud) -> None:
    console = Console(fake)
    assert console.http.cookies.get(XSRF_COOKIE) == console.xsrf
    assert len(console.xsrf) >= 20


def test_console_calls_need_the_xsrf_header_matching_the_cookie(fake: FakeJumpCloud) -> None:
    console = Console(fake)
    body = {"context": "sso", "email": BOB, "password": PASSWORD, "otp": ""}
    missing = console.http.post(f"{fake.url}/userconsole/auth", json=body, timeout=TIMEOUT)
    wrong = console.http.post(
        f"{fake.url}/userconsole/auth", json=body, headers={"X-Xsrftoken": "x"}, timeout=TIMEOUT
    )
    no_cookie = requests.post(
        f"{fake.url}/userconsole/auth", json=body, headers=console.headers, timeout=TIMEOUT
    )
    for answer in (missing, wrong, no_cookie):
        assert answer.status_code == 403
        assert "XSRF" in answer.json()["message"]
    assert console.auth(BOB).status_code == 200


# --- password and TOTP -----------------------------------------------------------------------


def test_wrong_password_and_unknown_user_get_jumpclouds_message(fake: FakeJumpCloud) -> None:
    console = Console(fake)
    for answer in (console.auth(BOB, password="nope"), console.auth("mallory@acme.example")):
        assert answer.status_code == 401
        assert answer.json() == {"message": "Authentication failed."}
    assert SESSION_COOKIE not in console.http.cookies


def test_password_only_user_signs_in_and_is_sent_to_the_app(fake: FakeJumpCloud) -> None:
    console = Console(fake)
    answer = console.auth(BOB)
    assert answer.status_code == 200
    assert answer.json() == {"redirectTo": fake.app_url(APP)}
    assert console.http.cookies.get(SESSION_COOKIE)
    assert fake.live_sessions(BOB) == 1


def test_mfa_user_is_told_which_factors_exist(fake: FakeJumpCloud) -> None:
    answer = Console(fake).auth(ALICE)
    assert answer.status_code == 401
    assert answer.json() == {
        "factors": [{"type": "totp", "status": "available"}],
        "message": "MFA required.",
    }


def test_factor_list_follows_the_users_factors(clock: Clock) -> None:
    dave = FakeUser(
        "dave@acme.example",
        PASSWORD,
        totp_secret=SECRET,
        factors=[FakeFactor("duo", "unavailable"), "totp", "push"],
    )
    with FakeJumpCloud(users=[dave], apps=[], clock=clock) as fake:
        factors = Console(fake).auth(dave.email).json()["factors"]
    assert factors == [
        {"type": "duo", "status": "unavailable"},
        {"type": "totp", "status": "available"},
        {"type": "push", "status": "available"},
    ]


def test_a_totp_code_signs_in_once(fake: FakeJumpCloud, clock: Clock) -> None:
    code = pyotp.TOTP(SECRET).at(clock())
    first = Console(fake)
    assert first.auth(ALICE, otp=code).json() == {"redirectTo": fake.app_url(APP)}
    assert first.http.cookies.get(SESSION_COOKIE)
    reused = Console(fake).auth(ALICE, otp=code)
    assert reused.status_code == 401
    assert reused.json() == {"message": "Invalid OTP"}


def test_wrong_totp_code_is_rejected_and_a_good_one_still_works(fake: FakeJumpCloud) -> None:
    console = Console(fake)
    good = fake.totp_code(ALICE)
    wrong = "000000" if good != "000000" else "111111"
    assert console.auth(ALICE, otp=wrong).json() == {"message": "Invalid OTP"}
    assert console.auth(ALICE, otp=good).status_code == 200


def test_totp_accepts_the_neighbouring_window_only(fake: FakeJumpCloud, clock: Clock) -> None:
    totp = pyotp.TOTP(SECRET)
    previous = totp.at(clock() - 30)
    two_back = totp.at(clock() - 60)
    if two_back not in (totp.at(clock()), previous, totp.at(clock() + 30)):
        assert Console(fake).auth(ALICE, otp=two_back).status_code == 401
    assert Console(fake).auth(ALICE, otp=previous).status_code == 200


def test_totp_window_follows_the_injected_clock(fake: FakeJumpCloud, clock: Clock) -> None:
    code = fake.totp_code(ALICE)
    clock.advance(300)
    if code != fake.totp_code(ALICE):
        assert Console(fake).auth(ALICE, otp=code).status_code == 401
    assert Console(fake).auth(ALICE, otp=fake.totp_code(ALICE)).status_code == 200


def test_2023_totp_endpoint_after_mfa_required(fake: FakeJumpCloud) -> None:
    console = Console(fake)
    assert console.post("/userconsole/auth/totp", {"otp": fake.totp_code(ALICE)}).status_code == 401
    assert console.auth(ALICE).status_code == 401
    assert console.post("/userconsole/auth/totp", {"otp": "12"}).json() == {
        "message": "Invalid OTP"
    }
    answer = console.post("/userconsole/auth/totp", {"otp": fake.totp_code(ALICE)})
    assert answer.json() == {"redirectTo": fake.app_url(APP)}
    assert console.get("/userconsole/api/self").status_code == 200


# --- the SAML page ----------------------------------------------------------------------------


def signed_in(fake: FakeJumpCloud, email: str = BOB) -> Console:
    console = Console(fake)
    otp = fake.totp_code(email) if email == ALICE else ""
    assert console.auth(email, otp=otp).status_code == 200
    return console


def test_saml_page_posts_a_response_signed_by_the_fake_key(fake: FakeJumpCloud) -> None:
    console = signed_in(fake, ALICE)
    page = console.http.get(fake.app_url(APP), timeout=TIMEOUT)
    assert page.status_code == 200
    assert form_action_of(page.text) == "https://signin.aws.amazon.com/saml"
    assert 'name="RelayState"' in page.text
    encoded = saml_response_of(page.text)
    assert encoded
    result = XMLVerifier().verify(base64.b64decode(encoded), x509_cert=fake.keys.cert_pem.decode())
    assert isinstance(result, VerifyResult)
    verified = result.signed_xml
    assert verified is not None
    assert verified.findtext("saml:Subject/saml:NameID", namespaces=NS) == ALICE
    values = verified.xpath(
        f"//saml:Attribute[@Name='{ROLE_ATTR}']/saml:AttributeValue/text()", namespaces=NS
    )
    assert values == [f"{RO},{PROVIDER}", f"{ADMIN},{PROVIDER}"]
    duration = verified.xpath(
        "//saml:Attribute[contains(@Name, 'SessionDuration')]/saml:AttributeValue/text()",
        namespaces=NS,
    )
    assert duration == ["7200"]
    response = etree.fromstring(base64.b64decode(encoded))
    assert response.get("Destination") == "https://signin.aws.amazon.com/saml"


def test_saml_assertion_is_dated_by_the_injected_clock(fake: FakeJumpCloud, clock: Clock) -> None:
    console = signed_in(fake)
    clock.advance(-86400 * 10)  # the session stays alive: it expires later than this
    page = console.http.get(fake.app_url(APP), timeout=TIMEOUT)
    encoded = saml_response_of(page.text)
    assert encoded
    conditions = etree.fromstring(base64.b64decode(encoded)).find(".//saml:Conditions", NS)
    assert conditions is not None
    expected_day = time.strftime("%Y-%m-%d", time.gmtime(clock()))
    assert (conditions.get("NotBefore") or "").startswith(expected_day)


@pytest.mark.parametrize(
    ("slug", "host"),
    [
        ("cn", "https://signin.amazonaws.cn/saml"),
        ("gov", "https://signin.amazonaws-us-gov.com/saml"),
    ],
)
def test_form_posts_to_the_partitions_signin_host(
    fake: FakeJumpCloud, slug: str, host: str
) -> None:
    page = signed_in(fake, ALICE).http.get(fake.app_url(slug), timeout=TIMEOUT).text
    assert form_action_of(page) == host
    encoded = saml_response_of(page)
    assert encoded
    assert etree.fromstring(base64.b64decode(encoded)).get("Destination") == host


def test_saml_page_without_session_sends_to_the_login_page(fake: FakeJumpCloud) -> None:
    http = requests.Session()
    answer = http.get(fake.app_url(APP), timeout=TIMEOUT, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"{fake.url}/login?")
    followed = http.get(fake.app_url(APP), timeout=TIMEOUT)
    assert followed.status_code == 200
    assert "text/html" in followed.headers["Content-Type"]
    assert saml_response_of(followed.text) is None


def test_user_not_bound_to_the_app_gets_no_saml_response(fake: FakeJumpCloud) -> None:
    page = signed_in(fake, ERIN).http.get(fake.app_url(APP), timeout=TIMEOUT)
    assert page.status_code == 200
    assert "Access Denied" in page.text
    assert saml_response_of(page.text) is None


def test_conditional_access_policy_refuses_the_page(fake: FakeJumpCloud) -> None:
    page = signed_in(fake, ALICE).http.get(fake.app_url("restricted"), timeout=TIMEOUT)
    assert page.status_code == 403
    assert page.headers["Content-Type"].startswith("text/html")
    assert "policy" in page.text
    assert saml_response_of(page.text) is None


def test_unknown_app_is_not_found(fake: FakeJumpCloud) -> None:
    page = signed_in(fake).http.get(fake.app_url("nope"), timeout=TIMEOUT)
    assert page.status_code == 404


def test_metadata_names_the_signing_certificate(fake: FakeJumpCloud) -> None:
    answer = requests.get(f"{fake.app_url(APP)}/metadata", timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.text == fake.metadata_xml(APP)
    assert fake.keys.cert_base64() in answer.text
    assert fake.app_url(APP) in answer.text


def test_given_keys_sign_the_responses(clock: Clock) -> None:
    keys = IdpKeyPair.generate(common_name="Acme JumpCloud")
    user = FakeUser(BOB, PASSWORD, apps=[APP])
    with FakeJumpCloud(
        users=[user],
        apps=[FakeApp(APP, roles=[(RO, PROVIDER)], sign="both")],
        keys=keys,
        clock=clock,
    ) as fake:
        assert fake.keys is keys
        page = signed_in(fake).http.get(fake.app_url(APP), timeout=TIMEOUT).text
    encoded = saml_response_of(page)
    assert encoded
    XMLVerifier().verify(base64.b64decode(encoded), x509_cert=keys.cert_pem.decode())


# --- console API and sessions -----------------------------------------------------------------


def test_api_self_answers_while_the_session_lives(fake: FakeJumpCloud, clock: Clock) -> None:
    console = signed_in(fake, ALICE)
    me = console.get("/userconsole/api/self")
    assert me.status_code == 200
    assert me.json()["email"] == ALICE
    assert me.json()["totp_enabled"] is True
    clock.advance(599)
    assert console.get("/userconsole/api/self").status_code == 200
    clock.advance(2)
    expired = console.get("/userconsole/api/self")
    assert expired.status_code == 401
    assert (
        console.http.get(fake.app_url(APP), timeout=TIMEOUT, allow_redirects=False).status_code
        == 302
    )


def test_api_self_without_session_or_after_server_logout(fake: FakeJumpCloud) -> None:
    assert Console(fake).get("/userconsole/api/self").status_code == 401
    console = signed_in(fake)
    fake.expire_sessions(BOB)
    assert console.get("/userconsole/api/self").status_code == 401


def test_applications_lists_the_users_apps(fake: FakeJumpCloud) -> None:
    apps = signed_in(fake, ALICE).get("/userconsole/api/applications").json()
    assert [app["ssoUrl"] for app in apps] == [
        fake.app_url(APP),
        fake.app_url("cn"),
        fake.app_url("gov"),
        fake.app_url("restricted"),
    ]
    assert {app["sso"]["type"] for app in apps} == {"saml"}
    assert all(app["displayLabel"] for app in apps)
    assert Console(fake).get("/userconsole/api/applications").status_code == 401


# --- push -------------------------------------------------------------------------------------


def start_push(fake: FakeJumpCloud) -> tuple[Console, str]:
    console = Console(fake)
    assert console.auth(CAROL).json()["factors"] == [{"type": "push", "status": "available"}]
    started = console.post("/userconsole/auth/push", {})
    assert started.status_code == 200
    body = started.json()
    assert body["status"] == "pending"
    assert set(body) == {"id", "expiresAt", "initiatedAt", "status", "userId"}
    return console, f"/userconsole/auth/push/{body['id']}"


def test_push_approved_on_the_phone_signs_in(fake: FakeJumpCloud) -> None:
    console, path = start_push(fake)
    assert console.get(path).json()["status"] == "pending"
    assert console.post(f"{path}/login", {}).status_code == 401  # not approved yet

    phone = threading.Thread(target=lambda: fake.push_respond(CAROL, "accepted"))
    assert fake.wait_for_push(CAROL, timeout=2) == path.rsplit("/", 1)[1]
    phone.start()
    phone.join()
    assert console.get(path).json()["status"] == "accepted"
    login = console.post(f"{path}/login", {})
    assert login.json() == {"redirectTo": fake.app_url(APP)}
    assert console.get("/userconsole/api/self").status_code == 200
    assert console.post(f"{path}/login", {}).status_code == 401  # one sign-in per approval


def test_push_denied_on_the_phone(fake: FakeJumpCloud) -> None:
    console, path = start_push(fake)
    fake.push_respond(CAROL, "denied")
    assert console.get(path).json()["status"] == "denied"
    assert console.post(f"{path}/login", {}).status_code == 401
    assert SESSION_COOKIE not in console.http.cookies
    with pytest.raises(LookupError):
        fake.push_respond(CAROL, "accepted")


def test_scripted_push_is_answered_after_some_polls(fake: FakeJumpCloud) -> None:
    fake.script_push(CAROL, "accepted", after_polls=2)
    console, path = start_push(fake)
    statuses = [console.get(path).json()["status"] for _ in range(4)]
    assert statuses == ["pending", "pending", "accepted", "accepted"]
    assert console.post(f"{path}/login", {}).status_code == 200


def test_push_expires_with_the_clock(fake: FakeJumpCloud, clock: Clock) -> None:
    console, path = start_push(fake)
    clock.advance(fake.push_lifetime + 1)
    assert console.get(path).json()["status"] == "expired"
    assert fake.push_status(path.rsplit("/", 1)[1]) == "expired"


def test_push_needs_a_password_first_and_a_push_factor(fake: FakeJumpCloud) -> None:
    assert Console(fake).post("/userconsole/auth/push", {}).status_code == 401
    console = Console(fake)
    console.auth(ALICE)
    assert console.post("/userconsole/auth/push", {}).status_code == 400
    assert console.get("/userconsole/auth/push/000000000000000000000000").status_code == 404


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("500", 500, "application/json"),
        ("502", 502, "text/html"),
        ("503", 503, "text/html"),
        ("504", 504, "text/html"),
        ("429", 429, "application/json"),
        ("html", 200, "text/html"),
    ],
)
def test_injected_fault_answers_once_then_normal(
    fake: FakeJumpCloud, kind: Any, status: int, content_type: str
) -> None:
    fake.inject_fault("/userconsole/xsrf", kind)
    bad = requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert bad.status_code == status
    assert bad.headers["Content-Type"].startswith(content_type)
    assert "xsrf" not in bad.text
    good = requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert good.status_code == 200 and "xsrf" in good.json()
    assert [r.fault for r in fake.requests] == [kind, None]


def test_rate_limit_says_when_to_retry(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/", "429", times=2, retry_after=3)
    answers = [requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"


def test_fault_hits_only_its_path(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/auth", "500")
    console = Console(fake)  # the xsrf call is untouched
    assert console.auth(BOB).status_code == 500
    assert console.auth(BOB).status_code == 200


def test_slow_answer_arrives_late_or_times_the_client_out(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "slow", delay=0.3)
    started = time.monotonic()
    answer = requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 200
    fake.inject_fault("/userconsole/xsrf", "slow", delay=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{fake.url}/userconsole/xsrf", timeout=(TIMEOUT, 0.2))


def test_dropped_connection_gives_no_answer(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "drop")
    http = requests.Session()
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert http.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT).status_code == 200
    assert fake.count("GET", "/userconsole/xsrf") == 2


def test_dripped_answer_is_the_normal_answer_slowly(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "drip", delay=0.001)
    answer = requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.json()["xsrf"]
    assert fake.requests[-1].fault == "drip"


def test_bomb_is_small_on_the_wire_and_huge_decoded(fake: FakeJumpCloud) -> None:
    import zlib

    fake.inject_fault("/userconsole/xsrf", "bomb")
    answer = requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT, stream=True)
    assert answer.headers["Content-Encoding"] == "gzip"
    wire = answer.raw.read(decode_content=False)
    assert len(wire) < 1024 * 1024
    # 4 KiB on the wire already unpack to more than 1 MiB.
    assert len(zlib.decompressobj(31).decompress(wire[:4096], 1 << 20)) == 1 << 20


def test_short_answer_closes_before_its_announced_end(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "short")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
    assert requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT).status_code == 200


def test_redirect_fault_points_at_its_location(fake: FakeJumpCloud) -> None:
    with pytest.raises(ValueError, match="needs a location"):
        fake.inject_fault("/saml2/", "redirect")
    fake.inject_fault("/saml2/", "redirect", location="https://elsewhere.example/x")
    answer = requests.get(fake.app_url(APP), timeout=TIMEOUT, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://elsewhere.example/x"


def test_unknown_fault_kind_is_refused(fake: FakeJumpCloud) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake.inject_fault("/", "418")  # type: ignore[arg-type]


# --- the request log --------------------------------------------------------------------------


def test_request_log_counts_calls_and_never_holds_secrets(fake: FakeJumpCloud) -> None:
    code = fake.totp_code(ALICE)
    console = Console(fake)
    console.auth(ALICE)
    console.auth(ALICE, otp=code)
    console.http.get(fake.app_url(APP), timeout=TIMEOUT)

    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/userconsole/xsrf"),
        ("POST", "/userconsole/auth"),
        ("POST", "/userconsole/auth"),
        ("GET", f"/saml2/{APP}"),
    ]
    assert fake.count("POST", "/userconsole/auth") == 2
    assert fake.count(path_prefix="/saml2/") == 1
    assert fake.requests[1].json["otp"] == ""
    assert fake.requests[2].json == {
        "context": "sso",
        "redirectTo": f"saml2/{APP}",
        "email": ALICE,
        "password": "***",
        "otp": "***",
    }
    assert fake.requests[2].headers["Accept"] == "application/json"
    logged = repr(fake.requests) + repr([r.headers for r in fake.requests])
    session_token = console.http.cookies[SESSION_COOKIE]
    for secret in (PASSWORD, code, session_token):
        assert secret not in logged
    fake.clear_requests()
    assert fake.count() == 0


# --- lifecycle --------------------------------------------------------------------------------


def test_stop_closes_the_port(clock: Clock) -> None:
    fake = FakeJumpCloud(users=[], apps=[], clock=clock).start()
    port = int(fake.url.rsplit(":", 1)[1])
    http = requests.Session()
    http.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)  # leaves a keep-alive connection
    fake.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(RuntimeError):
        _ = fake.url
    fake.stop()  # a second stop is harmless


# --- session reuse ----------------------------------------------------------------------------


def test_a_kept_session_reaches_the_app_in_two_requests(fake: FakeJumpCloud) -> None:
    first = signed_in(fake, ALICE)
    fake.clear_requests()
    # What a client restores from its keyring: the cookie jar and the xsrf token.
    second = requests.Session()
    second.cookies.update(first.http.cookies)
    me = second.get(f"{fake.url}/userconsole/api/self", headers=first.headers, timeout=TIMEOUT)
    page = second.get(fake.app_url(APP), timeout=TIMEOUT, allow_redirects=False)
    assert me.status_code == 200
    assert saml_response_of(page.text)
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/userconsole/api/self"),
        ("GET", f"/saml2/{APP}"),
    ]
    fake.expire_sessions(ALICE)
    gone = second.get(f"{fake.url}/userconsole/api/self", headers=first.headers, timeout=TIMEOUT)
    assert gone.status_code == 401
    assert gone.headers["Content-Type"].startswith("application/json")
    assert gone.json() == {"message": "Unauthorized"}
    assert fake.count() == 3


# --- sign-in refusals -------------------------------------------------------------------------


def test_wrong_password_can_be_answered_with_an_error_key(clock: Clock) -> None:
    users = [FakeUser(BOB, PASSWORD), FakeUser(ALICE, PASSWORD, auth_failure_key="message")]
    with FakeJumpCloud(users=users, apps=[], clock=clock, auth_failure_key="error") as fake:
        console = Console(fake)
        for email in (BOB, "mallory@acme.example"):
            answer = console.auth(email, password="nope")
            assert answer.status_code == 401
            assert answer.json() == {"error": "Authentication failed."}
        assert console.auth(ALICE, password="nope").json() == {"message": "Authentication failed."}


def test_wrong_password_error_key_can_be_chosen_per_user(clock: Clock) -> None:
    users = [FakeUser(BOB, PASSWORD, auth_failure_key="error"), FakeUser(ALICE, PASSWORD)]
    with FakeJumpCloud(users=users, apps=[], clock=clock) as fake:
        console = Console(fake)
        assert console.auth(BOB, password="nope").json() == {"error": "Authentication failed."}
        assert console.auth(ALICE, password="nope").json() == {"message": "Authentication failed."}
        assert console.auth("mallory@acme.example").json() == {"message": "Authentication failed."}


def test_device_trust_policy_refuses_the_sign_in(clock: Clock) -> None:
    user = FakeUser(ALICE, PASSWORD, totp_secret=SECRET, apps=[APP], device_trust_denied=True)
    with FakeJumpCloud(users=[user], apps=[], clock=clock) as fake:
        console = Console(fake)
        assert console.auth(ALICE, password="nope").status_code == 401  # password comes first
        refused = console.auth(ALICE, otp=fake.totp_code(ALICE))
        assert refused.status_code == 403
        assert refused.headers["Content-Type"].startswith("application/json")
        assert "conditional access" in refused.json()["message"]
        assert set(refused.json()) == {"message"}
        assert SESSION_COOKIE not in console.http.cookies
        # No MFA step is open either.
        assert console.post("/userconsole/auth/totp", {"otp": "123456"}).status_code == 401
        assert fake.live_sessions() == 0


# --- HTTPS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server() -> tuple[trustme.CA, ssl.SSLContext]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return ca, context


@pytest.fixture
def tls(
    tls_server: tuple[trustme.CA, ssl.SSLContext],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, ssl.SSLContext]:
    """The CA's certificate in a file, and the server context it signed."""
    # requests lets these override any CA a caller sets: a machine's own bundle must not decide.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    ca, context = tls_server
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return ca_path, context


def test_https_fake_is_trusted_only_with_its_ca(
    tls: tuple[Path, ssl.SSLContext], clock: Clock
) -> None:
    ca_path, context = tls
    user = FakeUser(BOB, PASSWORD, apps=[APP])
    app = FakeApp(APP, roles=[(RO, PROVIDER)])
    with FakeJumpCloud(users=[user], apps=[app], clock=clock, ssl_context=context) as fake:
        assert fake.url.startswith("https://127.0.0.1:")
        assert fake.app_url(APP).startswith("https://")
        assert fake.webauthn_origin == fake.url
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
        http = requests.Session()
        http.verify = str(ca_path)
        xsrf = http.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT).json()["xsrf"]
        body = {"context": "sso", "redirectTo": f"saml2/{APP}", "email": BOB, "password": PASSWORD}
        signed = http.post(
            f"{fake.url}/userconsole/auth",
            json=body,
            headers={"X-Xsrftoken": xsrf},
            timeout=TIMEOUT,
        )
        assert signed.json() == {"redirectTo": f"{fake.url}/saml2/{APP}"}
        assert saml_response_of(http.get(signed.json()["redirectTo"], timeout=TIMEOUT).text)
        logged_out = requests.Session()
        logged_out.verify = str(ca_path)
        redirect = logged_out.get(fake.app_url(APP), timeout=TIMEOUT, allow_redirects=False)
        assert redirect.headers["Location"].startswith(f"{fake.url}/login?")
        # Only the refused handshake went unlogged: it never became a request.
        assert fake.count() == 4


def test_https_fake_honours_requests_ca_bundle(
    tls: tuple[Path, ssl.SSLContext],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca_path, context = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_path))
    with FakeJumpCloud(users=[], apps=[], clock=clock, ssl_context=context) as fake:
        assert requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT).status_code == 200


def test_https_fake_survives_a_client_that_never_finishes_the_handshake(
    tls: tuple[Path, ssl.SSLContext], clock: Clock
) -> None:
    ca_path, context = tls
    with FakeJumpCloud(users=[], apps=[], clock=clock, ssl_context=context) as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
            answer = requests.get(
                f"{fake.url}/userconsole/xsrf", verify=str(ca_path), timeout=TIMEOUT
            )
        assert answer.status_code == 200


# --- WebAuthn ---------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SecurityKey:
    """A hand-made FIDO credential: what an authenticator signs, built step by step so a test can
    get any one part wrong."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def assert_(
        self,
        challenge: str,
        *,
        origin: str,
        rp_id: str,
        flags: int = 0x01,  # user present
        kind: str = "webauthn.get",
        counter: int | None = None,
    ) -> dict[str, Any]:
        if counter is None:
            self.counter += 1
            counter = self.counter
        client_data = json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode()
        authenticator_data = (
            hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + counter.to_bytes(4, "big")
        )
        signature = self.private_key.sign(
            authenticator_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(authenticator_data),
                "signature": b64url(signature),
                "userHandle": None,
            },
        }


def webauthn_console(fake: FakeJumpCloud, email: str = FRANK) -> tuple[Console, dict[str, Any]]:
    """A client past the password step that has fetched a WebAuthn challenge."""
    console = Console(fake)
    assert console.auth(email).status_code == 401
    answer = console.get("/userconsole/auth/webauthn")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return console, body


def assert_with(
    fake: FakeJumpCloud, key: SecurityKey, issued: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    options = issued["publicKey"]
    arguments: dict[str, Any] = {"origin": fake.webauthn_origin, "rp_id": options["rpId"]}
    arguments.update(changes)
    challenge_b64 = arguments.pop("challenge", options["challenge"])
    return {
        "publicKeyCredential": key.assert_(challenge_b64, **arguments),
        "token": issued["token"],
    }


def test_registered_security_key_adds_the_webauthn_factor(fake: FakeJumpCloud) -> None:
    assert Console(fake).auth(FRANK).status_code == 200  # no MFA yet
    fake.register_webauthn(FRANK, SecurityKey().credential_id, SecurityKey().public_key)
    assert Console(fake).auth(FRANK).json() == {
        "factors": [{"type": "webauthn", "status": "available"}],
        "message": "MFA required.",
    }
    fake.register_webauthn(ALICE, SecurityKey().credential_id, SecurityKey().public_key)
    assert Console(fake).auth(ALICE).json()["factors"] == [
        {"type": "totp", "status": "available"},
        {"type": "webauthn", "status": "available"},
    ]


def test_a_listed_webauthn_factor_keeps_its_status() -> None:
    key = SecurityKey()
    user = FakeUser(
        FRANK,
        PASSWORD,
        totp_secret=SECRET,
        factors=[FakeFactor("webauthn", "unavailable"), "totp"],
        webauthn_keys={key.credential_id: key.public_key},
    )
    assert user.mfa_factors() == [FakeFactor("webauthn", "unavailable"), FakeFactor("totp")]
    assert not user.has_factor("webauthn")


def test_webauthn_challenge_names_every_registered_key(fake: FakeJumpCloud) -> None:
    keys = [SecurityKey(), SecurityKey()]
    for key in keys:
        fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    _, challenge = webauthn_console(fake)
    assert set(challenge) == {"publicKey", "token"}
    options = challenge["publicKey"]
    assert len(unb64url(options["challenge"])) == 32
    assert "=" not in options["challenge"]
    assert options["rpId"] == "127.0.0.1" == fake.webauthn_rp_id
    assert options["allowCredentials"] == [
        {"type": "public-key", "id": b64url(key.credential_id)} for key in keys
    ]
    assert options["timeout"] == 60000
    assert options["userVerification"] == "discouraged"
    assert challenge["token"]
    _, again = webauthn_console(fake)
    assert again["publicKey"]["challenge"] != options["challenge"]
    assert again["token"] != challenge["token"]


def test_webauthn_challenge_needs_the_password_step_and_a_key(fake: FakeJumpCloud) -> None:
    assert Console(fake).get("/userconsole/auth/webauthn").status_code == 401
    console = Console(fake)
    console.auth(ALICE)
    assert console.get("/userconsole/auth/webauthn").status_code == 400
    assert console.post("/userconsole/auth/webauthn", {"token": "x"}).status_code == 401


def test_webauthn_assertion_with_any_allowed_key_signs_in(fake: FakeJumpCloud) -> None:
    first, second = SecurityKey(), SecurityKey()
    fake.register_webauthn(FRANK, first.credential_id, first.public_key)
    fake.register_webauthn(FRANK, second.credential_id, second.public_key)
    console, challenge = webauthn_console(fake)
    answer = console.post("/userconsole/auth/webauthn", assert_with(fake, second, challenge))
    assert answer.status_code == 200, fake.webauthn_failures
    assert answer.json() == {"redirectTo": fake.app_url(APP)}
    assert console.http.cookies.get(SESSION_COOKIE)
    assert console.get("/userconsole/api/self").status_code == 200
    assert saml_response_of(console.http.get(fake.app_url(APP), timeout=TIMEOUT).text)


def test_webauthn_challenge_and_token_are_single_use(fake: FakeJumpCloud) -> None:
    key = SecurityKey()
    fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    console, challenge = webauthn_console(fake)
    body = assert_with(fake, key, challenge)
    wrong = assert_with(fake, key, challenge, origin="https://evil.example")
    refused = console.post("/userconsole/auth/webauthn", wrong)
    assert refused.status_code == 401
    # The refusal spent the challenge: the good assertion for it no longer works.
    assert console.post("/userconsole/auth/webauthn", body).status_code == 401
    console, challenge = webauthn_console(fake)
    body = assert_with(fake, key, challenge)
    assert console.post("/userconsole/auth/webauthn", body).status_code == 200
    replay = Console(fake)
    replay.auth(FRANK)
    assert replay.post("/userconsole/auth/webauthn", body).status_code == 401
    assert fake.live_sessions(FRANK) == 1


def test_webauthn_token_belongs_to_the_client_that_fetched_it(fake: FakeJumpCloud) -> None:
    key = SecurityKey()
    fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    _, challenge = webauthn_console(fake)
    other = Console(fake)
    other.auth(FRANK)
    assert other.post("/userconsole/auth/webauthn", assert_with(fake, key, challenge)).json() == {
        "message": "WebAuthn verification failed."
    }


@pytest.mark.parametrize(
    "change",
    [
        {"origin": "https://console.jumpcloud.com"},
        {"rp_id": "jumpcloud.com"},
        {"challenge": b64url(b"\0" * 32)},
        {"kind": "webauthn.create"},
        {"flags": 0x00},  # the user was not present
    ],
    ids=["origin", "rp-id", "challenge", "type", "user-presence"],
)
def test_webauthn_refuses_an_assertion_made_for_something_else(
    fake: FakeJumpCloud, change: dict[str, Any]
) -> None:
    key = SecurityKey()
    fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    console, challenge = webauthn_console(fake)
    answer = console.post("/userconsole/auth/webauthn", assert_with(fake, key, challenge, **change))
    assert answer.status_code == 401
    assert answer.json() == {"message": "WebAuthn verification failed."}
    assert len(fake.webauthn_failures) == 1
    assert SESSION_COOKIE not in console.http.cookies


def test_webauthn_refuses_an_unregistered_key_and_a_forged_signature(fake: FakeJumpCloud) -> None:
    key, stranger = SecurityKey(), SecurityKey()
    fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    console, challenge = webauthn_console(fake)
    unknown = assert_with(fake, stranger, challenge)
    assert console.post("/userconsole/auth/webauthn", unknown).status_code == 401
    console, challenge = webauthn_console(fake)
    forged = assert_with(fake, key, challenge)
    # Same credential id, signed by another private key.
    impostor = SecurityKey()
    impostor.credential_id = key.credential_id
    forged["publicKeyCredential"]["response"]["signature"] = assert_with(fake, impostor, challenge)[
        "publicKeyCredential"
    ]["response"]["signature"]
    assert console.post("/userconsole/auth/webauthn", forged).status_code == 401
    assert len(fake.webauthn_failures) == 2
    assert fake.live_sessions(FRANK) == 0


def test_webauthn_challenge_expires_after_its_timeout(fake: FakeJumpCloud, clock: Clock) -> None:
    key = SecurityKey()
    fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    console, challenge = webauthn_console(fake)
    clock.advance(61)
    answer = console.post("/userconsole/auth/webauthn", assert_with(fake, key, challenge))
    assert answer.status_code == 401
    assert fake.webauthn_failures == ["challenge expired"]


def test_webauthn_origin_and_rp_id_can_be_set(clock: Clock) -> None:
    key = SecurityKey()
    user = FakeUser(FRANK, PASSWORD, apps=[APP], webauthn_keys={key.credential_id: key.public_key})
    with FakeJumpCloud(
        users=[user],
        apps=[],
        clock=clock,
        webauthn_origin="https://console.jumpcloud.com",
        webauthn_rp_id="jumpcloud.com",
    ) as fake:
        assert fake.webauthn_origin == "https://console.jumpcloud.com"
        console, challenge = webauthn_console(fake)
        assert challenge["publicKey"]["rpId"] == "jumpcloud.com"
        own_origin = assert_with(fake, key, challenge, origin=fake.url)
        assert console.post("/userconsole/auth/webauthn", own_origin).status_code == 401
        console, challenge = webauthn_console(fake)
        answer = console.post("/userconsole/auth/webauthn", assert_with(fake, key, challenge))
        assert answer.status_code == 200, fake.webauthn_failures


def test_webauthn_user_verification_can_be_required(clock: Clock) -> None:
    key = SecurityKey()
    user = FakeUser(FRANK, PASSWORD, webauthn_keys={key.credential_id: key.public_key})
    with FakeJumpCloud(
        users=[user], apps=[], clock=clock, webauthn_user_verification="required"
    ) as fake:
        console, challenge = webauthn_console(fake)
        assert challenge["publicKey"]["userVerification"] == "required"
        present_only = assert_with(fake, key, challenge, flags=0x01)
        assert console.post("/userconsole/auth/webauthn", present_only).status_code == 401
        console, challenge = webauthn_console(fake)
        verified = assert_with(fake, key, challenge, flags=0x05)  # user present and verified
        assert console.post("/userconsole/auth/webauthn", verified).status_code == 200


def test_webauthn_request_log_masks_the_signature(fake: FakeJumpCloud) -> None:
    key = SecurityKey()
    fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    console, challenge = webauthn_console(fake)
    body = assert_with(fake, key, challenge)
    assert console.post("/userconsole/auth/webauthn", body).status_code == 200
    logged = fake.requests[-1]
    assert (logged.method, logged.path) == ("POST", "/userconsole/auth/webauthn")
    response = logged.json["publicKeyCredential"]["response"]
    assert response["signature"] == "***"
    assert response["clientDataJSON"] == body["publicKeyCredential"]["response"]["clientDataJSON"]
    assert body["publicKeyCredential"]["response"]["signature"] not in repr(fake.requests)


def test_webauthn_refuses_a_signature_counter_that_did_not_move(fake: FakeJumpCloud) -> None:
    key = SecurityKey()
    fake.register_webauthn(FRANK, key.credential_id, key.public_key)
    console, challenge = webauthn_console(fake)
    assert console.post("/userconsole/auth/webauthn", assert_with(fake, key, challenge)).ok
    clone, challenge = webauthn_console(fake)
    copied = assert_with(fake, key, challenge, counter=key.counter)
    assert clone.post("/userconsole/auth/webauthn", copied).status_code == 401
    assert "counter" in fake.webauthn_failures[0]


def test_software_authenticator_signs_in_through_the_client_helpers(fake: FakeJumpCloud) -> None:
    spare, used = SoftwareAuthenticator(name="spare"), SoftwareAuthenticator(name="used")
    for device in (spare, used):
        fake.register_webauthn(FRANK, *device.register(fake.webauthn_rp_id))
    for _ in range(2):  # the counter moves on, so the same key signs in again
        console, challenge = webauthn_console(fake)
        body = answer_challenge(challenge, device=used, console_url=fake.url)
        answer = console.post("/userconsole/auth/webauthn", body)
        assert answer.status_code == 200, fake.webauthn_failures
        assert answer.json() == {"redirectTo": fake.app_url(APP)}
    assert (spare.touched, used.touched) == (0, 2)
    assert fake.live_sessions(FRANK) == 2


def test_software_authenticator_over_https(tls: tuple[Path, ssl.SSLContext], clock: Clock) -> None:
    ca_path, context = tls
    device = SoftwareAuthenticator(verifies_user=True)
    user = FakeUser(FRANK, PASSWORD, apps=[APP])
    with FakeJumpCloud(
        users=[user],
        apps=[],
        clock=clock,
        ssl_context=context,
        webauthn_user_verification="required",
    ) as fake:
        fake.register_webauthn(FRANK, *device.register(fake.webauthn_rp_id))
        http = requests.Session()
        http.verify = str(ca_path)
        xsrf = http.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT).json()["xsrf"]
        headers = {"X-Xsrftoken": xsrf}
        body = {"context": "sso", "email": FRANK, "password": PASSWORD, "otp": ""}
        mfa = http.post(f"{fake.url}/userconsole/auth", json=body, headers=headers, timeout=TIMEOUT)
        assert mfa.json()["factors"] == [{"type": "webauthn", "status": "available"}]
        url = f"{fake.url}/userconsole/auth/webauthn"
        challenge = http.get(url, headers=headers, timeout=TIMEOUT).json()
        signed = answer_challenge(challenge, device=device, console_url=fake.url)
        answer = http.post(url, json=signed, headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 200, fake.webauthn_failures
        assert http.cookies.get(SESSION_COOKIE)


def test_stop_closes_an_https_fake_with_open_connections(
    tls: tuple[Path, ssl.SSLContext], clock: Clock
) -> None:
    ca_path, context = tls
    fake = FakeJumpCloud(users=[], apps=[], clock=clock, ssl_context=context).start()
    port = int(fake.url.rsplit(":", 1)[1])
    http = requests.Session()
    http.verify = str(ca_path)
    http.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)  # leaves a keep-alive connection
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"https://127.0.0.1:{port}/userconsole/xsrf", timeout=TIMEOUT)


def test_latency_holds_every_answer_at_least_that_long(clock: Clock) -> None:
    # A lower bound only: the wait is a sleep, so the answer can never come sooner.
    with FakeJumpCloud(users=[], apps=[], clock=clock, latency=0.2) as fake:
        started = time.monotonic()
        answer = requests.get(f"{fake.url}/userconsole/xsrf", timeout=TIMEOUT)
        assert time.monotonic() - started >= 0.2
        assert answer.status_code == 200
        assert fake.count("GET", "/userconsole/xsrf") == 1
    with pytest.raises(ValueError, match="latency"):
        FakeJumpCloud(users=[], apps=[], latency=-1)


def test_the_bomb_is_one_valid_gzip_stream_of_its_announced_size() -> None:
    import zlib

    from jcsaml.testing.jumpcloud import BOMB_DECODED_BYTES, _gzip_bomb

    decoder = zlib.decompressobj(31)
    rest, total = _gzip_bomb(), 0
    while rest:
        total += len(decoder.decompress(rest, 1 << 24))
        rest = decoder.unconsumed_tail
    total += len(decoder.flush())
    assert decoder.eof and decoder.unused_data == b""  # the trailer's CRC and size checked
    assert total == BOMB_DECODED_BYTES
