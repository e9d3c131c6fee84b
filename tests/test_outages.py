"""JumpCloud down, slow or rate limiting while credentials are renewed: the saved session is kept
and reused once it is back, and the credentials endpoint keeps serving what it holds. Against the
fake JumpCloud (its fault switch) and moto's STS, with a clock the tests move."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

import jcsaml
from jcsaml.credential_server import CredentialServer
from jcsaml.credential_source import ProfileCache, default_source
from jcsaml.credentials_file import MemoryCredentialsStore
from jcsaml.errors import SessionKeptError, SignInRequiredError
from jcsaml.secret_store import session_key
from tests.world import EMAIL, PASSWORD, SESSION_REUSE, SLUG, Clock, Signed, fetch

SELF = "/userconsole/api/self"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def saved_session(signed: Signed) -> str | None:
    return signed.secrets.get(session_key(signed.account, EMAIL))


def empty_cache() -> ProfileCache:
    return ProfileCache(MemoryCredentialsStore(), "production")


@pytest.mark.parametrize("status", ["503", "429", "500"])
def test_the_library_keeps_the_session_through_an_outage_and_recovers_without_asking(
    signed: Signed, status: str
) -> None:
    kept = saved_session(signed)
    assert kept is not None
    signed.jumpcloud.fault_switch(SELF, status)  # type: ignore[arg-type]
    for _ in range(2):  # every call tries again: a failure is not remembered
        with pytest.raises(SessionKeptError) as failed:
            jcsaml.credentials(
                signed.account, secrets=signed.secrets, cache=empty_cache(), environ={}
            )
        assert str(failed.value) == (
            f"JumpCloud is unavailable (HTTP {status} at {SELF}); the saved session is kept; "
            "try again"
        )
        assert saved_session(signed) == kept
    assert signed.jumpcloud.count("POST") == 0  # never a password
    signed.jumpcloud.fault_switch(SELF, None)
    signed.jumpcloud.clear_requests()
    again = jcsaml.credentials(
        signed.account, secrets=signed.secrets, cache=empty_cache(), environ={}
    )
    assert again.access_key_id != signed.first.access_key_id
    assert signed.requests() == SESSION_REUSE


def test_a_401_forgets_the_session(signed: Signed) -> None:
    signed.jumpcloud.fault_switch(SELF, "401")
    with pytest.raises(SignInRequiredError):
        jcsaml.credentials(signed.account, secrets=signed.secrets, cache=empty_cache(), environ={})
    assert saved_session(signed) is None


def test_a_session_the_sso_step_sends_to_sign_in_is_replaced(signed: Signed) -> None:
    """JumpCloud says the console session is alive, yet the application's page sends the
    browser to the sign-in page: the session is forgotten and a sign-in asked for, rather than
    an error that sends the person to an administrator."""
    kept = saved_session(signed)
    to_sign_in = f"{signed.jumpcloud.url}/login?context=sso"
    signed.jumpcloud.inject_fault(f"/saml2/{SLUG}", "redirect", location=to_sign_in)
    with pytest.raises(SignInRequiredError):
        jcsaml.credentials(signed.account, secrets=signed.secrets, cache=empty_cache(), environ={})
    assert saved_session(signed) is None
    again = jcsaml.login(signed.account, password=PASSWORD, secrets=signed.secrets, environ={})
    assert again.access_key_id != signed.first.access_key_id
    assert saved_session(signed) not in (None, kept)
    assert signed.jumpcloud.count("POST") == 1  # the password, once


def test_a_failing_saml_page_keeps_the_session_too(signed: Signed) -> None:
    kept = saved_session(signed)
    signed.jumpcloud.fault_switch(f"/saml2/{SLUG}", "502")
    with pytest.raises(SessionKeptError, match=r"HTTP 502 at /saml2/"):
        jcsaml.credentials(signed.account, secrets=signed.secrets, cache=empty_cache(), environ={})
    assert saved_session(signed) == kept


@pytest.mark.parametrize("stall", ["hang", "drip"])
def test_the_endpoint_serves_what_it_holds_while_jumpcloud_stalls_or_is_down(
    signed: Signed, stall: str
) -> None:
    """The held credentials have 14 minutes left (the SDKs want new ones) while JumpCloud first
    hangs or drips its answer, then answers 503: every request is answered with them. Once
    JumpCloud is back, it renews them and stops, and the new credentials are served."""
    clock = Clock()
    # A dripping answer holds the renewal until http_timeout: a short one keeps the test short.
    account = dataclasses.replace(signed.account, http_timeout=3)
    source = default_source(
        account, secrets=signed.secrets, cache=signed.cache, clock=clock, environ={}
    )
    reports: list[str] = []
    with CredentialServer(
        source, clock=clock, report=lambda e: reports.append(str(e)), retry_delays=(0.2,)
    ) as server:
        first = fetch(server)["AccessKeyId"]
        signed.jumpcloud.fault_switch(SELF, stall)  # type: ignore[arg-type]
        clock.advance(minutes=11)
        # botocore's fetcher gives up after its own 2-second timeout: a stalled answer fails.
        assert fetch(server)["AccessKeyId"] == first  # and it starts the renewal
        wait_for(lambda: signed.jumpcloud.count("GET", SELF) >= 1, "the renewal to stall")
        for _ in range(20):
            assert fetch(server)["AccessKeyId"] == first
        signed.jumpcloud.fault_switch(SELF, "503")  # the hung request ends; JumpCloud is down
        wait_for(lambda: isinstance(server.last_error, SessionKeptError), "a failed renewal")
        for _ in range(20):
            assert fetch(server)["AccessKeyId"] == first
        signed.jumpcloud.clear_faults()
        signed.jumpcloud.clear_requests()
        wait_for(lambda: fetch(server)["AccessKeyId"] != first, "the renewal after recovery")
        renewed = fetch(server)["AccessKeyId"]
        for _ in range(5):
            assert fetch(server)["AccessKeyId"] == renewed
        renewals = signed.requests()
        time.sleep(1.2)  # past the renewal loop's shortest wait: it has stopped renewing
        assert signed.requests() == renewals
    # Through the saved session, no password: usually one renewal, but a loaded machine may miss
    # the short http_timeout once more after the recovery, and the loop then tries again.
    assert renewals[-2:] == SESSION_REUSE and set(renewals) <= set(SESSION_REUSE)
    assert reports == []  # the command never went without valid credentials


def test_the_endpoint_answers_the_outage_once_the_held_credentials_expire(
    signed: Signed,
) -> None:
    clock = Clock()
    source = default_source(
        signed.account, secrets=signed.secrets, cache=signed.cache, clock=clock, environ={}
    )
    with CredentialServer(source, clock=clock, retry_delays=(0.2,)) as server:
        fetch(server)
        signed.jumpcloud.fault_switch(SELF, "503")
        clock.advance(minutes=26)  # expired
        request = urllib.request.Request(server.url, headers={"Authorization": server.token})
        for _ in range(100):  # as an SDK does, asking again while the renewal is under way
            with pytest.raises(urllib.error.HTTPError) as failed:
                urllib.request.urlopen(request, timeout=30)
            body = json.loads(failed.value.read())
            if failed.value.code != 503:
                break
            assert "renewing" in body["Message"]
        assert failed.value.code == 500
        assert body["Message"] == (
            f"jcsaml: JumpCloud is unavailable (HTTP 503 at {SELF}); the saved session is kept; "
            "try again"
        )


@pytest.mark.timeout(300)
def test_64_clients_at_once_are_all_answered(signed: Signed) -> None:
    """64 clients, each asking again as soon as it has its answer: none is refused, none waits
    past the SDKs' 2 seconds (the backlog is 128, connections are served in parallel)."""
    clock = Clock()
    source = default_source(
        signed.account, secrets=signed.secrets, cache=signed.cache, clock=clock, environ={}
    )
    failures: list[str] = []
    answered = [0]
    lock = threading.Lock()
    with CredentialServer(source, clock=clock) as server:
        fetch(server)
        start = threading.Barrier(64)

        def client() -> None:
            request = urllib.request.Request(server.url, headers={"Authorization": server.token})
            start.wait()
            for _ in range(25):
                try:
                    with urllib.request.urlopen(request, timeout=2) as answer:
                        json.loads(answer.read())
                except Exception as exc:
                    with lock:
                        failures.append(repr(exc))
                    continue
                with lock:
                    answered[0] += 1

        threads = [threading.Thread(target=client) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
    assert failures == []
    assert answered[0] == 64 * 25
