"""Signing in to JumpCloud's user console and fetching the SAML response for the AWS app.

The protocol is JumpCloud's browser flow (see docs/protocol.md): xsrf token, password, MFA, then
the application's auto-post page. Decisions are made on response bodies, not status codes, and
JumpCloud's own messages reach the user.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from jcsaml.errors import (
    AuthenticationFailedError,
    IdpProtocolError,
    IdpServerError,
    IdpUnavailableError,
    InvalidSettingError,
    MfaCodeRejectedError,
    MfaFactorUnavailableError,
    MfaNotSupportedError,
    NoSamlResponseError,
)
from jcsaml.prompter import Prompter

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 30.0)  # (connect, read) seconds
_JSON_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/json",
    "X-Requested-With": "XMLHttpRequest",
}
_FACTOR_NAMES = {"totp": "TOTP", "push": "PUSH", "webauthn": "WEBAUTHN", "duo": "DUO"}


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What the person supplies. ``mfa_token`` is a one-time code given up front, used once."""

    username: str
    password: str = dataclasses.field(repr=False)
    mfa: str = "Auto"
    mfa_token: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class SamlPage:
    """The auto-post form JumpCloud serves for the AWS application."""

    saml_response: str = dataclasses.field(repr=False)
    relay_state: str
    form_action: str


class Authenticator(Protocol):
    def authenticate(self, credentials: Credentials) -> SamlPage: ...


@dataclasses.dataclass(frozen=True)
class _Reply:
    status: int
    url: str
    body: dict[str, Any]


def app_slug(app_url: str) -> str:
    path = urlsplit(app_url).path
    if "/saml2/" not in path:
        raise InvalidSettingError(
            setting="url", reason=f"{app_url} has no /saml2/<application> part"
        )
    return path.split("/saml2/", 1)[1].strip("/")


