"""The local STS rejects what AWS rejects, and what it issues works with boto3 and the AWS CLI."""

from __future__ import annotations

import base64
import configparser
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lxml import etree

from jcsaml.testing.idp import (
    IdpKeyPair,
    build_saml_response,
    make_saml_response_b64,
    sign_saml_response,
)
from jcsaml.testing.sts import LocalAws, saml_trust_policy
from tests.conftest import run_python

ACCOUNT = "012345678987"


@dataclass
class Setup:
    aws: LocalAws
    keys: IdpKeyPair
    provider: str
    role_ro: str  # MaxSessionDuration 3600
    role_admin: str  # MaxSessionDuration 7200
    role_other_idp: str  # trusts another provider
    role_wrong_aud: str  # trust policy conditions on another SAML:aud
    sts: Any

    def b64(self, *roles: str, **kwargs: Any) -> str:
        pairs = [(role, self.provider) for role in roles or (self.role_ro,)]
        return make_saml_response_b64(self.keys, roles=pairs, **kwargs)

    def assume(self, role: str, assertion: str, provider: str | None = None, **kw: Any) -> Any:
        return self.sts.assume_role_with_saml(
            RoleArn=role, PrincipalArn=provider or self.provider, SAMLAssertion=assertion, **kw
        )

    def rejected(self, role: str, assertion: str, **kw: Any) -> dict[str, Any]:
        with pytest.raises(ClientError) as caught:
            self.assume(role, assertion, **kw)
        error: dict[str, Any] = caught.value.response["Error"]
        assert self.aws.calls[-1].code == error["Code"]
        return error


HANDLER_CHECK = """
from moto.sts.responses import TokenResponse
from jcsaml.testing.sts import LocalAws

original = TokenResponse.__dict__["assume_role_with_saml"]
with LocalAws() as aws:
    assert aws.endpoint_url.startswith("http://127.0.0.1:")
    assert TokenResponse.__dict__["assume_role_with_saml"] is not original
assert TokenResponse.__dict__["assume_role_with_saml"] is original
try:
    aws.endpoint_url
except RuntimeError as exc:
    assert "not running" in str(exc)
else:
    raise AssertionError("a stopped LocalAws still has an endpoint")
print("handler installed only while running")
"""


def test_handler_is_installed_only_while_running() -> None:
    # In a process of its own: in this one, another test's LocalAws may be running.
    done = run_python(HANDLER_CHECK)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "handler installed only while running"


