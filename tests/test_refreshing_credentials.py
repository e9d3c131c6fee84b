"""Credentials that renew themselves: the credential source (cache, saved JumpCloud session,
person), the library's ``jcsaml.session()`` and ``jcsaml.credentials()``, and the credentials
endpoint, with a clock the tests move."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import jcsaml
from jcsaml import process_cache
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.credential_server import CredentialServer
from jcsaml.credential_source import CredentialSource, ProfileCache, refresh_once
from jcsaml.credentials_file import MemoryCredentialsStore
from jcsaml.errors import (
    FileLockedError,
    InputRequiredError,
    SignInPendingError,
    SignInRequiredError,
    WritableByOthersError,
)
from jcsaml.prompter import Prompter
from jcsaml.sts import make_client
from jcsaml.testing.fakes import ScriptedPrompter
from tests.world import ACCOUNT, PASSWORD, SESSION_REUSE, Clock, Signed, fetch

ROLE = f"arn:aws:iam::{ACCOUNT}:role/Admin"


def made(key: str, *, minutes: float, clock: Clock, role: str = ROLE) -> AwsCredentials:
    return AwsCredentials(
        access_key_id=key,
        secret_access_key="secret-" + key,
        session_token="token-" + key,
        expiration=clock.now + timedelta(minutes=minutes),
        role_arn=role,
    )


class FakeSignIn:
    """A SignIn that records how it was called: ``session_alive`` decides whether the
    unattended call succeeds; a call with a prompter asks it for the password."""

    def __init__(self, clock: Clock, *, minutes: float = 60, session_alive: bool = True) -> None:
        self.clock = clock
        self.minutes = minutes
        self.session_alive = session_alive
        self.calls: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()

    def __call__(self, prompter: Prompter | None, role: str | None) -> AwsCredentials:
        with self._lock:
            self.calls.append(("person" if prompter else "session", role))
            number = len(self.calls)
        if prompter is None and not self.session_alive:
            raise InputRequiredError(what="JumpCloud password", how="pass --password")
        if prompter is not None:
            prompter.secret("JumpCloud password", how="pass --password")
        return made(f"KEY{number}", minutes=self.minutes, clock=self.clock, role=role or ROLE)


def source_with(
    clock: Clock, sign_in: FakeSignIn, *, cached: AwsCredentials | None = None, **kwargs: object
) -> tuple[CredentialSource, MemoryCredentialsStore]:
    store = MemoryCredentialsStore({"production": cached} if cached else None)
    source = CredentialSource(
        "production",
        cache=ProfileCache(store, "production"),
        sign_in=sign_in,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )
    return source, store


def at_once(count: int, work: Callable[[], str]) -> list[str]:
    """What ``work`` returned in each of ``count`` threads started together."""
    start = threading.Barrier(count)

    def run() -> str:
        start.wait()
        return work()

    with ThreadPoolExecutor(count) as pool:
        running = [pool.submit(run) for _ in range(count)]
    return [future.result() for future in running]


# --- the credential source, with fakes of jcsaml's own interfaces -------------------------------


def test_cached_credentials_are_used_while_they_outlast_the_sdk_window() -> None:
    clock = Clock()
    sign_in = FakeSignIn(clock)
    source, _ = source_with(clock, sign_in, cached=made("CACHED", minutes=16, clock=clock))
    assert source.get().access_key_id == "CACHED"
    clock.advance(seconds=50)
    assert source.get().access_key_id == "CACHED"
    assert sign_in.calls == []


def test_inside_the_window_the_saved_session_renews_them_and_the_cache_gets_them() -> None:
    clock = Clock()
    sign_in = FakeSignIn(clock)
    source, store = source_with(clock, sign_in, cached=made("CACHED", minutes=16, clock=clock))
    source.get()
    clock.advance(minutes=2)  # 14 minutes left: inside the SDKs' 15
    renewed = source.get()
    assert renewed.access_key_id == "KEY1"
    assert sign_in.calls == [("session", ROLE)]  # the role it had: never switched
    assert store.load("production") == renewed


def test_without_the_session_the_prompter_is_asked_and_without_one_sign_in_is_required() -> None:
    clock = Clock()
    sign_in = FakeSignIn(clock, session_alive=False)
    prompter = ScriptedPrompter(["typed password"])
    source, _ = source_with(clock, sign_in, prompter=prompter)
    assert source.get().access_key_id == "KEY2"
    assert sign_in.calls == [("session", None), ("person", None)]
    assert prompter.asked == ["JumpCloud password"]

    clock.advance(minutes=50)
    with pytest.raises(SignInRequiredError) as raised:
        source.get(ask=False)
    assert raised.value.account == "production"
    assert str(raised.value).endswith("run: jcsaml login -a production")
    source.prompter = None
    with pytest.raises(SignInRequiredError):
        source.get()
    # Once a role was obtained, every later sign-in asks for that one.
    assert sign_in.calls[2:] == [("session", ROLE), ("session", ROLE)]


def test_threads_asking_at_once_share_one_sign_in() -> None:
    clock = Clock()
    sign_in = FakeSignIn(clock)
    source, _ = source_with(clock, sign_in)
    got = at_once(8, lambda: source.get().access_key_id)
    assert got == ["KEY1"] * 8
    assert len(sign_in.calls) == 1


def test_credentials_shorter_than_the_window_are_kept_five_minutes() -> None:
    clock = Clock()
    sign_in = FakeSignIn(clock, minutes=15)  # a role capped at 15 minutes
    source, _ = source_with(clock, sign_in)
    assert source.get().access_key_id == "KEY1"
    clock.advance(minutes=4)
    assert source.get().access_key_id == "KEY1"
    clock.advance(minutes=2)
    assert source.get().access_key_id == "KEY2"


def test_credentials_longer_than_the_window_are_renewed_when_it_opens() -> None:
    clock = Clock()
    sign_in = FakeSignIn(clock, minutes=25)
    source, _ = source_with(clock, sign_in)
    assert source.get().access_key_id == "KEY1"
    clock.advance(minutes=9)
    assert source.get().access_key_id == "KEY1"
    clock.advance(minutes=2)  # 14 minutes left
    assert source.get().access_key_id == "KEY2"


class SlowPerson(ScriptedPrompter):
    """Answers the password only when the test says so."""

    def __init__(self) -> None:
        super().__init__(["typed password"])
        self.asked_event = threading.Event()
        self.answer = threading.Event()

    def secret(self, message: str, *, how: str) -> str:
        self.asked_event.set()
        assert self.answer.wait(30)
        return super().secret(message, how=how)


def test_while_the_person_is_asked_others_get_the_held_credentials_or_pending() -> None:
    clock = Clock()
    sign_in = FakeSignIn(clock, session_alive=False)
    person = SlowPerson()
    source, _ = source_with(
        clock, sign_in, cached=made("CACHED", minutes=16, clock=clock), prompter=person
    )
    assert source.get().access_key_id == "CACHED"
    clock.advance(minutes=2)
    asking = threading.Thread(target=source.get)
    asking.start()
    assert person.asked_event.wait(30)
    assert source.get(ask=False, wait_for_person=False).access_key_id == "CACHED"
    clock.advance(minutes=15)  # the held ones have ended now
    with pytest.raises(SignInPendingError):
        source.get(ask=False, wait_for_person=False)
    person.answer.set()
    asking.join(30)
    assert source.get(ask=False, wait_for_person=False).access_key_id == "KEY2"


# --- against the fake JumpCloud and the local STS ----------------------------------------------


def test_library_session_renews_across_an_expiry_without_asking(signed: Signed) -> None:
    clock = Clock()
    session = jcsaml.session(
        signed.account, secrets=signed.secrets, cache=signed.cache, clock=clock, environ={}
    )
    sts = session.client("sts")
    assert sts.get_caller_identity()["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/")
    credentials = session.get_credentials()
    assert credentials.get_frozen_credentials().access_key == signed.first.access_key_id
    assert signed.requests() == []

    clock.advance(minutes=11)  # 14 minutes left: botocore renews, the saved session serves
    keys = at_once(4, lambda: credentials.get_frozen_credentials().access_key)
    # In botocore's advisory window, threads that find the refresh under way go on with the old
    # (still valid) credentials; one refresh happened, through the saved session.
    new = set(keys) - {signed.first.access_key_id}
    assert len(new) == 1
    assert signed.requests() == SESSION_REUSE
    renewed = credentials.get_frozen_credentials().access_key
    assert {renewed} == new
    assert sts.get_caller_identity()["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/")
    cached = signed.cache.load()
    assert cached is not None and cached.access_key_id == renewed


class ClockedSts:
    """The local STS, with credentials that end 25 minutes after the test's clock (moto's end
    by the real one): so the clock can move past several expiries."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.client = make_client("us-east-1")

    def assume_role_with_saml(self, **kwargs: Any) -> dict[str, Any]:
        answer = self.client.assume_role_with_saml(**kwargs)
        answer["Credentials"]["Expiration"] = self.clock.now + timedelta(minutes=25)
        return answer