class JumpCloudAuthenticator:
    """Signs in through JumpCloud's user console API with one ``requests.Session``."""

    def __init__(
        self,
        *,
        app_url: str,
        console_url: str = "https://console.jumpcloud.com",
        prompter: Prompter,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        from jcsaml.config import validate_url

        self.app_url = validate_url(app_url, "url")
        self.console_url = validate_url(console_url, "console_url").rstrip("/")
        self.slug = app_slug(app_url)
        self.prompter = prompter
        self.timeout = timeout
        if session is None:
            import requests

            session = requests.Session()
        self.session = session
        self._xsrf = ""

    # -- the flow -------------------------------------------------------------------------------

    def authenticate(self, credentials: Credentials) -> SamlPage:
        """Sign in (password, then MFA when asked) and return the application's SAML page.

        Raises AuthenticationFailedError, MfaError subclasses, NoSamlResponseError and the
        IdpError subclasses for transport and protocol trouble.
        """
        self._fetch_xsrf()
        body = {
            "context": "sso",
            "redirectTo": f"saml2/{self.slug}",
            "email": credentials.username,
            "password": credentials.password,
            "otp": "",
        }
        reply = self._call("POST", "/userconsole/auth", body)
        if "factors" in reply.body:
            reply = self._second_factor(reply, body, credentials)
        self._require_signed_in(reply, failure=AuthenticationFailedError)
        return self.fetch_saml_page()

    def _fetch_xsrf(self) -> None:
        reply = self._call("GET", "/userconsole/xsrf")
        token = reply.body.get("xsrf")
        if not isinstance(token, str) or not token:
            raise IdpProtocolError(url=reply.url, reason="no xsrf token in the answer")
        self._xsrf = token

    def _second_factor(
        self, reply: _Reply, body: dict[str, Any], credentials: Credentials
    ) -> _Reply:
        factor = self._pick_factor(reply.body.get("factors"), credentials.mfa)
        if factor == "totp":
            return self._totp(body, credentials)
        raise MfaNotSupportedError(
            factor=_FACTOR_NAMES.get(factor, factor),
            hint="; choose TOTP with jcsaml configure --mfa TOTP" if factor != "duo" else "",
        )

    def _pick_factor(self, factors: object, wanted: str) -> str:
        if not isinstance(factors, list):
            raise IdpProtocolError(
                url=self._url("/userconsole/auth"), reason="malformed MFA factor list"
            )
        available = [
            str(f.get("type", "")).lower()
            for f in factors
            if isinstance(f, Mapping) and f.get("status", "available") == "available"
        ]
        if not available:
            raise MfaFactorUnavailableError(factor=wanted, available="none")
        if wanted.lower() != "auto":
            if wanted.lower() not in available:
                raise MfaFactorUnavailableError(
                    factor=wanted.upper(),
                    available=", ".join(_FACTOR_NAMES.get(f, f) for f in available),
                )
            return wanted.lower()
        if len(available) == 1:
            return available[0]
        choices = [(f, _FACTOR_NAMES.get(f, f)) for f in available]
        return self.prompter.choose("MFA method", choices, how="set --mfa or the account's mfa key")

    def _totp(self, body: dict[str, Any], credentials: Credentials) -> _Reply:
        code = credentials.mfa_token or self.prompter.secret(
            "MFA code", how="pass --mfa-token or set JCSAML_MFA_TOKEN"
        )
        reply = self._call("POST", "/userconsole/auth", {**body, "otp": code.strip()})
        self._require_signed_in(reply, failure=MfaCodeRejectedError)
        return reply

    def _require_signed_in(
        self,
        reply: _Reply,
        *,
        failure: type[AuthenticationFailedError] | type[MfaCodeRejectedError],
    ) -> None:
        if isinstance(reply.body.get("redirectTo"), str):
            return
        message = reply.body.get("message") or reply.body.get("error")
        if isinstance(message, str) and message:
            raise failure(message=message.rstrip("."))
        raise IdpProtocolError(url=reply.url, reason=f"HTTP {reply.status} without a message")

    def fetch_saml_page(self) -> SamlPage:
        """GET the application's page and read the auto-post form (works with a live session)."""
        from bs4 import BeautifulSoup

        # The page is HTML for a browser, not an API call: JumpCloud may redirect within its hosts.
        response = self._send(
            "GET", self.app_url, headers={"Accept": "text/html"}, allow_redirects=True
        )
        if response.status_code >= 500:
            raise IdpServerError(status=response.status_code, url=self.app_url)
        soup = BeautifulSoup(response.text, "html.parser")
        field = soup.find("input", attrs={"name": "SAMLResponse"})
        value = field.get("value") if field is not None else None
        if not isinstance(value, str) or not value.strip():
            raise NoSamlResponseError(url=self.app_url)
        form = field.find_parent("form") if field is not None else None
        action = form.get("action") if form is not None else None
        relay = soup.find("input", attrs={"name": "RelayState"})
        relay_value = relay.get("value") if relay is not None else ""
        return SamlPage(
            saml_response=value.strip(),
            relay_state=relay_value if isinstance(relay_value, str) else "",
            form_action=action if isinstance(action, str) else "",
        )

    # -- HTTP -----------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.console_url + path

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> _Reply:
        """One JSON API call; anything but a JSON object (or a 5xx) is an error."""
        url = self._url(path)
        headers = dict(_JSON_HEADERS)
        if self._xsrf:
            headers["X-Xsrftoken"] = self._xsrf
        response = self._send(method, url, json=body, headers=headers)
        if response.status_code >= 500:
            raise IdpServerError(status=response.status_code, url=url)
        try:
            parsed = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise IdpProtocolError(
                url=url, reason=f"expected JSON, got {kind} (HTTP {response.status_code})"
            ) from None
        if not isinstance(parsed, dict):
            raise IdpProtocolError(url=url, reason="expected a JSON object")
        if response.status_code == 403 and "message" in parsed and "factors" not in parsed:
            raise IdpProtocolError(url=url, reason=f"HTTP 403: {parsed['message']}")
        return _Reply(status=response.status_code, url=url, body=parsed)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        import requests

        try:
            kwargs.setdefault("allow_redirects", False)
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.exceptions.Timeout:
            raise IdpUnavailableError(url=url, reason="timed out") from None
        except requests.exceptions.SSLError as exc:
            raise IdpUnavailableError(
                url=url,
                reason=f"TLS verification failed ({_first_line(exc)}); behind a "
                "corporate proxy, point REQUESTS_CA_BUNDLE at its CA certificate",
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise IdpUnavailableError(url=url, reason=_first_line(exc)) from None
        log.debug("%s %s -> HTTP %s", method, url, response.status_code)
        return response


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