def test_aws_managed_policies_are_loaded_on_request() -> None:
    # Each account's IAM is created on its first call, with the setting of that moment.
    def attach(aws: LocalAws, account: str) -> None:
        aws.create_role_with_policy("Reader", {"Statement": []}, account_id=account)
        aws.iam_client(account).attach_role_policy(
            RoleName="Reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )

    with LocalAws() as plain, pytest.raises(ClientError, match=r"NoSuchEntity|does not exist"):
        attach(plain, "111111111111")
    with LocalAws(aws_managed_policies=True) as loaded:
        attach(loaded, "222222222222")
        policies = loaded.iam_client("222222222222").list_attached_role_policies(RoleName="Reader")
        assert [p["PolicyName"] for p in policies["AttachedPolicies"]] == ["ReadOnlyAccess"]


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    keys = IdpKeyPair.generate()
    with LocalAws() as aws:
        provider = aws.create_saml_provider("JumpCloud", keys.metadata_xml())
        other = aws.create_saml_provider("Other", IdpKeyPair.generate().metadata_xml())
        wrong_aud = saml_trust_policy(provider)
        wrong_aud["Statement"][0]["Condition"]["StringEquals"]["SAML:aud"] = "https://x.example/"
        yield Setup(
            aws=aws,
            keys=keys,
            provider=provider,
            role_ro=aws.create_role("AcmeJumpCloudAdminRO", trusted_principal_arn=provider),
            role_admin=aws.create_role(
                "AcmeJumpCloudAdmin", trusted_principal_arn=provider, max_session_duration=7200
            ),
            role_other_idp=aws.create_role("OtherIdpRole", trusted_principal_arn=other),
            role_wrong_aud=aws.create_role_with_policy("WrongAudRole", wrong_aud),
            sts=boto3.client(
                "sts",
                endpoint_url=aws.endpoint_url,
                region_name="us-east-1",
                config=Config(signature_version=botocore.UNSIGNED),
            ),
        )


def test_environment_points_sdks_here_without_credentials(setup: Setup) -> None:
    env = setup.aws.environment()
    url = setup.aws.endpoint_url
    assert env["AWS_ENDPOINT_URL_STS"] == env["AWS_ENDPOINT_URL_IAM"] == url
    assert env["AWS_ENDPOINT_URL"] == url
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert not [k for k in env if "KEY" in k or "TOKEN" in k or "PROFILE" in k]


def test_roles_and_providers_live_in_the_designs_account(setup: Setup) -> None:
    assert setup.provider == f"arn:aws:iam::{ACCOUNT}:saml-provider/JumpCloud"
    assert setup.role_ro == f"arn:aws:iam::{ACCOUNT}:role/AcmeJumpCloudAdminRO"


# --- success ----------------------------------------------------------------------------------


def test_two_role_assertion_works_for_each_role(setup: Setup) -> None:
    assertion = setup.b64(setup.role_ro, setup.role_admin, role_session_name="alice")
    for role, name in (
        (setup.role_ro, "AcmeJumpCloudAdminRO"),
        (setup.role_admin, "AcmeJumpCloudAdmin"),
    ):
        answer = setup.assume(role, assertion)
        assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/alice"
        assert answer["AssumedRoleUser"]["Arn"] == assumed
        creds = answer["Credentials"]
        caller = boto3.client(
            "sts",
            endpoint_url=setup.aws.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        ).get_caller_identity()
        assert caller["Arn"] == assumed
        assert caller["Account"] == ACCOUNT
        assert setup.aws.calls[-1].ok and setup.aws.calls[-1].role_arn == role


def test_principal_first_values_work(setup: Setup) -> None:
    assertion = make_saml_response_b64(
        setup.keys, roles=[(setup.role_ro, setup.provider)], principal_first=True
    )
    answer = setup.assume(setup.role_ro, assertion)
    assert answer["AssumedRoleUser"]["Arn"].endswith("/AcmeJumpCloudAdminRO/alice@acme.example")
    assert answer["Subject"] == "alice@acme.example"
    assert answer["Issuer"] == "JumpCloud"


def _lifetime(answer: dict[str, Any]) -> float:
    expiration: datetime = answer["Credentials"]["Expiration"]
    return (expiration - datetime.now(UTC)).total_seconds()


def test_expiration_follows_duration_seconds(setup: Setup) -> None:
    assertion = setup.b64(setup.role_admin, session_duration=7200)
    answer = setup.assume(setup.role_admin, assertion, DurationSeconds=7200)
    assert 7200 - 10 < _lifetime(answer) <= 7200
    assert setup.aws.calls[-1].granted_duration == 7200


@pytest.mark.parametrize(
    ("session_duration", "expected"), [(1800, 1800), (7200, 3600), (None, 3600)]
)
def test_default_duration_is_capped_at_one_hour(
    setup: Setup, session_duration: int | None, expected: int
) -> None:
    answer = setup.assume(
        setup.role_admin, setup.b64(setup.role_admin, session_duration=session_duration)
    )
    assert expected - 10 < _lifetime(answer) <= expected
    assert setup.aws.calls[-1].duration_seconds is None
    assert setup.aws.calls[-1].granted_duration == expected


def test_sha1_signatures_are_accepted_as_aws_does(setup: Setup) -> None:
    xml = build_saml_response(roles=[(setup.role_ro, setup.provider)])
    signed = sign_saml_response(
        xml, setup.keys, signature_algorithm="rsa-sha1", digest_algorithm="sha1"
    )
    setup.assume(setup.role_ro, base64.b64encode(signed).decode())


@pytest.mark.parametrize("mode", ["response", "both"])
def test_signed_response_is_accepted(setup: Setup, mode: str) -> None:
    xml = build_saml_response(roles=[(setup.role_ro, setup.provider)])
    signed = sign_saml_response(xml, setup.keys, sign=mode)  # type: ignore[arg-type]
    setup.assume(setup.role_ro, base64.b64encode(signed).decode())


def test_alternative_aws_audience_is_accepted(setup: Setup) -> None:
    setup.assume(setup.role_ro, setup.b64(audience="https://signin.aws.amazon.com/saml"))


# --- rejections -------------------------------------------------------------------------------


def test_signature_by_another_key_is_rejected(setup: Setup) -> None:
    forged = make_saml_response_b64(IdpKeyPair.generate(), roles=[(setup.role_ro, setup.provider)])
    assert setup.rejected(setup.role_ro, forged)["Code"] == "InvalidIdentityToken"


def test_unsigned_and_tampered_assertions_are_rejected(setup: Setup) -> None:
    unsigned = build_saml_response(roles=[(setup.role_ro, setup.provider)])
    assert setup.rejected(setup.role_ro, base64.b64encode(unsigned).decode())["Code"] == (
        "InvalidIdentityToken"
    )
    signed = sign_saml_response(
        build_saml_response(roles=[(setup.role_ro, setup.provider)], subject="bob@acme.example"),
        setup.keys,
    )
    tampered = signed.replace(b"bob@acme.example", b"eve@acme.example")
    assert setup.rejected(setup.role_ro, base64.b64encode(tampered).decode())["Code"] == (
        "InvalidIdentityToken"
    )


def test_roles_outside_the_signed_assertion_are_ignored(setup: Setup) -> None:
    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
    genuine = etree.fromstring(
        sign_saml_response(build_saml_response(roles=[(setup.role_ro, setup.provider)]), setup.keys)
    )
    evil = etree.fromstring(build_saml_response(roles=[(setup.role_admin, setup.provider)]))
    evil_assertion = evil.find("saml:Assertion", ns)
    genuine_assertion = genuine.find("saml:Assertion", ns)
    assert evil_assertion is not None and genuine_assertion is not None
    genuine_assertion.addprevious(evil_assertion)
    wrapped = base64.b64encode(etree.tostring(genuine)).decode()
    error = setup.rejected(setup.role_admin, wrapped)
    assert error["Code"] in {"AccessDenied", "InvalidIdentityToken"}


def test_pair_not_offered_is_access_denied(setup: Setup) -> None:
    error = setup.rejected(setup.role_admin, setup.b64(setup.role_ro))
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == "Not authorized to perform sts:AssumeRoleWithSAML"


def test_unregistered_principal_is_invalid_identity_token(setup: Setup) -> None:
    ghost = f"arn:aws:iam::{ACCOUNT}:saml-provider/Ghost"
    assertion = make_saml_response_b64(setup.keys, roles=[(setup.role_ro, ghost)])
    error = setup.rejected(setup.role_ro, assertion, provider=ghost)
    assert error["Code"] == "InvalidIdentityToken"


def test_missing_role_is_access_denied(setup: Setup) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/DoesNotExist"
    assert setup.rejected(missing, setup.b64(missing))["Code"] == "AccessDenied"


def test_role_trusting_another_provider_is_access_denied(setup: Setup) -> None:
    role = setup.role_other_idp
    assert setup.rejected(role, setup.b64(role))["Code"] == "AccessDenied"


def test_trust_policy_conditions_are_enforced(setup: Setup) -> None:
    role = setup.role_wrong_aud
    assert setup.rejected(role, setup.b64(role))["Code"] == "AccessDenied"


def test_foreign_audience_is_invalid_identity_token(setup: Setup) -> None:
    error = setup.rejected(setup.role_ro, setup.b64(audience="https://app.example/saml"))
    assert error["Code"] == "InvalidIdentityToken"


def test_expired_assertion_is_expired_token(setup: Setup) -> None:
    stale = setup.b64(now=datetime.now(UTC) - timedelta(minutes=10))
    assert setup.rejected(setup.role_ro, stale)["Code"] == "ExpiredTokenException"


@pytest.mark.parametrize("duration", [899, 43201])
def test_duration_outside_aws_range_is_validation_error(setup: Setup, duration: int) -> None:
    # botocore refuses 899 itself; switch that off to see what the server says, as other SDKs would.
    unchecked = boto3.client(
        "sts",
        endpoint_url=setup.aws.endpoint_url,
        region_name="us-east-1",
        config=Config(signature_version=botocore.UNSIGNED, parameter_validation=False),
    )
    with pytest.raises(ClientError) as caught:
        unchecked.assume_role_with_saml(
            RoleArn=setup.role_ro,
            PrincipalArn=setup.provider,
            SAMLAssertion=setup.b64(),
            DurationSeconds=duration,
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "durationSeconds" in error["Message"]
    assert setup.aws.calls[-1].code == "ValidationError"
    assert setup.aws.calls[-1].duration_seconds == duration


def test_duration_above_role_maximum_is_validation_error(setup: Setup) -> None:
    error = setup.rejected(setup.role_ro, setup.b64(session_duration=7200), DurationSeconds=7200)
    assert error["Code"] == "ValidationError"
    assert error["Message"] == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )


def test_duration_above_session_duration_is_validation_error(setup: Setup) -> None:
    assertion = setup.b64(setup.role_admin, session_duration=1800)
    error = setup.rejected(setup.role_admin, assertion, DurationSeconds=3600)
    assert error["Code"] == "ValidationError"
    assert "SessionDuration" in error["Message"]


def test_error_answers_are_aws_error_documents(setup: Setup) -> None:
    body = urllib.parse.urlencode(
        {
            "Action": "AssumeRoleWithSAML",
            "Version": "2011-06-15",
            "RoleArn": setup.role_ro,
            "PrincipalArn": setup.provider,
            "SAMLAssertion": setup.b64(audience="urn:example"),
        }
    ).encode()
    request = urllib.request.Request(setup.aws.endpoint_url + "/", data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    root = etree.fromstring(caught.value.read())
    assert etree.QName(root).localname == "ErrorResponse"
    ns = {"e": etree.QName(root).namespace or ""}
    assert root.findtext("e:Error/e:Type", namespaces=ns) == "Sender"
    assert root.findtext("e:Error/e:Code", namespaces=ns) == "InvalidIdentityToken"
    assert root.findtext("e:Error/e:Message", namespaces=ns)


# --- the AWS CLI as a consumer ----------------------------------------------------------------


def _aws_cli() -> list[str]:
    beside_python = Path(sys.executable).with_name("aws")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("aws")
    if found is None:
        pytest.skip("the AWS CLI (awscli) is not installed")
    return [found]


def test_aws_cli_reports_the_assumed_role(setup: Setup, tmp_path: Path) -> None:
    answer = setup.assume(setup.role_ro, setup.b64(role_session_name="alice"))
    creds = answer["Credentials"]
    credentials_file = tmp_path / "credentials"
    parser = configparser.ConfigParser()
    parser["production"] = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    with credentials_file.open("w") as handle:
        parser.write(handle)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(setup.aws.environment())
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials_file),
    )
    result = subprocess.run(
        [
            *_aws_cli(),
            "--profile",
            "production",
            "sts",
            "get-caller-identity",
            "--output",
            "text",
            "--query",
            "Arn",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip() == f"arn:aws:sts::{ACCOUNT}:assumed-role/AcmeJumpCloudAdminRO/alice"
    )


def test_latency_holds_every_answer_at_least_that_long(setup: Setup) -> None:
    with LocalAws(latency=0.2) as slow:
        client = boto3.client(
            "sts",
            endpoint_url=slow.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        )
        started = datetime.now(UTC)
        assert client.get_caller_identity()["Account"]
        # A lower bound only: the wait is a sleep, so the answer can never come sooner.
        assert datetime.now(UTC) - started >= timedelta(seconds=0.2)
    with pytest.raises(ValueError, match="latency"):
        LocalAws(latency=-1)
