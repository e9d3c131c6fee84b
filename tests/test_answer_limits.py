"""Limits on what JumpCloud's side may send: a deadline for each whole answer, a cap on its
decoded size, bodies cut short, redirects only within the configured hosts, and console-session
cookies that keep their attributes when saved and restored."""

from __future__ import annotations

import json
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jcsaml.bounded_http import DeadlinePassed, bounded_session, fetch
from jcsaml.errors import (
    IdpAnswerTooLargeError,
    IdpUnavailableError,
    UnsafeRedirectError,
)
from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.jumpcloud import SESSION_COOKIE, FakeApp, FakeJumpCloud, FakeUser
from tests.conftest import run_python

PRINCIPAL = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
ROLE = "arn:aws:iam::012345678987:role/ReadOnly"
MARGIN = 4.0  # generous: only an upper bound on giving up is asserted, never a speed


@pytest.fixture
def fake() -> Iterator[FakeJumpCloud]:
    user = FakeUser(email="u@acme.example", password="pw", apps=["aws"])
    with FakeJumpCloud(users=[user], apps=[FakeApp(slug="aws", roles=[(ROLE, PRINCIPAL)])]) as f:
        yield f


def client(fake: FakeJumpCloud, http_timeout: float = 30) -> JumpCloudAuthenticator:
    return JumpCloudAuthenticator(
        app_url=fake.app_url("aws"),
        console_url=fake.url,
        prompter=ScriptedPrompter(),
        sleep=lambda _: None,
        http_timeout=http_timeout,
    )


def sign_in(auth: JumpCloudAuthenticator) -> str:
    return auth.authenticate(PasswordCredentials("u@acme.example", "pw")).saml_response


