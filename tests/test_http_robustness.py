"""Retries, backoff and timeouts of the JumpCloud client under injected faults (request counts
asserted), and the clear messages for transport failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jcsaml.errors import (
    AuthenticationFailedError,
    IdpProtocolError,
    IdpRateLimitedError,
    IdpServerError,
    IdpUnavailableError,
)
from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser

PRINCIPAL = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
ROLE = "arn:aws:iam::012345678987:role/ReadOnly"


@pytest.fixture
def fake() -> Iterator[FakeJumpCloud]:
    user = FakeUser(email="u@acme.example", password="pw", apps=["aws"])
    with FakeJumpCloud(users=[user], apps=[FakeApp(slug="aws", roles=[(ROLE, PRINCIPAL)])]) as f:
        yield f


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client(fake: FakeJumpCloud, sleeps: Sleeps, **kwargs: float) -> JumpCloudAuthenticator:
    return JumpCloudAuthenticator(
        app_url=fake.app_url("aws"),
        console_url=fake.url,
        prompter=ScriptedPrompter(),
        sleep=sleeps,
        **kwargs,  # type: ignore[arg-type]
    )


def sign_in(auth: JumpCloudAuthenticator) -> None:
    auth.authenticate(PasswordCredentials("u@acme.example", "pw"))


@pytest.mark.parametrize("kind", ["502", "503", "504"])
def test_gets_are_retried_with_backoff_on_gateway_errors(fake: FakeJumpCloud, kind: str) -> None:
    fake.inject_fault("/userconsole/xsrf", kind, times=2)  # type: ignore[arg-type]
    sleeps = Sleeps()
    sign_in(client(fake, sleeps))
    assert fake.count("GET", "/userconsole/xsrf") == 3
    assert sleeps.delays == [0.5, 1.0]


def test_gets_give_up_after_three_attempts(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "503", times=10)
    sleeps = Sleeps()
    with pytest.raises(IdpServerError, match="HTTP 503"):
        sign_in(client(fake, sleeps))
    assert fake.count("GET", "/userconsole/xsrf") == 3


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(7, 7.0), (3600, 30.0)], ids=["honoured", "huge-is-capped"]
)
def test_429_honours_retry_after(fake: FakeJumpCloud, retry_after: int, delay: float) -> None:
    fake.inject_fault("/userconsole/xsrf", "429", times=1, retry_after=retry_after)
    sleeps = Sleeps()
    sign_in(client(fake, sleeps))
    assert sleeps.delays == [delay]
    assert fake.count("GET", "/userconsole/xsrf") == 2


def test_dropped_connections_on_a_get_are_retried(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "drop", times=1)
    sleeps = Sleeps()
    sign_in(client(fake, sleeps))
    assert fake.count("GET", "/userconsole/xsrf") == 2
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize("kind", ["503", "drop", "429"])
def test_a_post_is_never_retried(fake: FakeJumpCloud, kind: str) -> None:
    fake.inject_fault("/userconsole/auth", kind, times=1)  # type: ignore[arg-type]
    sleeps = Sleeps()
    with pytest.raises((IdpServerError, IdpRateLimitedError, IdpUnavailableError)):
        sign_in(client(fake, sleeps))
    assert fake.count("POST", "/userconsole/auth") == 1
    assert sleeps.delays == []


def test_the_saml_page_get_is_retried_too(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/saml2/aws", "502", times=1)
    sleeps = Sleeps()
    sign_in(client(fake, sleeps))
    assert fake.count("GET", "/saml2/aws") == 2


def test_slow_answers_time_out_with_the_configured_timeout(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/auth", "slow", delay=2)
    with pytest.raises(IdpUnavailableError, match=r"no answer within 0\.5 s"):
        sign_in(client(fake, Sleeps(), http_timeout=0.5))
    assert fake.count("POST", "/userconsole/auth") == 1


def test_html_instead_of_json_is_named(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/auth", "html")
    with pytest.raises(IdpProtocolError, match="expected JSON, got text/html"):
        sign_in(client(fake, Sleeps()))


def test_transport_failures_get_their_own_messages() -> None:
    # Built from the exceptions requests raises, so no lookup ever leaves this machine.
    import requests

    from jcsaml.jumpcloud import JumpCloudAuthenticator, _transport_error

    url = "https://sso.acme.example/saml2/aws"
    auth = JumpCloudAuthenticator(
        app_url=url, console_url="https://console.acme.example", prompter=ScriptedPrompter()
    )

    def unresolvable(host: str) -> Exception:
        return requests.exceptions.ConnectionError(
            f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded "
            f"(Caused by NameResolutionError: Failed to resolve '{host}')"
        )

    app = str(auth._transport_error(url, unresolvable("sso.acme.example")))
    assert app == (
        "cannot resolve the host name sso.acme.example (from the account's url setting); "
        "check url and your DNS or VPN (jcsaml doctor tests both)"
    )
    console_url = "https://console.acme.example/userconsole/xsrf"
    console = str(auth._transport_error(console_url, unresolvable("console.acme.example")))
    assert "console.acme.example (from the account's console_url setting)" in console
    assert console.count("check") == 1  # one hint
    tls = requests.exceptions.SSLError("certificate verify failed")
    assert "REQUESTS_CA_BUNDLE" in str(_transport_error(url, tls))
    proxy = requests.exceptions.ProxyError("Unable to connect to proxy")
    assert "HTTPS_PROXY" in str(_transport_error(url, proxy))


def test_jumpclouds_own_failure_message_is_shown(fake: FakeJumpCloud) -> None:
    with pytest.raises(AuthenticationFailedError, match="Authentication failed"):
        client(fake, Sleeps()).authenticate(PasswordCredentials("u@acme.example", "wrong"))
