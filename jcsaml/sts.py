"""Exchanging a SAML assertion for temporary credentials with STS AssumeRoleWithSAML.

The call is unsigned, so no AWS credentials or profile are needed. botocore honours the SDK's
endpoint overrides (``AWS_ENDPOINT_URL_STS``, ``AWS_ENDPOINT_URL``): that is how tests reach a local
STS. botocore is imported only inside the functions that call AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import DEFAULT_STS_TIMEOUT
from jcsaml.errors import (
    StsBadAnswerError,
    StsError,
    StsGarbledAnswerError,
    StsTimeoutError,
    StsUnavailableError,
)
from jcsaml.partitions import DEFAULT_REGIONS as DEFAULT_REGIONS
from jcsaml.partitions import is_service_host
from jcsaml.saml import AwsRole

CONNECT_TIMEOUT = 10.0
# One retry: botocore's default (4 attempts of up to 60 s each) kept a login waiting for minutes.
TOTAL_ATTEMPTS = 2

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


class AssumeRoleClient(Protocol):
    """The part of botocore's STS client ``assume_role`` uses."""

    def assume_role(self, **kwargs: Any) -> dict[str, Any]: ...


def region_for(role: AwsRole, region: str | None) -> str:
    """The configured region, else the partition's usual STS region."""
    return region or DEFAULT_REGIONS.get(role.partition, DEFAULT_REGIONS["aws"])


def make_client(
    region: str, *, timeout: float = DEFAULT_STS_TIMEOUT, max_pool_connections: int = 10
) -> StsClient:
    """An unsigned STS client that ignores AWS_PROFILE (the profile may not exist yet), with
    explicit connect and read timeouts and one retry. It is thread-safe;
    ``max_pool_connections`` is how many calls may be in flight at once."""
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
            connect_timeout=min(CONNECT_TIMEOUT, timeout),
            read_timeout=timeout,
            retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
            max_pool_connections=max_pool_connections,
        ),
    )
    from jcsaml.bounded_http import bound_botocore_client

    return bound_botocore_client(client)  # type: ignore[no-any-return]


def assume_role_with_saml(
    role: AwsRole,
    saml_assertion: str,
    *,
    duration: int | None = None,
    region: str | None = None,
    client: StsClient | None = None,
    timeout: float = DEFAULT_STS_TIMEOUT,
    policy_arns: Sequence[str] = (),
    policy: str | None = None,
) -> AwsCredentials:
    """Call AssumeRoleWithSAML (with the session policies ``policy_arns`` and ``policy``, a
    JSON document, when given); the whole call, retries included, takes at most ``timeout``
    seconds. Raises StsError (with ``.code``), StsUnavailableError, StsTimeoutError or
    StsBadAnswerError."""

    region_name = region_for(role, region)
    sts = client or make_client(region_name, timeout=timeout)
    params: dict[str, Any] = {
        "RoleArn": role.role_arn,
        "PrincipalArn": role.principal_arn,
        "SAMLAssertion": saml_assertion,
    }
    if duration:
        params["DurationSeconds"] = duration
    params.update(session_policy_params(policy_arns, policy))
    from jcsaml.recording import record_sts

    try:
        credentials = _credentials_call(
            sts,
            role,
            lambda: sts.assume_role_with_saml(**params),
            timeout=timeout,
            region=region,
            refused=lambda code, message: StsError(
                role_arn=role.role_arn,
                code=code,
                message=message,
                hint=_HINTS.get(code, "").format(principal=role.principal_arn),
            ),
        )
    except StsError as exc:
        record_sts(
            "AssumeRoleWithSAML", params, str(getattr(exc, "code", "") or type(exc).__name__)
        )
        raise
    record_sts("AssumeRoleWithSAML", params, "200")
    return credentials


