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


def region_for(role: AwsRole, region: str | None) -> str:
    """The configured region, else the partition's usual STS region."""
    return region or DEFAULT_REGIONS.get(role.partition, "us-east-1")


def make_client(region: str, *, max_pool_connections: int = 10) -> StsClient:
    """An unsigned STS client that ignores AWS_PROFILE (the profile may not exist yet).

    It is thread-safe; ``max_pool_connections`` is how many calls may be in flight at once.
    """
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config

    # The profile variable is read from neither environment nor config: jcsaml is about to write
    # that profile, and botocore would refuse to start if it named a missing one.
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    client: StsClient = session.create_client(
        "sts",
        region_name=region,
        config=Config(
            signature_version=UNSIGNED,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=max_pool_connections,
        ),
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


def _unreachable(client: StsClient, role: AwsRole, reason: str) -> StsUnavailableError:
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
