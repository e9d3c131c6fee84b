"""The AWS web console: a federation sign-in URL made from temporary credentials.

AWS's federation endpoint turns session credentials into a sign-in token
(``Action=getSigninToken``); a URL with ``Action=login`` and that token then opens the console as
the role. Each partition has its own sign-in and console hosts. ``requests`` is imported only
when a token is fetched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from jcsaml.credentials import AwsCredentials
from jcsaml.errors import ConsoleSigninError, ConsoleUnavailableError, InvalidSettingError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

#: The bounds AWS sets on the console session's SessionDuration.
MIN_CONSOLE_SESSION = 900
MAX_CONSOLE_SESSION = 43200

# (sign-in host, console host) per partition.
HOSTS = {
    "aws": ("signin.aws.amazon.com", "console.aws.amazon.com"),
    "aws-us-gov": ("signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"),
    "aws-cn": ("signin.amazonaws.cn", "console.amazonaws.cn"),
}


class HttpGetter(Protocol):
    """The part of ``requests.Session`` used here."""

    def get(self, url: str, **kwargs: Any) -> requests.Response: ...


def partition_of(role_arn: str) -> str:
    """``arn:aws-us-gov:iam::...`` -> ``aws-us-gov``; anything unknown is the commercial one."""
    parts = role_arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] in HOSTS else "aws"


def federation_endpoint(partition: str, region: str | None = None) -> str:
    """The partition's federation endpoint; regional in the commercial partition when a region
    is known (the other partitions have one sign-in host)."""
    signin, _ = HOSTS.get(partition, HOSTS["aws"])
    if partition == "aws" and region:
        signin = f"{region}.{signin}"
    return f"https://{signin}/federation"


def console_home(partition: str, region: str | None = None) -> str:
    """Where the console opens by default: the home page, in ``region`` when given."""
    _, console = HOSTS.get(partition, HOSTS["aws"])
    if not region:
        return f"https://{console}/"
    if partition == "aws":
        console = f"{region}.{console}"
    return f"https://{console}/console/home?region={quote(region)}"


def check_destination(destination: str | None) -> None:
    """Raise InvalidSettingError unless ``destination`` is empty, a path or an https URL (worth
    knowing before anyone signs in)."""
    if not destination or destination.startswith("/"):
        return
    parts = urlsplit(destination)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidSettingError(
            setting="--destination",
            reason=f"{destination!r} must be an https:// console URL or a path such as /s3/home",
        )


def destination_url(destination: str | None, partition: str, region: str | None) -> str:
    """``destination`` as a console URL: a full https URL as it is, a path (``/s3/home``) on
    the partition's console host, nothing for the console's home page."""
    check_destination(destination)
    if not destination:
        return console_home(partition, region)
    if destination.startswith("/"):
        _, console = HOSTS.get(partition, HOSTS["aws"])
        if partition == "aws" and region:
            console = f"{region}.{console}"
        return f"https://{console}{destination}"
    return destination


def session_duration_for(credentials: AwsCredentials, *, now: datetime | None = None) -> int | None:
    """The console session length to ask for: what is left of the credentials, within AWS's
    bounds. None for credentials that did not come from AssumeRole* (AWS refuses it then)."""
    if credentials.assumed_role_arn and ":assumed-role/" not in credentials.assumed_role_arn:
        return None
    left = int((credentials.expiration - (now or datetime.now(UTC))).total_seconds())
    return max(MIN_CONSOLE_SESSION, min(MAX_CONSOLE_SESSION, left))


@dataclass(frozen=True)
class SigninToken:
    """A federation sign-in token; ``session_duration`` is what AWS accepted (None: omitted)."""

    token: str = ""
    session_duration: int | None = None

    def __repr__(self) -> str:  # the token opens the console: never shown
        return f"SigninToken(session_duration={self.session_duration!r})"


def get_signin_token(
    credentials: AwsCredentials,
    endpoint: str,
    *,
    session_duration: int | None = None,
    http: HttpGetter | None = None,
    timeout: float = 30.0,
) -> SigninToken:
    """``Action=getSigninToken`` with the credentials, asking for ``session_duration`` when
    given and asking again without it when the endpoint answers HTTP 400 to that.

    Raises ConsoleSigninError (the endpoint refused) or ConsoleUnavailableError (no answer).
    """
    session = json.dumps(
        {
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
        }
    )
    params: dict[str, str] = {"Action": "getSigninToken", "Session": session}
    if session_duration:
        with_duration = {**params, "SessionDuration": str(session_duration)}
        status, body = _get(http, endpoint, with_duration, timeout)
        if status == 200:
            return SigninToken(_token(body, endpoint), session_duration)
        if status != 400:
            raise ConsoleSigninError(endpoint=endpoint, status=status)
        # Some credentials (and some endpoints) refuse SessionDuration: the session then lasts
        # the endpoint's default instead.
        log.debug("getSigninToken with SessionDuration: HTTP 400; asking without it")
    status, body = _get(http, endpoint, params, timeout)
    if status != 200:
        raise ConsoleSigninError(endpoint=endpoint, status=status)
    return SigninToken(_token(body, endpoint), None)


def login_url(
    token: SigninToken, endpoint: str, *, destination: str, issuer: str | None = None
) -> str:
    """The ``Action=login`` URL that opens ``destination`` signed in."""
    params = {"Action": "login", "Destination": destination, "SigninToken": token.token}
    if issuer:
        params["Issuer"] = issuer
    return f"{endpoint}?{urlencode(params)}"


def firefox_container_url(url: str, container: str) -> str:
    """The URL wrapped for the Granted Containers Firefox extension: opens in container
    ``container`` (created on first use), so each account keeps its own console session."""
    return f"ext+granted-containers:name={quote(container, safe='')}&url={quote(url, safe='')}"


def console_signin_url(
    credentials: AwsCredentials,
    *,
    region: str | None = None,
    destination: str | None = None,
    federation_url: str | None = None,
    issuer: str | None = None,
    http: HttpGetter | None = None,
    now: datetime | None = None,
) -> str:
    """The console sign-in URL for ``credentials`` (their role's partition decides the hosts).

    ``federation_url`` replaces the partition's federation endpoint (a proxy, a test server).
    """
    partition = partition_of(credentials.role_arn)
    endpoint = federation_url or federation_endpoint(partition, region)
    target = destination_url(destination, partition, region)
    token = get_signin_token(
        credentials,
        endpoint,
        session_duration=session_duration_for(credentials, now=now),
        http=http,
    )
    return login_url(token, endpoint, destination=target, issuer=issuer)


def _get(
    http: HttpGetter | None, endpoint: str, params: Mapping[str, str], timeout: float
) -> tuple[int, str]:
    import requests

    client = http or requests.Session()
    try:
        answer = client.get(endpoint, params=dict(params), timeout=timeout, allow_redirects=False)
    except requests.exceptions.RequestException as exc:
        raise ConsoleUnavailableError(endpoint=endpoint, reason=type(exc).__name__) from None
    log.debug("GET %s?Action=%s -> HTTP %s", endpoint, params["Action"], answer.status_code)
    return answer.status_code, answer.text


def _token(body: str, endpoint: str) -> str:
    try:
        token = json.loads(body)["SigninToken"]
    except (ValueError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise ConsoleSigninError(endpoint=endpoint, status="200 without a SigninToken")
    return token