def _credentials_call(
    sts: Any,
    target: AwsRole,
    call: Callable[[], dict[str, Any]],
    *,
    timeout: float,
    region: str | None,
    refused: Callable[[str, str], Exception],
) -> AwsCredentials:
    """Run one STS call that answers with Credentials, within ``timeout`` seconds.

    An STS error document becomes ``refused(code, message)``; a timeout, an unreachable
    endpoint and an answer that is not STS's become StsTimeoutError, StsUnavailableError and
    StsBadAnswerError."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
    from botocore.parsers import ResponseParserError

    from jcsaml.bounded_http import deadline

    statuses: list[str] = []
    _watch_statuses(sts)

    try:
        # botocore's timeouts bound each socket read, not the call: an endpoint sending a byte
        # now and then would keep it going. The deadline bounds the whole call, retries
        # included, on the connections of clients made by make_client and _signed_client.
        # The recorder is shared by every call on the client: this thread says where the
        # statuses it causes go, so a parallel call's answer is never taken for this one's.
        _STATUSES.seen = statuses
        with deadline(timeout) as bound:
            try:
                answer = call()
            except Exception:
                if bound.expired:
                    raise TimeoutError from None
                raise
            finally:
                _STATUSES.seen = None
    except TimeoutError:
        _close(sts)
        raise _failure(StsTimeoutError, sts, target, seconds=timeout) from None
    except ClientError as exc:
        error = exc.response.get("Error")
        code = str((error or {}).get("Code", "Unknown"))
        if not isinstance(error, dict) or code.isdigit():
            # No STS error document: botocore then parses whatever came (a proxy's or load
            # balancer's HTML page), or names the error after the HTTP status.
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            raise _failure(StsBadAnswerError, sts, target, status=status) from None
        raise refused(code, str(error.get("Message", "no message")).rstrip(".")) from None
    except EndpointConnectionError:
        raise _unreachable(sts, target, "the connection failed") from None
    except (ResponseParserError, KeyError):
        # KeyError: botocore's parser on XML that lacks the operation's Result element.
        status = statuses[-1] if statuses else "?"
        raise _failure(StsBadAnswerError, sts, target, status=status) from None
    except BotoCoreError as exc:
        garbled = _garbled(exc)
        if garbled:  # an answer came, but not one in HTTP: not a connection failure
            raise _failure(StsGarbledAnswerError, sts, target, what=garbled) from None
        raise _unreachable(sts, target, type(exc).__name__) from None
    try:
        found = answer["Credentials"]
        expiration = found["Expiration"]
        if isinstance(expiration, str):
            expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        keys = (found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"])
    except (KeyError, TypeError, ValueError):
        status = statuses[-1] if statuses else "200"
        raise _failure(StsBadAnswerError, sts, target, status=status) from None
    return AwsCredentials(
        access_key_id=keys[0],
        secret_access_key=keys[1],
        session_token=keys[2],
        expiration=expiration.astimezone(UTC),
        role_arn=target.role_arn,
        assumed_role_arn=answer.get("AssumedRoleUser", {}).get("Arn", ""),
        region=region,
    )


def _garbled(error: Exception) -> str:
    """What was wrong with an answer that is not HTTP (or is cut short), or "" when the
    connection failed instead (refused, reset or closed before any answer)."""
    import http.client

    inner = getattr(error, "kwargs", {}).get("error")
    for cause in (inner, *getattr(inner, "args", ()), error.__context__):
        if isinstance(cause, ConnectionError):  # RemoteDisconnected: closed, no answer
            return ""
        if isinstance(cause, http.client.IncompleteRead):
            return "the answer stopped before its announced end"
        if isinstance(cause, http.client.HTTPException):
            return "not an HTTP answer"
    text = str(error)
    if "IncompleteRead" in text:
        return "the answer stopped before its announced end"
    if "BadStatusLine" in text or "LineTooLong" in text:
        return "not an HTTP answer"
    return ""


#: Where the HTTP statuses seen by the calling thread's STS call go (None: nowhere).
_STATUSES = threading.local()


def _record_status(response_dict: Mapping[str, Any], **_: Any) -> None:
    seen: list[str] | None = getattr(_STATUSES, "seen", None)
    if seen is not None:
        seen.append(str(response_dict.get("status_code", "?")))


def _watch_statuses(client: StsClient) -> None:
    """Record the HTTP status of each answer the client parses, for errors about unparsable
    ones. One handler per client however many calls it makes (botocore keeps one per id)."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is not None:
        events.register("before-parse.sts", _record_status, unique_id="jcsaml-sts-status")


