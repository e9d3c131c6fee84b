"""Temporary AWS credentials, as handed to the tools that use them.

Standard library only. The instant paths (:mod:`jcsaml.launcher`) read cached credentials through
:mod:`jcsaml.light_lookup` instead, which avoids even ``dataclasses`` and ``datetime``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

# Re-exported: these were defined here first.
from jcsaml.arn import role_arn_from_assumed_role, same_role
from jcsaml.environment import credential_process_document, credential_variables

__all__ = ["AwsCredentials", "role_arn_from_assumed_role", "same_role"]


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

        return credential_variables(
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            session_token=self.session_token,
            expiration=self.expiration_rfc3339(),
            region=region or self.region,
        )

    def to_credential_process(self) -> dict[str, Any]:
        """The JSON document the AWS SDKs expect from a ``credential_process``."""

        return credential_process_document(
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            session_token=self.session_token,
            expiration=self.expiration_rfc3339(),
        )

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