class OtherHost:
    """A web server on another origin that logs the Cookie headers it gets and serves an
    auto-post page with a SAMLResponse of its own."""

    FORGED = "Zm9yZ2VkIGJ5IGFub3RoZXIgaG9zdA=="

    def __init__(self) -> None:
        self.cookies: list[str] = []
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                outer.cookies.append(self.headers.get("Cookie", ""))
                page = (
                    '<form action="https://signin.aws.amazon.com/saml" method="POST">'
                    f'<input name="SAMLResponse" value="{OtherHost.FORGED}"/></form>'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/saml2/aws"

    def __enter__(self) -> OtherHost:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def other_host() -> Iterator[OtherHost]:
    with OtherHost() as host:
        yield host


# --- the whole answer within http_timeout ---------------------------------------------------


@pytest.mark.parametrize("path", ["/userconsole/xsrf", "/userconsole/auth", "/saml2/aws"])
def test_a_dripping_answer_gives_up_at_http_timeout(fake: FakeJumpCloud, path: str) -> None:
    # 20 bytes a second: every read succeeds in time, the whole answer would take tens of s.
    fake.inject_fault(path, "drip", delay=0.05)
    started = time.monotonic()
    with pytest.raises(IdpUnavailableError, match=r"no answer within 1 s"):
        sign_in(client(fake, http_timeout=1))
    assert time.monotonic() - started < 1 + MARGIN


def test_a_body_dripping_after_quick_headers_gives_up_too() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            conn.sendall(b"Content-Length: 1000\r\n\r\n")
            for _ in range(1000):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                if stop.wait(0.05):
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    started = time.monotonic()
    try:
        with pytest.raises(DeadlinePassed):
            fetch(bounded_session(), "GET", url, seconds=1, connect_seconds=1)
        assert time.monotonic() - started < 1 + MARGIN
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_answers_in_time_are_untouched(fake: FakeJumpCloud) -> None:
    assert sign_in(client(fake, http_timeout=5))


# --- decoded size -----------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_under_a_memory_bound(fake: FakeJumpCloud) -> None:
    # In a fresh process, so its peak RSS measures this sign-in alone.
    script = textwrap.dedent(
        f"""
        import resource
        from jcsaml.errors import IdpAnswerTooLargeError
        from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
        from jcsaml.testing.fakes import ScriptedPrompter
        import bs4, requests, urllib3  # loaded before measuring

        auth = JumpCloudAuthenticator(
            app_url={fake.app_url("aws")!r}, console_url={fake.url!r},
            prompter=ScriptedPrompter(), sleep=lambda _: None,
        )
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            auth.authenticate(PasswordCredentials("u@acme.example", "pw"))
            print("accepted")
        except IdpAnswerTooLargeError as exc:
            print("refused:", exc)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("peak-growth-kib", after - before)
        """
    )
    fake.inject_fault("/userconsole/xsrf", "bomb")
    done = run_python(script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused:") and "larger than 4 MiB" in lines[0]
    growth_kib = int(lines[1].split()[1])
    assert growth_kib < 64 * 1024  # the body decodes to 400 MiB


def test_the_size_cap_names_the_url(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "bomb")
    with pytest.raises(IdpAnswerTooLargeError, match="/userconsole/xsrf is larger than 4 MiB"):
        sign_in(client(fake))


# --- bodies cut short ------------------------------------------------------------------------


def test_a_get_cut_short_is_retried(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "short", times=2)
    assert sign_in(client(fake))
    assert fake.count("GET", "/userconsole/xsrf") == 3


def test_a_get_cut_short_every_time_gets_a_clear_error(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/xsrf", "short", times=3)
    with pytest.raises(IdpUnavailableError, match="closed before the whole answer arrived"):
        sign_in(client(fake))
    assert fake.count("GET", "/userconsole/xsrf") == 3


def test_a_post_cut_short_is_not_resent(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/userconsole/auth", "short")
    with pytest.raises(IdpUnavailableError, match="closed before the whole answer arrived"):
        sign_in(client(fake))
    assert fake.count("POST", "/userconsole/auth") == 1


# --- redirects ---------------------------------------------------------------------------------


def test_a_redirect_to_another_host_is_not_followed(
    fake: FakeJumpCloud, other_host: OtherHost
) -> None:
    fake.inject_fault("/saml2/aws", "redirect", location=other_host.url)
    with pytest.raises(UnsafeRedirectError, match=other_host.url):
        sign_in(client(fake))
    assert other_host.hits == 0


def test_a_redirect_to_plain_http_elsewhere_is_not_followed(fake: FakeJumpCloud) -> None:
    target = "http://sso.jumpcloud.example/saml2/aws"
    fake.inject_fault("/saml2/aws", "redirect", location=target)
    with pytest.raises(UnsafeRedirectError, match="not an https URL on the configured"):
        sign_in(client(fake))


def test_a_redirect_within_the_configured_host_is_followed(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/saml2/aws", "redirect", location="/saml2/aws?again=1")
    assert sign_in(client(fake))
    assert fake.count("GET", "/saml2/aws") == 2


def test_redirects_are_bounded(fake: FakeJumpCloud) -> None:
    fake.inject_fault("/saml2/aws", "redirect", location="/saml2/aws", times=50)
    with pytest.raises(Exception, match="more than 5 redirects"):
        sign_in(client(fake))
    assert fake.count("GET", "/saml2/aws") == 6


def test_a_resumed_session_never_follows_a_redirect_elsewhere(
    fake: FakeJumpCloud, other_host: OtherHost
) -> None:
    first = client(fake)
    sign_in(first)
    saved = first.export_session()
    fake.inject_fault("/saml2/aws", "redirect", location=other_host.url)
    with pytest.raises(UnsafeRedirectError):
        client(fake).resume(saved)
    assert other_host.hits == 0
    assert not any(SESSION_COOKIE in c for c in other_host.cookies)


# --- saved console sessions --------------------------------------------------------------------


def test_cookies_keep_their_attributes_through_export_and_resume(fake: FakeJumpCloud) -> None:
    from requests.cookies import create_cookie

    first = client(fake)
    sign_in(first)
    later = int(time.time()) + 3600
    jar = first.session.cookies
    jar.set_cookie(
        create_cookie(  # type: ignore[no-untyped-call]
            "secure_one", "s", domain="127.0.0.1", path="/", secure=True, expires=later
        )
    )
    jar.set_cookie(
        create_cookie(  # type: ignore[no-untyped-call]
            "stale", "x", domain="127.0.0.1", path="/", expires=int(time.time()) - 10
        )
    )
    saved = first.export_session()
    exported = {c["name"]: c for c in json.loads(saved)["cookies"]}
    assert exported["secure_one"]["secure"] is True
    assert exported["secure_one"]["expires"] == later
    assert exported[SESSION_COOKIE]["http_only"] is True

    fake.clear_requests()
    second = client(fake)
    assert second.resume(saved) is not None
    restored = {c.name: c for c in second.session.cookies}
    assert restored["secure_one"].secure
    assert restored["secure_one"].expires == later
    assert restored[SESSION_COOKIE].has_nonstandard_attr("HttpOnly")
    assert "stale" not in restored
    # A Secure cookie never travels over plain http, restored or not.
    sent = [r.headers.get("Cookie", "") for r in fake.requests]
    assert sent and all("secure_one" not in header for header in sent)


def test_a_session_saved_without_attributes_is_taken_as_secure(fake: FakeJumpCloud) -> None:
    first = client(fake)
    sign_in(first)
    state = json.loads(first.export_session())
    for cookie in state["cookies"]:
        for key in ("secure", "expires", "http_only", "domain_specified", "domain_initial_dot"):
            del cookie[key]
    # Over plain http the cookies are then not sent, so the session is not reused.
    assert client(fake).resume(json.dumps(state)) is None


# --- over TLS -----------------------------------------------------------------------------------


@pytest.fixture
def tls_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJumpCloud]:
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    user = FakeUser(email="u@acme.example", password="pw", apps=["aws"])
    app = FakeApp(slug="aws", roles=[(ROLE, PRINCIPAL)])
    with FakeJumpCloud(users=[user], apps=[app], ssl_context=context) as f:
        yield f


def test_a_dripping_answer_over_tls_gives_up_at_http_timeout(tls_fake: FakeJumpCloud) -> None:
    tls_fake.inject_fault("/saml2/aws", "drip", delay=0.05)
    started = time.monotonic()
    with pytest.raises(IdpUnavailableError, match=r"no answer within 1 s"):
        sign_in(client(tls_fake, http_timeout=1))
    assert time.monotonic() - started < 1 + MARGIN


def test_a_secure_session_cookie_stays_secure_through_resume(tls_fake: FakeJumpCloud) -> None:
    first = client(tls_fake)
    sign_in(first)
    saved = first.export_session()
    exported = {c["name"]: c for c in json.loads(saved)["cookies"]}
    assert exported[SESSION_COOKIE]["secure"] is True
    second = client(tls_fake)
    assert second.resume(saved) is not None
    assert {c.name: c.secure for c in second.session.cookies}[SESSION_COOKIE] is True
