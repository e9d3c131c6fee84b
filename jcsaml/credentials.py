"""Temporary AWS credentials, as handed to the tools that use them.

This module is on the hot path of ``jcsaml exec`` and ``credential-process``: standard library only.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclasses.dataclass(frozen=True)
class AwsCredentials:
    """Credentials from AssumeRoleWithSAML. ``expiration`` is timezone-aware (UTC).

    ``role_arn`` is the IAM role; ``assumed_role_arn`` is STS's ``AssumedRoleUser.Arn``
    (``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``), stored as ``x_principal_arn``.
    """

    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    session_token: str = dataclasses.field(repr=False)
    expiration: datetime
    role_arn: str
    assumed_role_arn: str = ""
    region: str | None = None

    def expires_within(self, seconds: float, *, now: datetime | None = None) -> bool:
        """True when the credentials expire less than ``seconds`` from ``now``."""
        current = now if now is not None else datetime.now(UTC)
        return self.expiration - current < timedelta(seconds=seconds)

    def expiration_rfc3339(self) -> str:
        return self.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_environment(self, *, region: str | None = None) -> dict[str, str]:
        """The variables ``jcsaml exec`` sets for the child process; ``region`` (when given)
        instead of the credentials' own."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_SECURITY_TOKEN": self.session_token,
            "AWS_CREDENTIAL_EXPIRATION": self.expiration_rfc3339(),
        }
        chosen = region or self.region
        if chosen:
            env["AWS_REGION"] = chosen
            env["AWS_DEFAULT_REGION"] = chosen
        return env

    def to_credential_process(self) -> dict[str, Any]:
        """The JSON document the AWS SDKs expect from a ``credential_process``."""
        return {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration_rfc3339(),
        }

    def boto3_session(self, **kwargs: Any) -> Any:
        """A ``boto3.Session`` using these credentials (imports boto3 only when called)."""
        import boto3

        kwargs.setdefault("region_name", self.region)
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            **kwargs,
        )


def role_arn_from_assumed_role(assumed_role_arn: str) -> str:
    """``arn:P:sts::A:assumed-role/NAME/SESSION`` -> ``arn:P:iam::A:role/NAME``.

    The role's path is not in the assumed-role ARN, so it is lost.
    """
    parts = assumed_role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return ""
    name = parts[5].split("/")[1]
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{name}"


def same_role(role_arn_a: str, role_arn_b: str) -> bool:
    """Whether two IAM role ARNs name the same role, ignoring the role path."""

    def key(arn: str) -> tuple[str, str, str]:
        parts = arn.split(":", 5)
        if len(parts) != 6:
            return (arn, "", "")
        return (parts[1], parts[4], parts[5].rsplit("/", 1)[-1])

    return key(role_arn_a) == key(role_arn_b)
