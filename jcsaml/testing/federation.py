"""A fake AWS federation endpoint (``/federation``) for console sign-in tests.

:class:`FakeFederation` is a real HTTP server on 127.0.0.1 that answers the two actions the AWS
console sign-in uses:

- ``Action=getSigninToken&Session=<json>[&SessionDuration=N]``: the session credentials must be
  ones a running :class:`~jcsaml.testing.sts.LocalAws` issued and that are still valid (all three
  values are compared), and ``sts:GetCallerIdentity`` called with them at that local STS must
  name the same assumed role. Then it answers ``{"SigninToken": ...}``; otherwise HTTP 400, as
  AWS does. ``refuse_session_duration`` makes it answer 400 to any request carrying
  ``SessionDuration`` (what some credentials meet at AWS). ``drip`` (seconds) sends every
  answer one byte at a time with that pause between bytes, as a stalling endpoint or proxy does.
- ``Action=login&SigninToken=...&Destination=...[&Issuer=...]``: the token must be one it issued
  less than 15 minutes ago and the destination an https URL on the console host of the
  credentials' partition (``console.aws.amazon.com`` or ``<region>.console.aws.amazon.com``,
  ``console.amazonaws-us-gov.com``, ``console.amazonaws.cn``). It answers 302 to the destination
  and records a :class:`ConsoleLogin`.

Example::

    with LocalAws() as aws, FakeFederation(aws) as federation:
        env = {"JCSAML_FEDERATION_URL": federation.url}
        ...  # jcsaml console --link; then federation.open(url) -> ConsoleLogin

boto3 is imported when a token is asked for, not when this module is imported.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jcsaml.loopback import LoopbackHandler, LoopbackServer
from jcsaml.testing.sts import PARTITION_REGIONS, LocalAws

TOKEN_LIFETIME = 900.0
CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-us-gov": "console.amazonaws-us-gov.com",
    "aws-cn": "console.amazonaws.cn",
}


@dataclass(frozen=True)
class FederationRequest:
    """One request the endpoint answered (no credentials or tokens kept)."""

    action: str
    session_duration: int | None
    status: int


@dataclass(frozen=True)
class ConsoleLogin:
    """A successful ``Action=login``: who signed in, where to, for how long."""

    assumed_role_arn: str
    partition: str
    destination: str
    issuer: str | None
    session_duration: int | None


@dataclass(frozen=True)
class _Token:
    assumed_role_arn: str
    partition: str
    session_duration: int | None
    issued: float


class _Handler(LoopbackHandler["FakeFederation"]):
    def do_GET(self) -> None:
        status, headers, body = self.owner._answer(self.path)
        self.send_answer(status, headers.items(), body, drip=self.owner.drip)


class FakeFederation(LoopbackServer):
    """The federation endpoint, checking credentials against ``aws`` (a running LocalAws).

    :attr:`url` is the endpoint, what ``federation_url`` / ``JCSAML_FEDERATION_URL`` is set to.
    """

    handler = _Handler
    url_path = "/federation"

    def __init__(
        self,
        aws: LocalAws,
        *,
        refuse_session_duration: bool = False,
        drip: float = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.aws = aws
        self.refuse_session_duration = refuse_session_duration
        self.drip = drip
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self.requests: list[FederationRequest] = []
        self.logins: list[ConsoleLogin] = []

    def open(self, login_url: str) -> ConsoleLogin | None:
        """Follow a login URL as a browser would; the recorded login, or None if refused."""
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        before = len(self.logins)
        try:
            opener.open(login_url, timeout=10)
        except urllib.error.HTTPError as answer:
            if answer.code != 302:
                return None
        return self.logins[before] if len(self.logins) > before else None

    # --- the endpoint ---------------------------------------------------------------------

    def _answer(self, target: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        action = query.get("Action", "")
        duration = _int(query.get("SessionDuration"))
        headers: dict[str, str]
        if parts.path != "/federation":
            status, headers, body = 404, {}, b"Not Found"
        elif action == "getSigninToken":
            status, headers, body = self._signin_token(query, duration)
        elif action == "login":
            status, headers, body = self._login(query)
        else:
            status, headers, body = 400, {}, b"Bad Request"
        with self._lock:
            self.requests.append(FederationRequest(action, duration, status))
        return status, headers, body

    def _signin_token(
        self, query: dict[str, str], duration: int | None
    ) -> tuple[int, dict[str, str], bytes]:
        refused: tuple[int, dict[str, str], bytes] = (400, {}, b"Bad Request")
        if "SessionDuration" in query and (
            self.refuse_session_duration or duration is None or not 900 <= duration <= 43200
        ):
            return refused
        try:
            session = json.loads(query.get("Session", ""))
            key, secret, token = (
                str(session["sessionId"]),
                str(session["sessionKey"]),
                str(session["sessionToken"]),
            )
        except (ValueError, KeyError, TypeError):
            return refused
        arn = self.aws.session_arn(key, secret, token)
        if arn is None or _caller_arn(self.aws, arn, key, secret, token) != arn:
            return refused
        signin_token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[signin_token] = _Token(arn, arn.split(":")[1], duration, self._clock())
        body = json.dumps({"SigninToken": signin_token}).encode()
        return 200, {"Content-Type": "application/json"}, body

    def _login(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        refused: tuple[int, dict[str, str], bytes] = (400, {}, b"Bad Request")
        with self._lock:
            token = self._tokens.get(query.get("SigninToken", ""))
        if token is None or self._clock() - token.issued > TOKEN_LIFETIME:
            return refused
        destination = query.get("Destination", "")
        target = urlsplit(destination)
        host = CONSOLE_HOSTS[token.partition]
        if target.scheme != "https" or not (
            target.hostname == host or (target.hostname or "").endswith("." + host)
        ):
            return refused
        login = ConsoleLogin(
            token.assumed_role_arn,
            token.partition,
            destination,
            query.get("Issuer"),
            token.session_duration,
        )
        with self._lock:
            self.logins.append(login)
        return 302, {"Location": destination}, b""


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _caller_arn(aws: LocalAws, arn: str, key: str, secret: str, token: str) -> str | None:
    """sts:GetCallerIdentity with the credentials, at the local STS, in their partition."""
    import boto3

    client = boto3.client(
        "sts",
        endpoint_url=aws.endpoint_url,
        region_name=PARTITION_REGIONS.get(arn.split(":")[1], "us-east-1"),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )
    try:
        return str(client.get_caller_identity()["Arn"])
    except Exception:  # any failure means the credentials don't work
        return None
