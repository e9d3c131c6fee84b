"""Role trust policies for SAML federation: the statement a role needs, and why one falls short.

AWS lets a SAML provider's users assume a role when the role's trust policy has an ``Allow``
statement for the action ``sts:AssumeRoleWithSAML`` whose ``Federated`` principal is the
provider's ARN and whose conditions hold. AWS sets the ``SAML:aud`` condition key to the sign-in
endpoint the assertion was posted to (the partition's ``https://signin.../saml``), which is what
the IAM console's trust policy compares it with.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jcsaml.admin.partition import signin_url

ACTION = "sts:AssumeRoleWithSAML"
_AUD_KEY = "saml:aud"
# Condition operators that compare SAML:aud with the listed values.
_EQUALS = ("stringequals", "stringequalsignorecase", "stringlike")


def saml_trust_statement(provider_arn: str, partition: str) -> dict[str, Any]:
    """The statement the IAM console writes for a role trusting a SAML provider."""
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": ACTION,
        "Condition": {"StringEquals": {"SAML:aud": signin_url(partition)}},
    }


def saml_trust_policy(provider_arn: str, partition: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [saml_trust_statement(provider_arn, partition)]}


def load_policy(document: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A policy as IAM returns it (a dict from boto3, or URL-encoded JSON text) as a dict."""
    if document is None:
        return {}
    if isinstance(document, Mapping):
        return dict(document)
    text = document if document.lstrip().startswith("{") else urllib.parse.unquote(document)
    try:
        policy = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return policy if isinstance(policy, dict) else {}


@dataclass(frozen=True)
class TrustVerdict:
    """Whether a trust policy lets one SAML provider assume the role, and why not.

    ``problems`` each stop AssumeRoleWithSAML; ``notes`` are conditions this check does not
    evaluate (they may or may not hold at login).
    """

    allowed: bool
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    trusted_providers: tuple[str, ...] = field(default=())


def statements(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = policy.get("Statement", [])
    return [s for s in _as_list(found) if isinstance(s, dict)]


def federated_principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return []
    return [str(p) for p in _as_list(principal.get("Federated", []))]


def covers_saml_action(statement: Mapping[str, Any]) -> bool:
    action = ACTION.lower()
    if "Action" in statement:
        return any(
            fnmatch.fnmatchcase(action, str(p).lower()) for p in _as_list(statement["Action"])
        )
    if "NotAction" in statement:
        return not any(
            fnmatch.fnmatchcase(action, str(p).lower()) for p in _as_list(statement["NotAction"])
        )
    return False


def trusted_saml_providers(policy: Mapping[str, Any]) -> list[str]:
    """The SAML provider ARNs that Allow statements for the SAML action name."""
    found: list[str] = []
    for statement in statements(policy):
        if statement.get("Effect") == "Allow" and covers_saml_action(statement):
            for arn in federated_principals(statement):
                if ":saml-provider/" in arn and arn not in found:
                    found.append(arn)
    return found


def judge_trust(policy: Mapping[str, Any], provider_arn: str, partition: str) -> TrustVerdict:
    """Would AssumeRoleWithSAML through ``provider_arn`` pass this trust policy?"""
    audience = signin_url(partition)
    trusted = tuple(trusted_saml_providers(policy))
    problems: list[str] = []
    notes: list[str] = []
    allowed = False
    for statement in statements(policy):
        if provider_arn not in federated_principals(statement) or not covers_saml_action(statement):
            continue
        conditions = statement.get("Condition", {})
        conditions = conditions if isinstance(conditions, dict) else {}
        audience_problem = _audience_problem(conditions, audience)
        others = sorted(
            {
                key
                for operator, pairs in conditions.items()
                if isinstance(pairs, dict)
                for key in pairs
                if not (key.lower() == _AUD_KEY and operator.lower() in _EQUALS)
            }
        )
        if statement.get("Effect") == "Deny":
            if not conditions:
                problems.append(f"a Deny statement refuses {ACTION} to {provider_arn}")
            continue
        if statement.get("Effect") != "Allow":
            continue
        if audience_problem:
            problems.append(audience_problem)
            continue
        allowed = True
        if others:
            notes.append(f"conditions on {', '.join(others)} are not checked here")
    if not trusted:
        problems.append(f"it trusts no SAML provider with {ACTION}")
    elif provider_arn not in trusted:
        problems.append(f"it trusts {', '.join(trusted)}, not {provider_arn}")
    elif not allowed and not problems:
        problems.append(f"no Allow statement lets {provider_arn} call {ACTION}")
    if allowed:
        # An explicit Deny beats every Allow.
        allowed = not any(p.startswith("a Deny statement") for p in problems)
    return TrustVerdict(
        allowed=allowed and not problems,
        problems=tuple(dict.fromkeys(problems)),
        notes=tuple(dict.fromkeys(notes)),
        trusted_providers=trusted,
    )


def with_provider_trusted(
    policy: Mapping[str, Any], provider_arn: str, partition: str
) -> dict[str, Any]:
    """``policy`` with every statement about ``provider_arn`` replaced by the console's one.

    Statements about other principals (another IdP, an AWS service) are kept as they are.
    """
    kept = [
        copy.deepcopy(s) for s in statements(policy) if provider_arn not in federated_principals(s)
    ]
    return {
        "Version": str(policy.get("Version") or "2012-10-17"),
        "Statement": [*kept, saml_trust_statement(provider_arn, partition)],
    }


def _audience_problem(conditions: Mapping[str, Any], audience: str) -> str | None:
    for operator, pairs in conditions.items():
        if not isinstance(pairs, dict):
            continue
        for key, expected in pairs.items():
            if key.lower() != _AUD_KEY:
                continue
            wanted = [str(v) for v in _as_list(expected)]
            base = operator.lower().split(":")[-1].removesuffix("ifexists")
            if base not in _EQUALS:
                return f"its {operator} condition on SAML:aud is not one jcsaml can judge"
            if base == "stringlike":
                matched = any(fnmatch.fnmatchcase(audience, w) for w in wanted)
            elif base == "stringequalsignorecase":
                matched = audience.lower() in (w.lower() for w in wanted)
            else:
                matched = audience in wanted
            if not matched:
                return (
                    f"its SAML:aud condition expects {', '.join(wanted)}, but AWS sets SAML:aud "
                    f"to {audience}"
                )
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