def test_library_session_goes_on_past_several_expiries(signed: Signed) -> None:
    clock = Clock()
    session = jcsaml.session(
        signed.account,
        secrets=signed.secrets,
        cache=signed.cache,
        clock=clock,
        environ={},
        sts_client=ClockedSts(clock),
    )
    sts = session.client("sts")
    credentials = session.get_credentials()
    seen = [credentials.get_frozen_credentials().access_key]
    for renewals in range(1, 4):
        clock.advance(minutes=30)  # the credentials held have ended 5 minutes ago
        seen.append(credentials.get_frozen_credentials().access_key)
        assert sts.get_caller_identity()["Account"] == ACCOUNT
        assert signed.requests() == SESSION_REUSE * renewals  # nobody asked, no password
    assert seen[0] == signed.first.access_key_id
    assert len(set(seen)) == 4


def test_library_session_without_a_jumpcloud_session_raises_sign_in_required(
    signed: Signed,
) -> None:
    clock = Clock()
    session = jcsaml.session(
        signed.account, secrets=signed.secrets, cache=signed.cache, clock=clock, environ={}
    )
    signed.jumpcloud.expire_sessions()
    credentials = session.get_credentials()
    clock.advance(minutes=11)  # 14 minutes left: botocore tries, fails and goes on (advisory)
    assert credentials.get_frozen_credentials().access_key == signed.first.access_key_id
    clock.advance(minutes=5)  # 9 minutes left: botocore must renew (mandatory)
    with pytest.raises(SignInRequiredError):
        credentials.get_frozen_credentials()


