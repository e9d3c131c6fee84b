"""IAM role and STS assumed-role ARNs: small pure functions.

Standard library only: the light entry (:mod:`jcsaml.light_lookup`) uses them too.
"""

from __future__ import annotations

import re

# Any partition: a principal is read back as it was written, never judged here.
_IAM_ROLE_ARN = r"arn:[\w-]+:iam::\d{12}:role/.+"


def role_arn_from_assumed_role(assumed_role_arn: str) -> str:
    """``arn:P:sts::A:assumed-role/NAME/SESSION`` -> ``arn:P:iam::A:role/NAME``.

    The role's path is not in the assumed-role ARN, so it is lost.
    """
    parts = assumed_role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return ""
    name = parts[5].split("/")[1]
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{name}"


def principal_roles(principal_arn: str) -> tuple[str, str]:
    """``x_principal_arn`` of a credentials profile -> (role ARN, assumed-role ARN).

    jcsaml writes the assumed-role ARN there, or the role's own ARN when it has none; anything
    else gives no role.
    """
    if re.fullmatch(_IAM_ROLE_ARN, principal_arn):
        return principal_arn, ""
    return role_arn_from_assumed_role(principal_arn), principal_arn


def same_role(role_arn_a: str, role_arn_b: str) -> bool:
    """Whether two IAM role ARNs name the same role, ignoring the role path."""

    def key(arn: str) -> tuple[str, str, str]:
        parts = arn.split(":", 5)
        if len(parts) != 6:
            return (arn, "", "")
        return (parts[1], parts[4], parts[5].rsplit("/", 1)[-1])

    return key(role_arn_a) == key(role_arn_b)


def role_matches(role_arn: str, wanted: str) -> bool:
    """Whether ``wanted``, as a person or a config gives it, names the IAM role ``role_arn``.

    ``wanted`` is a role ARN (the same role, whatever the role path: :func:`same_role`), or a
    role name (``AcmeJumpCloudAdminRO``), or a path and name (``ops/AcmeJumpCloudAdminRO``). An
    empty ``wanted`` names no role. This is the one meaning of ``--role``, ``role_arn`` and
    ``JCSAML_ROLE`` everywhere: choosing among the assertion's roles and recognising cached
    credentials alike.
    """
    if not wanted:
        return False
    return same_role(role_arn, wanted) or role_arn == wanted or role_arn.endswith("/" + wanted)
