"""The managed policies ``jcsaml setup`` gives a role, as ARNs in the role's partition (every
other partition fact lives in :mod:`jcsaml.partitions`)."""

from __future__ import annotations

import re

from jcsaml.partitions import policy_partition

#: Shortcuts for the AWS managed policies the runbook's roles use.
POLICY_SHORTCUTS = {
    "readonly": "ReadOnlyAccess",
    "admin": "AdministratorAccess",
    "billing": "job-function/Billing",
    "ec2": "AmazonEC2FullAccess",
}

_POLICY_NAME = re.compile(r"^[\w+=,.@-]+(/[\w+=,.@-]+)*$")


def policy_arn(policy: str, partition: str) -> str | None:
    """The ARN a ``--role`` policy stands for, or None when it is none of: a shortcut, an AWS
    managed policy name (``PowerUserAccess``, ``job-function/ViewOnlyAccess``) or a full policy
    ARN in ``partition``."""
    if policy.startswith("arn:"):
        return policy if policy_partition(policy) == partition else None
    name = POLICY_SHORTCUTS.get(policy.lower(), policy)
    if not _POLICY_NAME.match(name):
        return None
    return f"arn:{partition}:iam::aws:policy/{name}"