def test_credentials_come_from_the_cache_then_the_session_then_the_prompter(
    signed: Signed,
) -> None:
    clock = Clock()
    kwargs = {"secrets": signed.secrets, "cache": signed.cache, "clock": clock, "environ": {}}
    assert jcsaml.credentials(signed.account, **kwargs) == signed.first  # type: ignore[arg-type]
    assert signed.requests() == []

    clock.advance(minutes=11)
    renewed = jcsaml.credentials(signed.account, **kwargs)  # type: ignore[arg-type]
    assert renewed.access_key_id != signed.first.access_key_id
    assert signed.requests() == SESSION_REUSE

    signed.jumpcloud.expire_sessions()
    clock.advance(minutes=60)
    with pytest.raises(SignInRequiredError):
        jcsaml.credentials(signed.account, **kwargs)  # type: ignore[arg-type]
    prompter = ScriptedPrompter([PASSWORD])
    asked = jcsaml.credentials(signed.account, prompter=prompter, **kwargs)  # type: ignore[arg-type]
    assert asked.expiration > clock.now - timedelta(minutes=60)
    assert prompter.asked == ["JumpCloud password"]


class Serving(NamedTuple):
    clock: Clock
    source: CredentialSource
    server: CredentialServer
    reports: list[str]


@contextlib.contextmanager
def serving(signed: Signed) -> Iterator[Serving]:
    """The credentials endpoint over the library's source, on a clock the test moves; what it
    reports lands in ``reports``."""
    clock = Clock()
    source = signed.source(clock)
    reports: list[str] = []
    with CredentialServer(source, clock=clock, report=lambda e: reports.append(str(e))) as server:
        yield Serving(clock, source, server, reports)