def _close(client: object) -> None:
    """Drop the client's idle connections after giving up (botocore clients have close())."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


def _endpoint(client: object) -> tuple[str, str]:
    """The endpoint URL and the hint naming where a non-AWS endpoint comes from."""
    endpoint = str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "STS")
    host = urlsplit(endpoint).hostname or ""
    standard = is_service_host(host)
    return endpoint, "" if standard else _OVERRIDE_HINT


def _failure(kind: type[StsError], client: object, role: AwsRole, **fields: Any) -> StsError:
    endpoint, override = _endpoint(client)
    return kind(
        role_arn=role.role_arn,
        code="",
        message="",
        hint="",
        endpoint=endpoint,
        override=override,
        **fields,
    )


def _unreachable(client: object, role: AwsRole, reason: str) -> StsError:
    return _failure(StsUnavailableError, client, role, reason=reason)


def assume_role(
    source: AwsCredentials,
    role_arn: str,
    *,
    profile: str,
    session_name: str | None = None,
    duration: int | None = None,
    external_id: str | None = None,
    region: str | None = None,
    client: AssumeRoleClient | None = None,
    timeout: float = DEFAULT_STS_TIMEOUT,
    policy_arns: Sequence[str] = (),
    policy: str | None = None,
) -> AwsCredentials:
    """sts:AssumeRole into ``role_arn`` signed with ``source`` (what ``exec --exec-profile``
    does with a profile's ``role_arn``); the whole call takes at most ``timeout`` seconds.
    Raises AssumeRoleError, StsUnavailableError, StsTimeoutError or StsBadAnswerError."""

    from jcsaml.errors import AssumeRoleError

    target = AwsRole(role_arn=role_arn, principal_arn="")
    sts = client or _signed_client(source, region_for(target, region), timeout=timeout)
    params: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name or _session_name(source),
    }
    if duration:
        params["DurationSeconds"] = duration
    if external_id:
        params["ExternalId"] = external_id
    params.update(session_policy_params(policy_arns, policy))
    return _credentials_call(
        sts,
        target,
        lambda: sts.assume_role(**params),
        timeout=timeout,
        region=region,
        refused=lambda code, message: AssumeRoleError(
            role_arn=role_arn,
            profile=profile,
            code=code,
            message=message,
            hint="",
            source_role=source.role_arn or "the signed-in role",
        ),
    )


def session_policy_params(policy_arns: Sequence[str], policy: str | None) -> dict[str, Any]:
    """STS's ``PolicyArns`` and ``Policy`` parameters (session policies), when given."""
    params: dict[str, Any] = {}
    if policy_arns:
        params["PolicyArns"] = [{"arn": arn} for arn in policy_arns]
    if policy:
        params["Policy"] = policy
    return params


def _session_name(source: AwsCredentials) -> str:
    """The signed-in session's own name (the person), so CloudTrail still shows who it was."""
    name = source.assumed_role_arn.rsplit("/", 1)[-1] if source.assumed_role_arn else ""
    cleaned = "".join(c for c in name if c.isalnum() or c in "+=,.@_-")[:64]
    return cleaned if len(cleaned) >= 2 else "jcsaml"


def _signed_client(
    source: AwsCredentials, region: str, *, timeout: float = DEFAULT_STS_TIMEOUT
) -> AssumeRoleClient:
    import botocore.session
    from botocore.config import Config

    # As in make_client: the shell's AWS_PROFILE must not be read (the credentials are given).
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    client: AssumeRoleClient = session.create_client(
        "sts",
        region_name=region,
        aws_access_key_id=source.access_key_id,
        aws_secret_access_key=source.secret_access_key,
        aws_session_token=source.session_token,
        config=Config(
            connect_timeout=min(CONNECT_TIMEOUT, timeout),
            read_timeout=timeout,
            retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
        ),
    )
    from jcsaml.bounded_http import bound_botocore_client

    return bound_botocore_client(client)  # type: ignore[no-any-return]
