"""jcsaml console: the federation sign-in URL per partition, checked by the fake federation
endpoint against the local STS; --link, the browser, Firefox containers, the SessionDuration
retry, and the failures."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.console import (
    console_home,
    destination_url,
    federation_endpoint,
    firefox_container_url,
    get_signin_token,
    session_duration_for,
)
from jcsaml.errors import ConsoleSigninError, InvalidSettingError
from jcsaml.partitions import partition_of
from jcsaml.testing.federation import FakeFederation
from jcsaml.testing.jumpcloud import FakeApp
from tests.world import (
    ACCOUNT,
    EMAIL,
    PASSWORD,
    READ_ONLY,
    AwsAccount,
    CliResult,
    World,
    WorldFactory,
    run_cli,
)

REGIONS = {"aws": None, "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}
CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-us-gov": "console.amazonaws-us-gov.com",
    "aws-cn": "console.amazonaws.cn",
}


# --- the URL, piece by piece ------------------------------------------------------------------


def test_sign_in_and_console_hosts_per_partition() -> None:
    assert federation_endpoint("aws") == "https://signin.aws.amazon.com/federation"
    assert federation_endpoint("aws", "eu-west-1") == (
        "https://eu-west-1.signin.aws.amazon.com/federation"
    )
    assert federation_endpoint("aws-us-gov", "us-gov-west-1") == (
        "https://signin.amazonaws-us-gov.com/federation"
    )
    assert federation_endpoint("aws-cn", "cn-north-1") == "https://signin.amazonaws.cn/federation"
    assert console_home("aws") == "https://console.aws.amazon.com/"
    assert console_home("aws", "eu-west-1") == (
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
    )
    # AWS's sign-in endpoint table: us-east-1, us-gov-west-1 and cn-north-1 have no region
    # label; us-gov-east-1 and cn-northwest-1 have hosts of their own.
    assert federation_endpoint("aws", "us-east-1") == "https://signin.aws.amazon.com/federation"
    assert federation_endpoint("aws-us-gov", "us-gov-east-1") == (
        "https://us-gov-east-1.signin.amazonaws-us-gov.com/federation"
    )
    assert federation_endpoint("aws-cn", "cn-northwest-1") == (
        "https://cn-northwest-1.signin.amazonaws.cn/federation"
    )
    assert console_home("aws-us-gov", "us-gov-east-1") == (
        "https://us-gov-east-1.console.amazonaws-us-gov.com/console/home?region=us-gov-east-1"
    )
    assert console_home("aws-us-gov", "us-gov-west-1") == (
        "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"
    )
    assert console_home("aws-cn", "cn-northwest-1") == (
        "https://cn-northwest-1.console.amazonaws.cn/console/home?region=cn-northwest-1"
    )
    assert console_home("aws-cn") == "https://console.amazonaws.cn/"
    assert partition_of("arn:aws-cn:iam::012345678987:role/R") == "aws-cn"
    assert partition_of("arn:aws:iam::012345678987:role/R") == "aws"


def test_destination_paths_urls_and_refusals() -> None:
    assert destination_url("/s3/home", "aws", None) == "https://console.aws.amazon.com/s3/home"
    assert destination_url("/ec2/home", "aws", "us-east-2") == (
        "https://us-east-2.console.aws.amazon.com/ec2/home?region=us-east-2"
    )
    assert destination_url("/s3/home", "aws-cn", "cn-north-1") == (
        "https://console.amazonaws.cn/s3/home?region=cn-north-1"
    )
    assert destination_url("/ec2/home?region=eu-west-1#Instances:", "aws", "us-east-2") == (
        "https://us-east-2.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:"
    )
    url = "https://console.aws.amazon.com/iam/home#/roles"
    assert destination_url(url, "aws", "eu-west-1") == url
    with pytest.raises(InvalidSettingError, match="--destination"):
        destination_url("http://console.aws.amazon.com/", "aws", None)
    with pytest.raises(InvalidSettingError, match="--destination"):
        destination_url("s3/home", "aws", None)
    # Only the console's own hosts: never a page elsewhere.
    for elsewhere in (
        "https://evil.example/phish",
        "https://console.aws.amazon.com.evil.example/",
        "https://evil.example@console.aws.amazon.com/",
        "https://console.aws.amazon.com:8443/",
        "https://x.y.console.aws.amazon.com/",
        "//evil.example/x",
        "https://console.amazonaws.cn/",  # another partition's console
    ):
        with pytest.raises(InvalidSettingError, match="--destination"):
            destination_url(elsewhere, "aws", None)


def test_firefox_container_wrapping() -> None:
    wrapped = firefox_container_url("https://signin.aws.amazon.com/federation?a=1&b=2", "prod x")
    assert wrapped == (
        "ext+granted-containers:name=prod%20x&url="
        "https%3A%2F%2Fsignin.aws.amazon.com%2Ffederation%3Fa%3D1%26b%3D2"
    )


def _credentials(minutes: int, principal: str) -> AwsCredentials:
    return AwsCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret",
        session_token="token",
        expiration=datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes),
        role_arn="arn:aws:iam::012345678987:role/R",
        assumed_role_arn=principal,
    )


def test_session_duration_is_what_is_left_within_aws_bounds() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assumed = "arn:aws:sts::012345678987:assumed-role/R/alice"
    assert session_duration_for(_credentials(60, assumed), now=now) == 3600
    assert session_duration_for(_credentials(7, assumed), now=now) == 900
    assert session_duration_for(_credentials(24 * 60, assumed), now=now) == 43200
    federated = "arn:aws:sts::012345678987:federated-user/alice"
    assert session_duration_for(_credentials(60, federated), now=now) is None


# --- the world: local STS in three partitions, JumpCloud, the federation endpoint -----------


@pytest.fixture(scope="module")
def partition_roles(aws_account: AwsAccount) -> dict[str, tuple[str, str]]:
    """The read-only role in each partition: partition -> (role ARN, provider ARN)."""
    roles = {"aws": (aws_account.roles[READ_ONLY], aws_account.principal)}
    for partition in ("aws-us-gov", "aws-cn"):
        provider = aws_account.local.create_saml_provider(
            "JumpCloud", aws_account.keys.metadata_xml(), account_id=ACCOUNT, partition=partition
        )
        role = aws_account.local.create_role(
            READ_ONLY, trusted_principal_arn=provider, account_id=ACCOUNT
        )
        roles[partition] = (role, provider)
    return roles


class Console:
    """A world with an app per partition and the fake federation endpoint."""

    def __init__(self, world: World, federation: FakeFederation) -> None:
        self.world = world
        self.home = world.home
        self.aws = world.aws
        self.jumpcloud = world.jumpcloud
        self.federation = federation
        self.env = world.env
        self.env["JCSAML_FEDERATION_URL"] = federation.url

    def run(self, *args: str, **extra: str) -> CliResult:
        return self.world.run(*args, **extra)

    def configure(self, partition: str, *extra: str) -> None:
        region = REGIONS[partition]
        region_args = ["--region", region] if region else []
        self.world.configure(
            *region_args, *extra, account=partition, slug=partition, defaults=False
        )

    def console(self, partition: str, *extra: str, **env: str) -> CliResult:
        return self.run(
            "console",
            "-a",
            partition,
            "--skip-prompt",
            *extra,
            **{**self.world.sign_in_env(), **env},
        )


def partition_world(
    make_world: WorldFactory, partition_roles: dict[str, tuple[str, str]], *partitions: str
) -> World:
    """Alice, offered an app per partition in ``partitions``, each with its read-only role."""
    apps = [FakeApp(slug=p, roles=[partition_roles[p]]) for p in partitions]
    return make_world(apps=apps, user={"apps": list(partitions)})


@pytest.fixture
def world(
    make_world: WorldFactory, partition_roles: dict[str, tuple[str, str]]
) -> Iterator[Console]:
    made = partition_world(make_world, partition_roles, *REGIONS)
    with FakeFederation(made.aws) as federation:
        yield Console(made, federation)


def only_url(result: CliResult) -> str:
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # nothing but the URL on stdout
    return lines[0]


@pytest.mark.parametrize("partition", list(REGIONS))
def test_console_link_per_partition_is_accepted(world: Console, partition: str) -> None:
    world.configure(partition)
    url = only_url(world.console(partition, "--link"))
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert url.startswith(world.federation.url + "?")
    assert query["Action"] == ["login"]
    assert query["Issuer"] == [world.jumpcloud.app_url(partition)]
    assert urlsplit(query["Destination"][0]).hostname.endswith(CONSOLE_HOSTS[partition])  # type: ignore[union-attr]
    login = world.federation.open(url)
    assert login is not None, world.federation.requests
    assert login.partition == partition
    assert login.assumed_role_arn.startswith(
        f"arn:{partition}:sts::{ACCOUNT}:assumed-role/AcmeJumpCloudAdminRO/"
    )
    assert login.session_duration is not None and 900 <= login.session_duration <= 3600
    assert [r.status for r in world.federation.requests] == [200, 302]


def test_console_reuses_cached_credentials_and_opens_a_destination(world: Console) -> None:
    world.configure("aws", "--region", "eu-west-1")
    assert world.console("aws", "--link").status == 0
    world.jumpcloud.clear_requests()
    url = only_url(world.run("console", "-a", "aws", "--link", "--destination", "/s3/home"))
    assert world.jumpcloud.count() == 0  # the profile's credentials were used
    login = world.federation.open(url)
    assert login is not None
    assert login.destination == "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
    other = only_url(world.run("console", "-a", "aws", "--link", "--region", "us-east-2"))
    login = world.federation.open(other)
    assert login is not None
    assert login.destination == (
        "https://us-east-2.console.aws.amazon.com/console/home?region=us-east-2"
    )


def test_session_duration_refused_with_400_is_retried_without_it(
    make_world: WorldFactory, partition_roles: dict[str, tuple[str, str]]
) -> None:
    made = partition_world(make_world, partition_roles, "aws")
    with FakeFederation(made.aws, refuse_session_duration=True) as federation:
        world = Console(made, federation)
        world.configure("aws")
        url = only_url(world.console("aws", "--link"))
        asked = [(r.action, r.session_duration is not None, r.status) for r in federation.requests]
        assert asked == [("getSigninToken", True, 400), ("getSigninToken", False, 200)]
        login = federation.open(url)
        assert login is not None and login.session_duration is None


def test_console_opens_the_browser(world: Console, tmp_path: Path) -> None:
    world.configure("aws")
    opened = tmp_path / "opened-url"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\nprintf '%s' \"$1\" > {opened}\n")
    browser.chmod(0o755)
    result = world.console("aws", BROWSER=f"{browser} %s")
    assert result.status == 0, result.stderr
    assert result.stdout == ""
    assert "Opened the AWS console as arn:aws:iam::" in result.stderr
    assert world.federation.open(opened.read_text()) is not None


def test_firefox_container_link(world: Console) -> None:
    world.configure("aws", "--profile", "acme-prod")
    wrapped = only_url(world.console("aws", "--link", "--firefox-container"))
    prefix = "ext+granted-containers:name=acme-prod&url="
    assert wrapped.startswith(prefix)
    login = world.federation.open(unquote(wrapped[len(prefix) :]))
    assert login is not None


def test_federation_url_from_the_config(world: Console) -> None:
    world.configure("aws", "--federation-url", world.federation.url)
    env = {k: v for k, v in world.env.items() if k != "JCSAML_FEDERATION_URL"}
    result = run_cli(
        "console",
        "-a",
        "aws",
        "--link",
        "--skip-prompt",
        env={
            **env,
            "JCSAML_PASSWORD": PASSWORD,
            "JCSAML_MFA_TOKEN": world.jumpcloud.totp_code(EMAIL),
        },
    )
    assert world.federation.open(only_url(result)) is not None


def assert_one_line_error(result: CliResult, *needles: str) -> None:
    assert result.status == 1, (result.stdout, result.stderr)
    # The sign-in before the failure may have said it pinned JumpCloud's certificate.
    lines = [line for line in result.stderr.strip().splitlines() if "jcsaml: note:" not in line]
    assert len(lines) == 1 and lines[0].startswith("jcsaml: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_credentials_the_endpoint_refuses(world: Console) -> None:
    world.configure("aws")
    assert world.console("aws", "--link").status == 0
    credentials = world.home / ".aws" / "credentials"
    text = credentials.read_text()
    token = text.split("aws_session_token = ")[1].split()[0]
    credentials.write_text(text.replace(token, "forged" + token[6:]))
    result = world.run("console", "-a", "aws", "--link")
    assert_one_line_error(result, "refused the sign-in token request (HTTP 400)", "--force")
    assert result.stdout == ""
    assert token not in result.stderr
    # asked with SessionDuration, then without it
    assert [r.status for r in world.federation.requests][-2:] == [400, 400]


def test_unreachable_federation_endpoint(world: Console) -> None:
    world.configure("aws")
    result = world.console("aws", "--link", JCSAML_FEDERATION_URL="http://127.0.0.1:9/federation")
    assert_one_line_error(result, "cannot reach the AWS federation endpoint")


def test_federation_url_must_be_https(world: Console) -> None:
    world.configure("aws")
    result = world.console(
        "aws", "--link", JCSAML_FEDERATION_URL="http://signin.example/federation"
    )
    assert_one_line_error(result, "invalid JCSAML_FEDERATION_URL", "https://")
    assert world.jumpcloud.count() == 0  # refused before signing in


def test_a_bad_destination_is_refused_before_signing_in(world: Console) -> None:
    world.configure("aws")
    result = world.console("aws", "--link", "--destination", "http://console.example/")
    assert_one_line_error(result, "invalid --destination", "https://", "/s3/home")
    assert world.jumpcloud.count() == 0
    assert not (world.home / ".aws" / "credentials").exists()


def test_no_browser(world: Console, tmp_path: Path) -> None:
    world.configure("aws")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {k: v for k, v in world.env.items() if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")}
    result = run_cli(
        "console",
        "-a",
        "aws",
        "--skip-prompt",
        env={
            **env,
            "PATH": str(empty),
            "JCSAML_PASSWORD": PASSWORD,
            "JCSAML_MFA_TOKEN": world.jumpcloud.totp_code(EMAIL),
        },
    )
    assert_one_line_error(result, "no web browser", "--link")


def test_get_signin_token_sends_the_session_as_aws_expects(world: Console) -> None:
    world.configure("aws")
    assert world.console("aws", "--link").status == 0
    from jcsaml.credentials_file import CredentialsFile

    creds = CredentialsFile(world.home / ".aws" / "credentials").load("aws")
    assert creds is not None
    token = get_signin_token(creds, world.federation.url, session_duration=1800)
    assert token.token and token.session_duration == 1800
    assert "token" not in repr(token).replace("SigninToken", "")
    bad = AwsCredentials(
        access_key_id=creds.access_key_id,
        secret_access_key="wrong",
        session_token=creds.session_token,
        expiration=creds.expiration,
        role_arn=creds.role_arn,
    )
    with pytest.raises(ConsoleSigninError) as caught:
        get_signin_token(bad, world.federation.url)
    assert caught.value.status == 400
    assert json.dumps(caught.value.fields).find("wrong") == -1
    assert os.environ.get("JCSAML_FEDERATION_URL") is None
    assert sys.executable


def test_debug_shows_the_steps_and_no_secret(world: Console) -> None:
    world.configure("aws")
    result = world.console("aws", "--link", "--debug")
    assert result.status == 0, result.stderr
    assert "getSigninToken -> HTTP 200" in result.stderr
    written = (world.home / ".aws" / "credentials").read_text()
    secret_key = written.split("aws_secret_access_key = ")[1].split()[0]
    token = written.split("aws_session_token = ")[1].split()[0]
    signin_token = parse_qs(urlsplit(result.stdout.strip()).query)["SigninToken"][0]
    for secret in (PASSWORD, secret_key, token, signin_token):
        assert secret not in result.stderr


def test_a_dripping_federation_endpoint_gives_up_at_the_timeout(aws_account: AwsAccount) -> None:
    import time

    from jcsaml.errors import ConsoleUnavailableError

    stranger = AwsCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret",
        session_token="token",
        expiration=datetime.now(UTC) + timedelta(hours=1),
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/R",
    )
    # Headers at once, then a byte every 0.3 s: each read is in time, the answer never is.
    with FakeFederation(aws_account.local, drip=0.3) as federation:
        started = time.monotonic()
        with pytest.raises(ConsoleUnavailableError, match=r"no complete answer within 1 s"):
            get_signin_token(stranger, federation.url, timeout=1)
        assert time.monotonic() - started < 1 + 4.0  # an upper bound on giving up, never a speed


def test_console_exec_profile_opens_the_console_as_that_profiles_role(
    world: Console, tmp_path: Path
) -> None:
    """saml2aws's console --exec-profile: the console as the role of an AWS config profile,
    assumed with the account's credentials."""
    deploy = world.world.roles["Deploy"]  # the account's own principals may assume it
    config = tmp_path / "aws-config"
    config.write_text(f"[profile deploy]\nrole_arn = {deploy}\n")
    world.configure("aws")
    url = only_url(
        world.console("aws", "--link", "--exec-profile", "deploy", AWS_CONFIG_FILE=str(config))
    )
    login = world.federation.open(url)
    assert login is not None, world.federation.requests
    assert login.assumed_role_arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/Deploy/")
    # From saml2aws's variable too.
    again = only_url(
        world.run(
            "console", "-a", "aws", "--link",
            AWS_CONFIG_FILE=str(config), SAML2AWS_EXEC_PROFILE="deploy",
        )
    )  # fmt: skip
    login = world.federation.open(again)
    assert login is not None and "assumed-role/Deploy/" in login.assumed_role_arn