def test_the_endpoint_renews_before_the_old_credentials_expire_without_asking(
    signed: Signed,
) -> None:
    with serving(signed) as (clock, source, server, reports):
        assert server.address[0] == "127.0.0.1"
        first = fetch(server)
        assert first["AccessKeyId"] == signed.first.access_key_id
        clock.advance(minutes=11)  # the old ones have 14 minutes left: inside the SDKs' window
        # Answered at once with the old ones while the renewal runs in the background.
        held = source.held
        assert held is not None
        assert fetch(server)["AccessKeyId"] in (first["AccessKeyId"], held.access_key_id)
        second = first
        for _ in range(600):
            second = fetch(server)
            if second["AccessKeyId"] != first["AccessKeyId"]:
                break
            time.sleep(0.05)
        old_expiry = datetime.fromisoformat(first["Expiration"].replace("Z", "+00:00"))
        assert second["AccessKeyId"] != first["AccessKeyId"]
        assert clock.now < old_expiry  # handed out before the old ones ended
        assert signed.requests() == SESSION_REUSE
        assert fetch(server) == second
        assert signed.requests() == SESSION_REUSE
    assert reports == []


def test_the_endpoint_answers_an_error_once_the_session_is_gone_and_reports_it_once(
    signed: Signed,
) -> None:
    with serving(signed) as (clock, _, server, reports):
        fetch(server)
        signed.jumpcloud.expire_sessions()
        clock.advance(minutes=26)  # expired: nothing valid is held any more
        for _ in range(2):
            request = urllib.request.Request(server.url, headers={"Authorization": server.token})
            with pytest.raises(urllib.error.HTTPError) as failed:
                urllib.request.urlopen(request, timeout=10)
            body = json.loads(failed.value.read())
            assert failed.value.code == 500
            assert body["Message"].endswith("run: jcsaml login -a production")
    assert len(reports) == 1


def test_by_default_the_credential_process_cache_is_shared(signed: Signed) -> None:
    environ = {"HOME": str(Path.home())}
    first = jcsaml.credentials(signed.account, secrets=signed.secrets, environ=environ)
    assert signed.requests() == SESSION_REUSE  # nothing cached yet: the saved session
    assert process_cache.load("production", "", environ=environ) == first
    assert process_cache.cache_directory(environ).stat().st_mode & 0o077 == 0
    again = jcsaml.credentials(signed.account, secrets=signed.secrets, environ=environ)
    assert again == first and signed.requests() == SESSION_REUSE


