"""The environment ``jcsaml exec`` gives the command it runs, how it finds that command, and
the JSON ``jcsaml credential-process`` prints.

One implementation for both ways in: the full CLI (:mod:`jcsaml.cli.exec_command`) and the
light entry (:mod:`jcsaml.launcher`) build the child's environment, look the command up and
write credential_process JSON with these functions, so the two can never hand out different
values.

Imports only os and typing at module level: it runs before every command ``jcsaml exec`` starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    class ExportableCredentials(Protocol):
        """What the child environment needs from credentials (``AwsCredentials`` has it)."""

        def to_environment(self, *, region: str | None = None) -> dict[str, str]: ...


#: Set in the child to the account's name: a nested ``jcsaml exec`` would switch accounts.
MARKER = "JCSAML_EXEC_ACCOUNT"
#: jcsaml's own inputs (some secret: the password, the MFA code) are not the command's.
OWN_PREFIX = "JCSAML_"

# Variables that would make the child use other credentials than the ones jcsaml sets.
CONFLICTING = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def credential_variables(
    *,
    access_key_id: str,
    secret_access_key: str,
    session_token: str,
    expiration: str,
    region: str | None,
) -> dict[str, str]:
    """The AWS variables for a set of credentials; ``expiration`` is RFC 3339 in UTC."""
    env = {
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret_access_key,
        "AWS_SESSION_TOKEN": session_token,
        "AWS_SECURITY_TOKEN": session_token,
        "AWS_CREDENTIAL_EXPIRATION": expiration,
    }
    if region:
        env["AWS_REGION"] = region
        env["AWS_DEFAULT_REGION"] = region
    return env


def credential_process_document(
    *, access_key_id: str, secret_access_key: str, session_token: str, expiration: str
) -> dict[str, object]:
    """The JSON document (version 1) the AWS SDKs read from a ``credential_process``;
    ``expiration`` is RFC 3339 in UTC."""
    return {
        "Version": 1,
        "AccessKeyId": access_key_id,
        "SecretAccessKey": secret_access_key,
        "SessionToken": session_token,
        "Expiration": expiration,
    }


def child_environment(
    base: Mapping[str, str],
    credentials: ExportableCredentials,
    account_name: str,
    *,
    region: str | None = None,
) -> dict[str, str]:
    """``base`` without conflicting AWS variables and without jcsaml's own inputs, plus the
    credentials (with ``region`` as AWS_REGION and AWS_DEFAULT_REGION when given) and the exec
    marker.

    Every ``JCSAML_*`` variable goes: they are jcsaml's inputs (some secret: the password, the
    MFA code), not the command's; the marker is the only one jcsaml sets for the child.
    """
    env = {
        key: value
        for key, value in base.items()
        if key not in CONFLICTING and not key.startswith(OWN_PREFIX)
    }
    env.update(credentials.to_environment(region=region))
    env[MARKER] = account_name
    return env


def find_command(command: str, env: Mapping[str, str]) -> str | None:
    """Where ``execvpe(command, ..., env)`` will find the command, or None when it won't."""
    import shutil  # only here: the light entry needs it for exec alone

    return shutil.which(command, path=env.get("PATH"))
