"""What differs between AWS partitions for SAML federation: sign-in URL, ARNs, policy names."""

from __future__ import annotations

import re

#: The sign-in SAML endpoint of each partition: where JumpCloud posts the assertion, and the
#: value AWS gives the ``SAML:aud`` condition key.
SAML_SIGNIN_URLS = {
    "aws": "https://signin.aws.amazon.com/saml",
    "aws-cn": "https://signin.amazonaws.cn/saml",
    "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
}

#: Shortcuts for the AWS managed policies the runbook's roles use.
POLICY_SHORTCUTS = {
    "readonly": "ReadOnlyAccess",
    "admin": "AdministratorAccess",
    "billing": "job-function/Billing",
    "ec2": "AmazonEC2FullAccess",
}

_POLICY_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]+(/[\w+=,.@-]+)*$")


def signin_url(partition: str) -> str:
    """The partition's sign-in SAML URL; KeyError for a partition without SAML sign-in."""
    return SAML_SIGNIN_URLS[partition]


def policy_arn(policy: str, partition: str) -> str | None:
    """The ARN a ``--role`` policy stands for, or None when it is none of: a shortcut, an AWS
    managed policy name (``PowerUserAccess``, ``job-function/ViewOnlyAccess``) or a full policy
    ARN in ``partition``."""
    if policy.startswith("arn:"):
        match = _POLICY_ARN.match(policy)
        return policy if match and match.group(1) == partition else None
    name = POLICY_SHORTCUTS.get(policy.lower(), policy)
    if not _POLICY_NAME.match(name):
        return None
    return f"arn:{partition}:iam::aws:policy/{name}"


def provider_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:saml-provider/{name}"


def role_arn(partition: str, account: str, name: str, path: str = "/") -> str:
    return f"arn:{partition}:iam::{account}:role{path}{name}"