def test_the_renewal_machinery_imports_nothing_heavy_until_used() -> None:
    code = (
        "import sys, jcsaml; jcsaml.session; jcsaml.credentials; "
        "import jcsaml.credential_server, jcsaml.credential_source, jcsaml.cli.exec_server; "
        "heavy = ('boto3', 'botocore', 'requests', 'lxml', 'signxml', 'cryptography', "
        "'prompt_toolkit', 'keyring'); print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


class HeldSource:
    """A source that always has the same credentials (the endpoint's answers, not renewal)."""

    margin = 900.0
    prompter = None

    def __init__(self) -> None:
        self.held = made("HELD", minutes=60, clock=Clock())

    def get(self, **_: object) -> AwsCredentials:
        return self.held

    def renew_at(self, margin: float | None = None) -> datetime | None:
        return self.held.expiration


def raw_exchange(server: CredentialServer, request: bytes) -> tuple[int, str, bytes]:
    """Sends ``request`` as is; the status, Content-Type and body of the answer."""
    with socket.create_connection(server.address, timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), body


def test_every_request_without_the_token_gets_a_json_403_whatever_its_method() -> None:
    with CredentialServer(HeldSource()) as server:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"):
            status, kind, body = raw_exchange(server, f"{method} / HTTP/1.1\r\n\r\n".encode())
            assert (status, kind) == (403, "application/json"), method
            assert json.loads(body)["Code"] == "AccessDenied", method
        status, kind, body = raw_exchange(server, b"HEAD / HTTP/1.1\r\n\r\n")
        assert (status, kind, body) == (403, "application/json", b"")  # HEAD: no body
        too_long = b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n"  # headers not read
        status, kind, body = raw_exchange(server, too_long)
        assert (status, kind) == (403, "application/json")
        assert json.loads(body)["Code"] == "AccessDenied"


def test_with_the_token_other_methods_than_get_are_refused_in_json() -> None:
    with CredentialServer(HeldSource()) as server:
        token = server.token.encode()
        for method in (b"POST", b"PUT", b"BREW"):
            request = method + b" / HTTP/1.1\r\nAuthorization: " + token + b"\r\n\r\n"
            status, kind, body = raw_exchange(server, request)
            assert (status, kind) == (405, "application/json"), method
            assert "AccessKeyId" not in json.loads(body)
        request = b"GET / HTTP/1.1\r\nAuthorization: " + token + b"\r\n\r\n"
        status, kind, body = raw_exchange(server, request)
        assert (status, kind) == (200, "application/json")
        assert json.loads(body)["AccessKeyId"] == "HELD"


def test_jcsaml_credentials_is_the_function_whatever_was_imported_before() -> None:
    """The package's ``credentials`` is the function, also once the module that defines
    AwsCredentials has been imported (by the package itself or by anything of jcsaml's)."""
    code = (
        "import jcsaml, jcsaml.signin, jcsaml.credential_source as source; "
        "from jcsaml.signin import AwsCredentials; "
        "print(jcsaml.credentials is source.credentials, jcsaml.AwsCredentials is AwsCredentials)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["True", "True"]


@pytest.mark.parametrize(
    "failure",
    [
        FileLockedError(timeout=10, lock_path="/locks/x.lock", path="/cache/x.json"),
        WritableByOthersError(
            path="/cache/x.json", kind="directory", culprit="/cache", mode="0777"
        ),
    ],
    ids=["lock timed out", "writable by others"],
)
def test_jcsamls_own_errors_from_the_cache_reach_the_caller(failure: Exception) -> None:
    """A write fault of the cache costs nothing (a warning, the credentials used anyway), but
    jcsaml's own errors that happen to be OSErrors too are never taken for one."""
    fresh = AwsCredentials(
        "ASIA", "secret", "token", datetime.now(UTC) + timedelta(hours=1), role_arn=""
    )
    warned: list[str] = []

    def save(_: AwsCredentials) -> None:
        raise failure

    with pytest.raises(type(failure)):
        refresh_once(
            load=lambda: None,
            usable=lambda found: found is not None,
            sign_in=lambda: fresh,
            save=save,
            warn=warned.append,
        )
    assert warned == []

    def full_disk(_: AwsCredentials) -> None:
        raise OSError(28, "No space left on device", "/cache/x.json")

    got, signed_in = refresh_once(
        load=lambda: None,
        usable=lambda found: found is not None,
        sign_in=lambda: fresh,
        save=full_disk,
        warn=warned.append,
    )
    assert (got, signed_in) == (fresh, True)
    assert len(warned) == 1 and "could not cache the new credentials" in warned[0]
