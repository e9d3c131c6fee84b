"""The one loopback server base, and the credentials endpoint's stop() built on it."""

from __future__ import annotations

import http.client
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.credential_server import CredentialServer
from jcsaml.errors import SignInRequiredError
from jcsaml.loopback import LoopbackHandler, LoopbackServer


class _Hello(LoopbackHandler["Hello"]):
    protocol_version = "HTTP/1.1"  # keep-alive: a connection stays open between requests
    timeout = 30

    def do_GET(self) -> None:
        self.owner.arrived.set()
        self.owner.release.wait(10)
        self.send_answer(200, [("Content-Type", "text/plain")], b"hello")


class Hello(LoopbackServer):
    """Answers every GET with ``hello`` once :attr:`release` is set."""

    handler = _Hello
    url_path = "/hello"

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.release.set()


def _get(server: LoopbackServer) -> tuple[int, bytes]:
    host, port = server.address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", "/hello")
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_it_serves_on_loopback_until_stopped_and_then_has_no_url() -> None:
    with Hello() as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/hello")
        assert _get(server) == (200, b"hello")
        address = server.address
    with pytest.raises(RuntimeError, match="Hello is not running"):
        server.url  # noqa: B018
    assert not [t for t in threading.enumerate() if t.name == f"Hello:{address[1]}"]


def test_stop_shuts_a_kept_alive_connection_and_joins_the_serving_thread() -> None:
    server = Hello().start()
    host, port = server.address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("GET", "/hello")
    assert connection.getresponse().read() == b"hello"  # the connection stays open
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5  # not the handler's 30-second idle timeout
    assert not [t for t in threading.enumerate() if t.name == f"Hello:{port}"]
    connection.close()


def test_connections_beyond_the_bound_are_closed_at_once() -> None:
    class Bounded(Hello):
        max_connections = 1

    with Bounded() as server:
        server.release.clear()
        first = threading.Thread(target=_get, args=(server,))
        first.start()
        assert server.arrived.wait(10)  # the one slot is taken
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            _get(server)
        server.release.set()
        first.join(10)
        assert _eventually_get(server) == (200, b"hello")  # the slot was given back


def _eventually_get(server: Hello) -> tuple[int, bytes]:
    """The server frees a slot once its handler has closed the connection, a moment after the
    client has its answer: ask again until then (at most 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return _get(server)
        except (ConnectionError, http.client.RemoteDisconnected):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _AskingSource:
    """A source that needs the person: asking takes a moment, then yields credentials."""

    margin = 900.0
    prompter = object()
    held: AwsCredentials | None = None

    def __init__(self) -> None:
        self.asking = threading.Event()

    def get(
        self, *, margin: float | None = None, ask: bool = True, wait_for_person: bool = True
    ) -> AwsCredentials:
        if not ask:
            raise SignInRequiredError(account="production")
        self.asking.set()
        time.sleep(0.5)
        return AwsCredentials(
            access_key_id="ASKED",
            secret_access_key="s",
            session_token="t",
            expiration=datetime.now(UTC) + timedelta(hours=1),
            role_arn="arn:aws:iam::012345678987:role/Admin",
        )

    def renew_at(self, margin: float | None = None) -> datetime | None:
        return None


def test_the_credentials_endpoint_stop_joins_the_sign_in_thread() -> None:
    source = _AskingSource()
    server = CredentialServer(source).start()
    host, port = server.address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("GET", "/", headers={"Authorization": server.token})
    assert connection.getresponse().status == 503  # the person is being asked
    connection.close()
    assert source.asking.wait(10)
    server.stop()
    assert not [t for t in threading.enumerate() if t.name == "jcsaml-sign-in" and t.is_alive()]
