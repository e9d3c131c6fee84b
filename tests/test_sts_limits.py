"""STS that never answers, drips, or answers something else than STS: the call gives up within
sts_timeout (retries included) and names what came back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore.awsrequest import AWSResponse

from jcsaml.config import DEFAULT_STS_TIMEOUT, load_account
from jcsaml.errors import InvalidSettingError, StsBadAnswerError, StsError, StsTimeoutError
from jcsaml.saml import AwsRole
from jcsaml.sts import assume_role_with_saml, make_client
from jcsaml.testing.sts import MisbehavingSts, StsFault

ROLE = AwsRole(
    "arn:aws:iam::012345678987:role/ReadOnly",
    "arn:aws:iam::012345678987:saml-provider/JumpCloud",
)
ASSERTION = "PHNhbWxwOlJlc3BvbnNlLz4="
MARGIN = 4.0  # generous: only an upper bound on giving up is asserted, never a speed


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[MisbehavingSts]]:
    servers: list[MisbehavingSts] = []

    class Started(MisbehavingSts):
        def __init__(self, fault: StsFault, **kwargs: float) -> None:
            super().__init__(fault, **kwargs)  # type: ignore[arg-type]
            self.start()
            servers.append(self)
            monkeypatch.setenv("AWS_ENDPOINT_URL_STS", self.endpoint_url)

    yield Started
    for server in servers:
        server.stop()


@pytest.mark.parametrize("fault", ["silent", "drip"])
def test_a_silent_or_dripping_sts_gives_up_at_sts_timeout(
    endpoint: type[MisbehavingSts], fault: StsFault
) -> None:
    server = endpoint(fault)
    client = make_client("us-east-1", timeout=1)  # made first: its imports are not the call's
    started = time.monotonic()
    with pytest.raises(StsTimeoutError, match=r"no complete answer within 1 s") as caught:
        assume_role_with_saml(ROLE, ASSERTION, timeout=1, client=client)
    assert time.monotonic() - started < 1 + MARGIN
    assert caught.value.endpoint == server.endpoint_url
    assert "AWS_ENDPOINT_URL_STS" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "status"),
    [("html", 200), ("html", 403), ("html", 503), ("truncated", 200), ("foreign-xml", 200)],
)
def test_an_answer_that_is_not_sts_is_named(
    endpoint: type[MisbehavingSts], fault: StsFault, status: int
) -> None:
    server = endpoint(fault, status=status)
    with pytest.raises(StsBadAnswerError) as caught:
        assume_role_with_saml(ROLE, ASSERTION, timeout=10)
    assert str(caught.value).startswith(
        f"STS at {server.endpoint_url} answered something that is not an STS response "
        f"(HTTP {status})"
    )


@pytest.mark.parametrize(
    ("fault", "what"),
    [("garbage", "not an HTTP answer"), ("cut", "HTTP 200")],
)
def test_garbage_or_a_cut_answer_is_named_not_called_unreachable(
    endpoint: type[MisbehavingSts], fault: StsFault, what: str
) -> None:
    server = endpoint(fault)
    with pytest.raises(StsError) as caught:
        assume_role_with_saml(ROLE, ASSERTION, timeout=10)
    assert str(caught.value).startswith(
        f"STS at {server.endpoint_url} answered something that is not an STS response ({what})"
    )
    assert "cannot reach" not in str(caught.value)


def test_retries_are_bounded(endpoint: type[MisbehavingSts]) -> None:
    server = endpoint("html", status=503)
    with pytest.raises(StsBadAnswerError):
        assume_role_with_saml(ROLE, ASSERTION, timeout=10)
    assert server.requests == 2


def test_the_client_has_explicit_timeouts() -> None:
    config = make_client("us-east-1", timeout=7).meta.config  # type: ignore[attr-defined]
    assert (config.connect_timeout, config.read_timeout) == (7, 7)
    assert config.retries["total_max_attempts"] == 2
    default = make_client("us-east-1").meta.config  # type: ignore[attr-defined]
    assert (default.connect_timeout, default.read_timeout) == (10, DEFAULT_STS_TIMEOUT)


def test_sts_timeout_is_a_validated_setting(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[a]\nurl = https://sso.jumpcloud.com/saml2/aws\nsts_timeout = 12.5\n")
    assert load_account("a", path=config).sts_timeout == 12.5
    config.write_text("[a]\nurl = https://sso.jumpcloud.com/saml2/aws\nsts_timeout = 0\n")
    with pytest.raises(InvalidSettingError, match="sts_timeout"):
        load_account("a", path=config)


class _Body:
    """The raw body of a canned botocore answer."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self.data


def _answer_by_role(request: Any, **_: object) -> AWSResponse:
    """A 2xx answer that is not STS's (cut off), its status telling which role's call it is."""
    body = request.body if isinstance(request.body, str) else request.body.decode()
    role_arn = parse_qs(body)["RoleArn"][0]
    index = int(role_arn.rsplit("/R", 1)[1])
    return AWSResponse(request.url, 200 + index, {}, _Body(b"<AssumeRoleWithSAMLResponse"))


def _handlers(client: Any) -> int:
    return len(client.meta.events._emitter._handlers.prefix_search("before-parse.sts"))


def test_one_status_recorder_per_client_and_each_call_sees_its_own_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client shared by many calls (login_many's threads, a library caller's sts_client)
    keeps one recorder, and an error names the status of its own call's answer."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # answered before sending
    client: Any = make_client("us-east-1")
    client.meta.events.register("before-send.sts", _answer_by_role)
    roles = [AwsRole(f"{ROLE.role_arn[:-8]}R{i}", ROLE.principal_arn) for i in range(16)]

    def status_named(role: AwsRole) -> str:
        with pytest.raises(StsBadAnswerError) as caught:
            assume_role_with_saml(role, ASSERTION, client=client, timeout=30)
        return str(caught.value)

    status_named(roles[0])
    handlers = _handlers(client)
    for _ in range(100):
        status_named(roles[1])
    assert _handlers(client) == handlers

    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in range(5):
            messages = list(pool.map(status_named, roles))
            for index, message in enumerate(messages):
                assert f"(HTTP {200 + index})" in message, message
