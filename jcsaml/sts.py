"""Exchanging a SAML assertion for temporary credentials with STS AssumeRoleWithSAML.

The call is unsigned, so no AWS credentials or profile are needed. botocore honours the SDK's
endpoint overrides (``AWS_ENDPOINT_URL_STS``, ``AWS_ENDPOINT_URL``): that is how tests reach a local
STS. botocore is imported only inside the functions that call AWS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from jcsaml.credentials import AwsCredentials
from jcsaml.errors import StsError, StsUnavailableError
from jcsaml.saml import AwsRole

DEFAULT_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}

_OVERRIDE_HINT = (
    "; this endpoint comes from AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or the AWS config file"
)
_HINTS = {
    "AccessDenied": (
        "; check that the role exists and its trust policy lets the SAML provider {principal} "
        "call sts:AssumeRoleWithSAML"
    ),
    "InvalidIdentityToken": (
        "; check that the IAM SAML provider {principal} holds JumpCloud's current metadata"
    ),
    "ExpiredTokenException": "; the SAML assertion expired: log in again (and check the clock)",
}


class StsClient(Protocol):
    """The part of botocore's STS client jcsaml uses."""

    def assume_role_with_saml(self, **kwargs: Any) -> dict[str, Any]: ...


class AssumeRoleClient(Protocol):
    """The part of botocore's STS client ``assume_role`` uses."""

    def assume_role(self, **kwargs: Any) -> dict[str, Any]: ...


def region_for(role: AwsRole, region: str | None) -> str:
    """The configured region, else the partition's usual STS region."""
    return region or DEFAULT_REGIONS.get(role.partition, "us-east-1")


def make_client(region: str) -> StsClient:
    """An unsigned STS client that ignores AWS_PROFILE (the profile may not exist yet)."""
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config

    # The profile variable is read from neither environment nor config: jcsaml is about to write
    # that profile, and botocore would refuse to start if it named a missing one.
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    client: StsClient = session.create_client(
        "sts",
        region_name=region,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 3, "mode": "standard"}),
    )
    return client


def assume_role_with_saml(
    role: AwsRole,
    saml_assertion: str,
    *,
    duration: int | None = None,
    region: str | None = None,
    client: StsClient | None = None,
) -> AwsCredentials:
    """Call AssumeRoleWithSAML. Raises StsError (with ``.code``) or StsUnavailableError."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    region_name = region_for(role, region)
    sts = client or make_client(region_name)
    params: dict[str, Any] = {
        "RoleArn": role.role_arn,
        "PrincipalArn": role.principal_arn,
        "SAMLAssertion": saml_assertion,
    }
    if duration:
        params["DurationSeconds"] = duration
    try:
        answer = sts.assume_role_with_saml(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        raise StsError(
            role_arn=role.role_arn,
            code=code,
            message=str(error.get("Message", "no message")).rstrip("."),
            hint=_HINTS.get(code, "").format(principal=role.principal_arn),
        ) from None
    except EndpointConnectionError:
        raise _unreachable(sts, role, "the connection failed") from None
    except BotoCoreError as exc:
        raise _unreachable(sts, role, type(exc).__name__) from None
    found = answer["Credentials"]
    expiration = found["Expiration"]
    if isinstance(expiration, str):
        expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    return AwsCredentials(
        access_key_id=found["AccessKeyId"],
        secret_access_key=found["SecretAccessKey"],
        session_token=found["SessionToken"],
        expiration=expiration.astimezone(UTC),
        role_arn=role.role_arn,
        assumed_role_arn=answer.get("AssumedRoleUser", {}).get("Arn", ""),
        region=region,
    )


def _unreachable(client: object, role: AwsRole, reason: str) -> StsUnavailableError:
    endpoint = str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "STS")
    host = urlsplit(endpoint).hostname or ""
    standard = host.endswith((".amazonaws.com", ".amazonaws.com.cn"))
    return StsUnavailableError(
        role_arn=role.role_arn,
        code="",
        message="",
        hint="",
        endpoint=endpoint,
        reason=reason,
        override="" if standard else _OVERRIDE_HINT,
    )


def assume_role(
    source: AwsCredentials,
    role_arn: str,
    *,
    profile: str,
    session_name: str | None = None,
    duration: int | None = None,
    external_id: str | None = None,
    region: str | None = None,
    client: AssumeRoleClient | None = None,
) -> AwsCredentials:
    """sts:AssumeRole into ``role_arn`` signed with ``source`` (what ``exec --exec-profile``
    does with a profile's ``role_arn``). Raises AssumeRoleError or StsUnavailableError."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from jcsaml.errors import AssumeRoleError

    target = AwsRole(role_arn=role_arn, principal_arn="")
    sts = client or _signed_client(source, region_for(target, region))
    params: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name or _session_name(source),
    }
    if duration:
        params["DurationSeconds"] = duration
    if external_id:
        params["ExternalId"] = external_id
    try:
        answer = sts.assume_role(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AssumeRoleError(
            role_arn=role_arn,
            profile=profile,
            code=str(error.get("Code", "Unknown")),
            message=str(error.get("Message", "no message")).rstrip("."),
            hint="",
            source_role=source.role_arn or "the signed-in role",
        ) from None
    except EndpointConnectionError:
        raise _unreachable(sts, target, "the connection failed") from None
    except BotoCoreError as exc:
        raise _unreachable(sts, target, type(exc).__name__) from None
    found = answer["Credentials"]
    expiration = found["Expiration"]
    if isinstance(expiration, str):
        expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    return AwsCredentials(
        access_key_id=found["AccessKeyId"],
        secret_access_key=found["SecretAccessKey"],
        session_token=found["SessionToken"],
        expiration=expiration.astimezone(UTC),
        role_arn=role_arn,
        assumed_role_arn=answer.get("AssumedRoleUser", {}).get("Arn", ""),
        region=region,
    )


def _session_name(source: AwsCredentials) -> str:
    """The signed-in session's own name (the person), so CloudTrail still shows who it was."""
    name = source.assumed_role_arn.rsplit("/", 1)[-1] if source.assumed_role_arn else ""
    cleaned = "".join(c for c in name if c.isalnum() or c in "+=,.@_-")[:64]
    return cleaned if len(cleaned) >= 2 else "jcsaml"


def _signed_client(source: AwsCredentials, region: str) -> AssumeRoleClient:
    import botocore.session
    from botocore.config import Config

    # As in make_client: the shell's AWS_PROFILE must not be read (the credentials are given).
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    client: AssumeRoleClient = session.create_client(
        "sts",
        region_name=region,
        aws_access_key_id=source.access_key_id,
        aws_secret_access_key=source.secret_access_key,
        aws_session_token=source.session_token,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )
    return client
