"""Role trust policies for SAML federation: the statement a role needs, and why one falls short.

AWS lets a SAML provider's users assume a role when the role's trust policy has an ``Allow``
statement for the action ``sts:AssumeRoleWithSAML`` whose ``Federated`` principal is the
provider's ARN and whose conditions hold. AWS sets the ``SAML:aud`` condition key to the sign-in
endpoint the assertion was posted to: the partition's global ``https://signin.../saml`` or a
regional ``https://REGION.signin.../saml`` (which AWS recommends), the ACS URL the JumpCloud
application posts to. A trust policy may list several; each is a way in.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jcsaml.partitions import is_saml_endpoint, signin_url

ACTION = "sts:AssumeRoleWithSAML"
_AUD_KEY = "saml:aud"
# Condition operators that compare SAML:aud with the listed values.
_EQUALS = ("stringequals", "stringequalsignorecase", "stringlike")


def saml_trust_statement(
    provider_arn: str, partition: str, endpoints: Sequence[str] = ()
) -> dict[str, Any]:
    """The statement the IAM console writes for a role trusting a SAML provider, with
    ``SAML:aud`` one endpoint URL (default: the partition's global one) or a list of them."""
    audiences = list(dict.fromkeys(endpoints)) or [signin_url(partition)]
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": ACTION,
        "Condition": {
            "StringEquals": {"SAML:aud": audiences[0] if len(audiences) == 1 else audiences}
        },
    }


def saml_trust_policy(
    provider_arn: str, partition: str, endpoints: Sequence[str] = ()
) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [saml_trust_statement(provider_arn, partition, endpoints)],
    }


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
    #: The sign-in SAML endpoints the Allow statements for the provider accept, in order.
    endpoints: tuple[str, ...] = field(default=())


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
    trusted = tuple(trusted_saml_providers(policy))
    problems: list[str] = []
    notes: list[str] = []
    endpoints: list[str] = []
    allowed = False
    for statement in statements(policy):
        if provider_arn not in federated_principals(statement) or not covers_saml_action(statement):
            continue
        conditions = statement.get("Condition", {})
        conditions = conditions if isinstance(conditions, dict) else {}
        audience_problem, accepted = _audience_problem(conditions, partition)
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
        endpoints.extend(accepted)
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
        endpoints=tuple(dict.fromkeys(endpoints)),
    )


def with_provider_trusted(
    policy: Mapping[str, Any], provider_arn: str, partition: str, endpoints: Sequence[str] = ()
) -> dict[str, Any]:
    """``policy`` with every statement about ``provider_arn`` replaced by the console's one.

    Its ``SAML:aud`` holds ``endpoints`` and every sign-in SAML endpoint the replaced statements
    already named (a regional endpoint an application posts to is kept: repaired, not
    replaced); with neither, the partition's global endpoint. Statements about other principals
    (another IdP, an AWS service) are kept as they are.
    """
    existing = [
        value
        for s in statements(policy)
        if provider_arn in federated_principals(s)
        for value in _audience_values(s)
        if is_saml_endpoint(value, partition)
    ]
    kept = [
        copy.deepcopy(s) for s in statements(policy) if provider_arn not in federated_principals(s)
    ]
    return {
        "Version": str(policy.get("Version") or "2012-10-17"),
        "Statement": [
            *kept,
            saml_trust_statement(provider_arn, partition, [*endpoints, *existing]),
        ],
    }


def _audience_values(statement: Mapping[str, Any]) -> list[str]:
    conditions = statement.get("Condition", {})
    if not isinstance(conditions, dict):
        return []
    return [
        str(value)
        for pairs in conditions.values()
        if isinstance(pairs, dict)
        for key, values in pairs.items()
        if key.lower() == _AUD_KEY
        for value in _as_list(values)
    ]


def _audience_problem(
    conditions: Mapping[str, Any], partition: str
) -> tuple[str | None, list[str]]:
    """Why no sign-in SAML endpoint of the partition passes the SAML:aud conditions (None when
    one does), and the endpoints that pass."""
    audience = signin_url(partition)
    accepted: list[str] = []
    for operator, pairs in conditions.items():
        if not isinstance(pairs, dict):
            continue
        for key, expected in pairs.items():
            if key.lower() != _AUD_KEY:
                continue
            wanted = [str(v) for v in _as_list(expected)]
            base = operator.lower().split(":")[-1].removesuffix("ifexists")
            if base not in _EQUALS:
                return f"its {operator} condition on SAML:aud is not one jcsaml can judge", []
            if base == "stringlike":
                matched = [
                    w
                    for w in wanted
                    if fnmatch.fnmatchcase(audience, w) or is_saml_endpoint(w, partition)
                ]
            elif base == "stringequalsignorecase":
                matched = [w for w in wanted if is_saml_endpoint(w.lower(), partition)]
            else:
                matched = [w for w in wanted if is_saml_endpoint(w, partition)]
            if not matched:
                regional = audience.replace("https://", "https://REGION.", 1)
                return (
                    f"its SAML:aud condition expects {', '.join(wanted)}, but AWS sets SAML:aud "
                    f"to {audience} (or a regional endpoint such as {regional})",
                    [],
                )
            accepted.extend(matched)
    return None, accepted or [audience]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
