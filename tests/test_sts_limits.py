"""STS that never answers, drips, or answers something else than STS: the call gives up within
sts_timeout (retries included) and names what came back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    started = time.monotonic()
    with pytest.raises(StsTimeoutError, match=r"no complete answer within 1 s") as caught:
        assume_role_with_saml(ROLE, ASSERTION, timeout=1)
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
