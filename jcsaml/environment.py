"""The environment ``jcsaml exec`` gives the command it runs, how it finds that command, and
the JSON ``jcsaml credential-process`` prints.

One implementation for both ways in: the full CLI (:mod:`jcsaml.cli.exec_command`) and the
light entry (:mod:`jcsaml.launcher`) build the child's environment, look the command up and
write credential_process JSON with these functions, so the two can never hand out different
values.

Imports only os and typing at module level: it runs before every command ``jcsaml exec`` starts.
"""

from __future__ import annotations

import os
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


#: The keys of credential_process JSON, each with the AWS variable that holds the same value.
PROCESS_KEYS = (
    ("AccessKeyId", "AWS_ACCESS_KEY_ID"),
    ("SecretAccessKey", "AWS_SECRET_ACCESS_KEY"),
    ("SessionToken", "AWS_SESSION_TOKEN"),
    ("Expiration", "AWS_CREDENTIAL_EXPIRATION"),
)


def credential_process_document(
    *, access_key_id: str, secret_access_key: str, session_token: str, expiration: str
) -> dict[str, object]:
    """The JSON document (version 1) the AWS SDKs read from a ``credential_process``;
    ``expiration`` is RFC 3339 in UTC. Its values are those of :func:`credential_variables`."""
    variables = credential_variables(
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
        expiration=expiration,
        region=None,
    )
    return {"Version": 1, **{key: variables[name] for key, name in PROCESS_KEYS}}


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


def check_runnable(name: str, search_path: str | None) -> None:
    """Raise what a shell would say (status 127 not found, 126 found but not runnable) before
    the command replaces jcsaml, so the message is jcsaml's one line."""
    from jcsaml.errors import CommandNotExecutableError, CommandNotFoundError

    if find_command(name, {} if search_path is None else {"PATH": search_path}) is not None:
        return
    if os.sep in name:
        candidates = [name]
    else:
        folders = (search_path if search_path is not None else os.defpath).split(os.pathsep)
        candidates = [os.path.join(folder or ".", name) for folder in folders]
    for candidate in candidates:
        if os.path.isdir(candidate) and os.sep in name:
            raise CommandNotExecutableError(command=name, reason="it is a directory")
        if os.path.isfile(candidate):
            raise CommandNotExecutableError(
                command=name,
                reason=f"{candidate} is not executable; make it so with chmod +x, or run it "
                "through its interpreter",
            )
    raise CommandNotFoundError(command=name)


def cannot_run(name: str, exc: OSError) -> Exception:
    """What a shell says when ``exec`` of an existing command fails with ``exc``."""
    import errno

    from jcsaml.errors import CommandNotExecutableError, CommandNotFoundError

    if exc.errno == errno.ENOENT:
        return CommandNotFoundError(command=name)
    reason = exc.strerror or type(exc).__name__
    if exc.errno == errno.ENOEXEC:
        reason = "it is not a program the system can run (a script needs a #! line)"
    return CommandNotExecutableError(command=name, reason=reason)
