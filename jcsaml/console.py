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
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import validate_region
from jcsaml.config_keys import is_region_name
from jcsaml.errors import ConsoleSigninError, ConsoleUnavailableError, InvalidSettingError
from jcsaml.partitions import CONSOLE_HOSTS, DEFAULT_REGIONS, SIGNIN_HOSTS, partition_of

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

#: The bounds AWS sets on the console session's SessionDuration.
MIN_CONSOLE_SESSION = 900
MAX_CONSOLE_SESSION = 43200

#: Regions whose sign-in and console hosts are the partition's own, without a region label
#: (AWS's sign-in endpoint table): every other region has ``REGION.signin...``.
UNLABELLED_REGIONS = frozenset(DEFAULT_REGIONS.values())


#: A sign-in token answer is a few KiB of JSON.
MAX_FEDERATION_ANSWER_BYTES = 256 * 1024


class HttpGetter(Protocol):
    """The part of ``requests.Session`` used here."""

    def get(self, url: str, **kwargs: Any) -> requests.Response: ...


def _host(base: str, region: str | None) -> str:
    """``base``, or ``REGION.base`` for a region with its own host. ``region`` is checked
    against AWS's region syntax first: it becomes a host label, never anything more."""
    if not region or region in UNLABELLED_REGIONS:
        return base
    return f"{validate_region(region, source='region')}.{base}"


def federation_endpoint(partition: str, region: str | None = None) -> str:
    """The federation endpoint of ``partition``, in ``region`` when given (AWS's sign-in
    endpoint table: us-east-1, us-gov-west-1 and cn-north-1 use the partition's host)."""
    signin = SIGNIN_HOSTS.get(partition, SIGNIN_HOSTS["aws"])
    return urlunsplit(("https", _host(signin, region), "/federation", "", ""))


def console_host(partition: str, region: str | None = None) -> str:
    """The console's host in ``partition``, regional when a region is given."""
    console = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"])
    if region and partition == "aws":
        # The commercial console has a host for every region, us-east-1 included.
        return f"{validate_region(region, source='region')}.{console}"
    return _host(console, region)


def console_home(partition: str, region: str | None = None) -> str:
    """Where the console opens by default: the home page, in ``region`` when given."""
    host = console_host(partition, region)
    if not region:
        return urlunsplit(("https", host, "/", "", ""))
    return urlunsplit(("https", host, "/console/home", urlencode({"region": region}), ""))


def _is_console_host(host: str, partition: str | None = None) -> bool:
    """True for a partition's console host, or a regional one (``us-west-2.console...``)."""
    bases = (
        CONSOLE_HOSTS.values()
        if partition is None
        else [CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"])]
    )
    for base in bases:
        if host == base:
            return True
        label, _, rest = host.partition(".")
        if rest == base and is_region_name(label):
            return True
    return False


def check_destination(destination: str | None, partition: str | None = None) -> None:
    """Raise InvalidSettingError unless ``destination`` is empty, a path (``/s3/home``) or an
    https URL on an AWS console host (``partition``'s when given): a sign-in must never hand
    the session to another site."""
    if not destination:
        return
    if destination.startswith("/") and not destination.startswith("//"):
        if not any(c.isspace() or not c.isprintable() for c in destination):
            return
    else:
        try:
            parts = urlsplit(destination)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is not None
            and parts.scheme == "https"
            and port is None
            and parts.username is None
            and parts.password is None
            and parts.hostname
            and parts.netloc == parts.hostname
            and _is_console_host(parts.hostname, partition)
        ):
            return
    where = "the role's AWS console" if partition else "an AWS console host"
    raise InvalidSettingError(
        setting="--destination",
        reason=f"{destination!r} must be a path such as /s3/home or an https:// URL on "
        f"{where} (console.aws.amazon.com, REGION.console.aws.amazon.com ...)",
    )


def destination_url(destination: str | None, partition: str, region: str | None) -> str:
    """``destination`` as a console URL: a console URL as it is, a path (``/s3/home``) on the
    partition's console host (with ``?region=`` when a region is given, as the console
    expects), nothing for the console's home page."""
    check_destination(destination, partition)
    if not destination:
        return console_home(partition, region)
    if not destination.startswith("/"):
        return destination
    given = urlsplit(destination)
    query = given.query
    if region and "region" not in parse_qs(query):
        query = "&".join(q for q in (query, urlencode({"region": region})) if q)
    return urlunsplit(("https", console_host(partition, region), given.path, query, given.fragment))


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
    parts = urlsplit(endpoint)
    return urlunsplit(parts._replace(query=urlencode(params), fragment=""))


#: The container colors and icons Firefox (and so the Granted Containers extension) knows.
CONTAINER_COLORS = (
    "blue", "turquoise", "green", "yellow", "orange", "red", "pink", "purple", "toolbar"
)  # fmt: skip
CONTAINER_ICONS = (
    "fingerprint", "briefcase", "dollar", "cart", "circle", "gift", "vacation", "food", "fruit",
    "pet", "tree", "chill", "fence",
)  # fmt: skip


def firefox_container_url(
    url: str, container: str, *, color: str | None = None, icon: str | None = None
) -> str:
    """The URL wrapped for the Granted Containers Firefox extension: opens in container
    ``container`` (created on first use, with ``color`` and ``icon`` when given), so each
    account keeps its own console session."""
    text = f"ext+granted-containers:name={quote(container, safe='')}&url={quote(url, safe='')}"
    for key, value in (("color", color), ("icon", icon)):
        if value:
            text += f"&{key}={quote(value, safe='')}"
    return text


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
    log.debug("federation endpoint: %s", endpoint)
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

    if http is not None:
        try:
            given = http.get(endpoint, params=dict(params), timeout=timeout, allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            raise ConsoleUnavailableError(endpoint=endpoint, reason=type(exc).__name__) from None
        return given.status_code, given.text
    from jcsaml.bounded_http import AnswerTooLarge, DeadlinePassed, bounded_session, fetch

    # Bounded as a whole and in size, as JumpCloud's answers are: a stalling endpoint or proxy
    # that drips bytes never holds the command past ``timeout``.
    try:
        answer = fetch(
            bounded_session(),
            "GET",
            endpoint,
            seconds=timeout,
            connect_seconds=timeout,
            limit=MAX_FEDERATION_ANSWER_BYTES,
            params=dict(params),
        )
    except (DeadlinePassed, AnswerTooLarge) as exc:
        raise ConsoleUnavailableError(endpoint=endpoint, reason=str(exc)) from None
    except requests.exceptions.RequestException as exc:
        raise ConsoleUnavailableError(endpoint=endpoint, reason=type(exc).__name__) from None
    log.debug("GET %s?Action=%s -> HTTP %s", endpoint, params["Action"], answer.status)
    return answer.status, answer.text


def _token(body: str, endpoint: str) -> str:
    try:
        token = json.loads(body)["SigninToken"]
    except (ValueError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise ConsoleSigninError(endpoint=endpoint, status="200 without a SigninToken")
    return token
