"""Signing in to JumpCloud's user console and fetching the SAML response for the AWS app.

The protocol is JumpCloud's browser flow (see docs/protocol.md): xsrf token, password, MFA, then
the application's auto-post page. Decisions are made on response bodies, not status codes, and
JumpCloud's own messages reach the user. requests and bs4 are imported only when used.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

from jcsaml.config import DEFAULT_HTTP_TIMEOUT, DEFAULT_PUSH_TIMEOUT, validate_url
from jcsaml.errors import (
    AuthenticationFailedError,
    ConditionalAccessError,
    ConsoleUrlNotFoundError,
    IdpAnswerTooLargeError,
    IdpHostNotFoundError,
    IdpProtocolError,
    IdpRateLimitedError,
    IdpServerError,
    IdpUnavailableError,
    InvalidSettingError,
    JumpCloudChangedError,
    MfaCodeNotTypedError,
    MfaCodeRejectedError,
    MfaError,
    MfaFactorUnavailableError,
    MfaNotSupportedError,
    NoSamlResponseError,
    NothingTypedError,
    PushDeniedError,
    PushExpiredError,
    PushTimeoutError,
    SessionKeptError,
    UnsafeRedirectError,
    WebAuthnRejectedError,
)
from jcsaml.prompter import Prompter
from jcsaml.webauthn import Fido2Device, answer_challenge

if TYPE_CHECKING:
    import requests

    from jcsaml.bounded_http import Answer
    from jcsaml.webauthn import WebAuthnDevice

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
TOTP_ATTEMPTS = 3
#: Digits of a TOTP code; anything else is asked again before it is sent.
TOTP_DIGITS = 6
#: Answers that are not a code before jcsaml stops asking.
MISTYPED_CODES = 5
GET_ATTEMPTS = 3
RETRY_AFTER_CAP = 30.0  # never sleep longer than this on a Retry-After header
RETRYABLE_STATUSES = (429, 502, 503, 504)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5

_JSON_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/json",
    "X-Requested-With": "XMLHttpRequest",
}
SUPPORTED_FACTORS = ("totp", "push", "webauthn")
HOW_MFA_TOKEN = "pass mfa_token=..."
_FACTOR_NAMES = {"totp": "TOTP", "push": "PUSH", "webauthn": "WEBAUTHN", "duo": "DUO"}


@dataclasses.dataclass(frozen=True)
class PasswordCredentials:
    """What the person supplies. ``mfa_token`` is a one-time code given up front, used once;
    ``mfa_source`` gives a TOTP code when one is needed and none was given (``mfa_command``)."""

    username: str
    password: str = dataclasses.field(repr=False)
    mfa: str = "Auto"
    mfa_token: str | None = dataclasses.field(default=None, repr=False)
    mfa_source: Callable[[], str] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )


@dataclasses.dataclass(frozen=True)
class SamlPage:
    """The auto-post form JumpCloud serves for the AWS application."""

    saml_response: str = dataclasses.field(repr=False)
    relay_state: str
    form_action: str


class Authenticator(Protocol):
    """Signs a person in and returns the SAML page; can save and resume its console session."""

    def authenticate(self, credentials: PasswordCredentials) -> SamlPage: ...

    def export_session(self) -> str: ...

    def resume(self, exported: str) -> SamlPage | None: ...


@dataclasses.dataclass(frozen=True)
class Application:
    """One entry of the user console's application list (``GET /userconsole/api/applications``).

    ``sso_type`` is ``saml`` for a SAML application (its ``sso_url`` is the page carrying the
    assertion) and ``bookmark`` for a plain link.
    """

    id: str
    name: str
    display_label: str
    sso_url: str
    sso_type: str


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
    """Signs in through JumpCloud's user console API with one ``requests.Session``.

    Side effects are keyword arguments: the HTTP session, the clock and sleep used while waiting
    for a push approval or between retries, and the WebAuthn device.
    """

    def __init__(
        self,
        *,
        app_url: str,
        console_url: str = "https://console.jumpcloud.com",
        prompter: Prompter,
        session: requests.Session | None = None,
        http_timeout: float = DEFAULT_HTTP_TIMEOUT,
        push_timeout: float = DEFAULT_PUSH_TIMEOUT,
        webauthn_device: WebAuthnDevice | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:

        self.app_url = validate_url(app_url, "url")
        self.console_url = validate_url(console_url, "console_url").rstrip("/")
        self.slug = app_slug(app_url)
        self.prompter = prompter
        self.http_timeout = http_timeout
        self.push_timeout = push_timeout
        self.webauthn_device = webauthn_device
        self.clock = clock
        self.sleep = sleep
        self.wall_clock = wall_clock
        #: (JumpCloud's Date, this computer's time) at the last answer, when it had a Date.
        self.server_time: tuple[datetime, datetime] | None = None
        # urllib3 only once JumpCloud is called
        from jcsaml.bounded_http import bounded_session

        self.session = bounded_session(session)
        self._xsrf = ""

    # -- the flow -------------------------------------------------------------------------------

    def authenticate(self, credentials: PasswordCredentials) -> SamlPage:
        """Sign in (password, then MFA when asked) and return the application's SAML page.

        Raises AuthenticationFailedError, MfaError subclasses, ConditionalAccessError,
        NoSamlResponseError and IdpError subclasses for transport and protocol trouble.
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
        try:
            return self.fetch_saml_page()
        except _MfaAtSso as asked:
            # An access policy asking for MFA at the SSO step, after the password: the same
            # factor flow as at the password step, then the application page again.
            reply = self._second_factor(asked.reply, body, credentials)
            self._require_signed_in(reply, failure=MfaError)
            return self.fetch_saml_page()

    def _fetch_xsrf(self) -> None:
        url = self._url("/userconsole/xsrf")
        # The first request to the console: a 404 here means console_url points elsewhere.
        reply = self._call(
            "GET",
            "/userconsole/xsrf",
            not_found=ConsoleUrlNotFoundError(console_url=self.console_url, url=url),
        )
        self._xsrf = _required_text(
            reply, "xsrf", _step("GET", "/userconsole/xsrf"), "an xsrf token"
        )

    def _second_factor(
        self, reply: _Reply, body: dict[str, Any], credentials: PasswordCredentials
    ) -> _Reply:
        factor = self._pick_factor(reply.body.get("factors"), credentials)
        if factor == "totp":
            return self._totp(body, credentials)
        if factor == "push":
            return self._push()
        return self._webauthn()

    def _pick_factor(self, factors: object, credentials: PasswordCredentials) -> str:
        """The configured factor; with Auto the only usable one, TOTP when a code was given,
        else the person's choice."""
        if not isinstance(factors, list):
            raise IdpProtocolError(
                url=self._url("/userconsole/auth"), reason="malformed MFA factor list"
            )
        available = [
            str(f.get("type", "")).lower()
            for f in factors
            if isinstance(f, Mapping) and f.get("status", "available") == "available"
        ]
        usable = [f for f in available if f in SUPPORTED_FACTORS]
        wanted = credentials.mfa.lower()
        if wanted != "auto":
            if wanted not in available:
                names = ", ".join(_FACTOR_NAMES.get(f, f) for f in available) or "none"
                raise MfaFactorUnavailableError(factor=wanted.upper(), available=names)
            return wanted
        if not usable:
            if available:
                raise MfaNotSupportedError(
                    factor=", ".join(_FACTOR_NAMES.get(f, f) for f in available),
                    hint="; enroll TOTP, JumpCloud Protect push or a security key in JumpCloud",
                )
            raise MfaError(
                message="JumpCloud offers no MFA factor this user can use; ask the JumpCloud "
                "administrator to enroll one"
            )
        if (credentials.mfa_token or credentials.mfa_source) and "totp" in usable:
            return "totp"
        if len(usable) == 1:
            return usable[0]
        choices = [(f, _FACTOR_NAMES[f]) for f in usable]
        return self.prompter.choose(
            "MFA method", choices, how="pass mfa_token=... for TOTP, or set the account's mfa"
        )

    # -- TOTP ----------------------------------------------------------------------------------

    def _totp(self, body: dict[str, Any], credentials: PasswordCredentials) -> _Reply:
        """A code given up front is tried once; typed codes up to TOTP_ATTEMPTS times."""
        given = _code(credentials.mfa_token or "")
        if not given and credentials.mfa_source is not None:
            given = _code(credentials.mfa_source())
        if given:
            reply = self._call("POST", "/userconsole/auth", {**body, "otp": given})
            self._require_signed_in(reply, failure=MfaCodeRejectedError)
            return reply
        for attempt in range(1, TOTP_ATTEMPTS + 1):
            code = self._ask_code()
            reply = self._call("POST", "/userconsole/auth", {**body, "otp": code})
            if isinstance(reply.body.get("redirectTo"), str) or attempt == TOTP_ATTEMPTS:
                break
            left = TOTP_ATTEMPTS - attempt
            self.prompter.notify(
                f"JumpCloud rejected the TOTP MFA code: {_message(reply) or 'not accepted'}; "
                f"try again ({left} attempt{'s' if left > 1 else ''} left)"
            )
        self._require_signed_in(reply, failure=MfaCodeRejectedError)
        return reply

    def _ask_code(self) -> str:
        """A code as authenticator apps show it (``513 378``) is typed without its spaces and
        shown as typed (it is single-use). Only 6 digits are sent: an empty or mistyped answer
        is asked again and never sent, since it would spend one of JumpCloud's tries."""
        empty = mistyped = 0
        while True:
            code = _code(self.prompter.text("MFA code", how=HOW_MFA_TOKEN))
            if len(code) == TOTP_DIGITS and code.isascii() and code.isdigit():
                return code
            if not code:
                empty += 1
                if empty == TOTP_ATTEMPTS:
                    raise NothingTypedError(what="MFA code")
                continue
            mistyped += 1
            if mistyped == MISTYPED_CODES:
                raise MfaCodeNotTypedError(tries=mistyped)
            # Never the answer itself: it may be a code with one digit missing.
            self.prompter.notify(
                f"An MFA code has {TOTP_DIGITS} digits ({len(code)} characters typed); it was "
                "not sent: type the code again"
            )

    # -- JumpCloud Protect push ----------------------------------------------------------------

    def _push(self) -> _Reply:
        started = self._call("POST", "/userconsole/auth/push", {})
        push_id = _required_text(
            started, "id", _step("POST", "/userconsole/auth/push"), "a push id"
        )
        # JumpCloud's expiresAt is on JumpCloud's clock: count its lifetime on ours instead.
        lifetime = _seconds_between(started.body.get("initiatedAt"), started.body.get("expiresAt"))
        self.prompter.notify("Approve the sign-in request in JumpCloud Protect on your phone.")
        begin = self.clock()
        status = str(started.body.get("status", "pending"))
        try:
            while True:
                waited = self.clock() - begin
                if status == "accepted":
                    break
                if status == "denied":
                    raise PushDeniedError()
                if status == "expired" or (lifetime is not None and waited > lifetime):
                    raise PushExpiredError()
                if waited > self.push_timeout:
                    raise PushTimeoutError(seconds=int(self.push_timeout))
                self.prompter.progress(f"Waiting for approval... {int(waited)} s (Ctrl-C to stop)")
                self.sleep(1.0)
                status = str(
                    self._call("GET", f"/userconsole/auth/push/{push_id}").body.get("status", "")
                )
        finally:
            self.prompter.progress(None)
        reply = self._call("POST", f"/userconsole/auth/push/{push_id}/login", {})
        self._require_signed_in(reply, failure=MfaError)
        return reply

    # -- WebAuthn ------------------------------------------------------------------------------

    def _webauthn(self) -> _Reply:

        challenge = self._call("GET", "/userconsole/auth/webauthn")
        device = self.webauthn_device or Fido2Device(prompter=self.prompter)
        body = answer_challenge(
            challenge.body, device=device, console_url=self.console_url, url=challenge.url
        )
        reply = self._call("POST", "/userconsole/auth/webauthn", body)
        self._require_signed_in(reply, failure=WebAuthnRejectedError)
        return reply

    # -- results -------------------------------------------------------------------------------

    def _require_signed_in(
        self,
        reply: _Reply,
        *,
        failure: type[AuthenticationFailedError] | type[MfaError],
    ) -> None:
        redirect = reply.body.get("redirectTo")
        if isinstance(redirect, str) and redirect.strip():
            return
        step = _step("POST", urlsplit(reply.url).path)
        if "redirectTo" in reply.body:
            raise JumpCloudChangedError(
                step=step, expected="a redirectTo URL", got="an empty redirectTo"
            )
        message = _message(reply)
        if message:
            raise failure(message=message)
        raise JumpCloudChangedError(
            step=step,
            expected="JSON with redirectTo, factors or message",
            got=_shape_of_reply(reply),
        )

    def fetch_saml_page(self, app_url: str | None = None) -> SamlPage:
        """GET the application's page and read the auto-post form (works with a live session).

        ``app_url`` is another application of the same JumpCloud tenant, fetched with this
        console session (default: the authenticator's own ``app_url``).
        """
        url = validate_url(app_url, "url") if app_url else self.app_url
        page = self._saml_page_at(url)
        if page is None:
            raise NoSamlResponseError(url=url)
        return page

    def _saml_page_at(self, url: str) -> SamlPage | None:
        """The application page's auto-post form; None when the page sent the browser to
        JumpCloud's sign-in page instead (the session does not reach the SSO step)."""
        from bs4 import BeautifulSoup

        response = self._follow(url)
        if response.status == 429:
            raise IdpRateLimitedError(url=url)
        if response.status >= 500:
            raise IdpServerError(status=response.status, url=url)
        soup = BeautifulSoup(response.text, "html.parser")
        field = soup.find("input", attrs={"name": "SAMLResponse"})
        value = field.get("value") if field is not None else None
        if not isinstance(value, str) or not value.strip():
            self._explain_missing_saml(url, response, soup)
            if response.url != url and urlsplit(response.url).path.startswith(_SIGN_IN_PAGES):
                return None
            raise NoSamlResponseError(url=url)
        form = field.find_parent("form") if field is not None else None
        action = form.get("action") if form is not None else None
        relay = soup.find("input", attrs={"name": "RelayState"})
        relay_value = relay.get("value") if relay is not None else ""
        return SamlPage(
            saml_response=value.strip(),
            relay_state=relay_value if isinstance(relay_value, str) else "",
            form_action=action if isinstance(action, str) else "",
        )

    def _explain_missing_saml(self, url: str, response: Answer, soup: Any) -> None:
        """Why the application page holds no SAMLResponse, when its shape says: an access
        policy's denial (JumpCloud's own words), a request for MFA at the SSO step
        (:class:`_MfaAtSso`), or an answer of a shape no JumpCloud sign-in gave so far."""
        step = _step("GET", "/saml2/" + app_slug(url))
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            reply = _Reply(response.status, response.url, parsed)
            if "factors" in parsed:
                raise _MfaAtSso(reply)
            message = _message(reply)
            if response.status == 403 or _denial(message):
                raise ConditionalAccessError(
                    message=f"{step}: {message or f'HTTP {response.status}'}"
                )
            raise JumpCloudChangedError(
                step=step, expected="a page with a SAMLResponse form", got=_shape(response)
            )
        page_message = _page_message(soup)
        if response.status == 403 or _denial(page_message):
            raise ConditionalAccessError(
                message=f"{step}: {page_message or f'HTTP {response.status}'}"
            )
        landed = urlsplit(response.url).path
        if landed.rstrip("/") != urlsplit(url).path.rstrip("/") and not landed.startswith(
            _SIGN_IN_PAGES
        ):
            # Redirected somewhere no sign-in went before (a factor page, a new flow).
            raise JumpCloudChangedError(
                step=step,
                expected="a page with a SAMLResponse form",
                got=f"{_shape(response)} after a redirect to {landed}",
            )

    def signed_in(self) -> bool:
        """Whether JumpCloud still holds this authenticator's console session alive."""
        if not self._xsrf:
            return False
        response = self._send("GET", self._url("/userconsole/api/self"), headers=self._headers())
        return response.status == 200

    def list_applications(self) -> list[Application]:
        """The applications JumpCloud's user console lists for the signed-in user."""
        reply = self._call_any("GET", "/userconsole/api/applications")
        if not isinstance(reply, list):
            raise IdpProtocolError(
                url=self._url("/userconsole/api/applications"), reason="expected a JSON array"
            )
        found = []
        for item in reply:
            if not isinstance(item, Mapping):
                continue
            sso = item.get("sso")
            found.append(
                Application(
                    id=str(item.get("_id") or ""),
                    name=str(item.get("name") or ""),
                    display_label=str(item.get("displayLabel") or item.get("name") or ""),
                    sso_url=str(item.get("ssoUrl") or ""),
                    sso_type=str(sso.get("type") or "") if isinstance(sso, Mapping) else "",
                )
            )
        return found

    def _follow(self, url: str) -> Answer:
        """GET an HTML page, following redirects by hand: only to https (or loopback http) URLs
        on the configured app or console host, so the session cookies and the SAML response never
        come from or go to anywhere else."""
        # The application asked for (another app of the same tenant) is allowed too.
        allowed = {_origin(self.app_url), _origin(self.console_url), _origin(url)}
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._send("GET", url, headers={"Accept": "text/html"})
            location = answer.headers.get("Location")
            if answer.status not in REDIRECT_STATUSES or not location:
                return answer
            target = urljoin(url, location)
            if _origin(target) not in allowed:
                raise UnsafeRedirectError(url=url, target=target)
            log.debug("%s redirects to %s", url, target)
            url = target
        raise IdpProtocolError(url=self.app_url, reason=f"more than {MAX_REDIRECTS} redirects")

    # -- console session reuse -----------------------------------------------------------------

    def export_session(self) -> str:
        """The console session (cookies with their attributes, and the xsrf token) as text for
        the OS keyring."""
        cookies = [
            {
                "name": c.name,
                "value": c.value,
                "domain": c.domain,
                "path": c.path,
                "secure": c.secure,
                "expires": c.expires,
                "http_only": c.has_nonstandard_attr("HttpOnly"),
                "domain_specified": c.domain_specified,
                "domain_initial_dot": c.domain_initial_dot,
            }
            for c in self.session.cookies
        ]
        return json.dumps({"xsrf": self._xsrf, "cookies": cookies})

    def resume(self, exported: str) -> SamlPage | None:
        """Reuse a saved console session: its SAML page while JumpCloud says it is alive, else
        None (the caller signs in again). Exactly two requests when alive."""
        try:
            state = json.loads(exported)
            self._xsrf = str(state["xsrf"])
            for cookie in state["cookies"]:
                _restore_cookie(self.session, cookie)
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable saved session is simply not reused
        path = "/userconsole/api/self"
        response = self._send("GET", self._url(path), headers=self._headers())
        if response.status != 200:
            if not _session_ended(response):
                # 429 and 5xx (after the retries): JumpCloud's trouble says nothing about the
                # session, which is kept for the next try. Timeouts and connection errors
                # were raised by _send already.
                raise SessionKeptError(status=response.status, path=path)
            self._forget_session()
            return None
        try:
            page = self._saml_page_at(self.app_url)
        except (IdpServerError, IdpRateLimitedError) as exc:
            status = 429 if isinstance(exc, IdpRateLimitedError) else exc.status
            raise SessionKeptError(status=status, path=urlsplit(self.app_url).path) from None
        except _MfaAtSso:  # a sign-in answers the factor the SSO step asks for
            page = None
        if page is None:  # alive for the console, yet the SSO step asks for a sign-in
            self._forget_session()
        return page

    def _forget_session(self) -> None:
        """Drop the console session's cookies and xsrf token: the caller signs in afresh."""
        self.session.cookies.clear()
        self._xsrf = ""

    # -- HTTP ----------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.console_url + path

    def _headers(self) -> dict[str, str]:
        headers = dict(_JSON_HEADERS)
        if self._xsrf:
            headers["X-Xsrftoken"] = self._xsrf
        return headers

    def _call_any(self, method: str, path: str) -> Any:
        """One JSON API call whose answer may be any JSON value; refusals are errors."""
        url = self._url(path)
        response = self._send(method, url, headers=self._headers())
        parsed = _json_answer(response, url)
        if response.status != 200:
            reply = _Reply(response.status, url, parsed if isinstance(parsed, dict) else {})
            raise IdpProtocolError(
                url=url, reason=f"HTTP {response.status}: {_message(reply) or 'no message'}"
            )
        return parsed

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        not_found: Exception | None = None,
    ) -> _Reply:
        """One JSON API call; anything but a JSON object (or a 5xx) is an error, and so is an
        HTTP 404 when ``not_found`` says what it means."""
        url = self._url(path)
        response = self._send(method, url, json=body, headers=self._headers())
        if response.status == 404 and not_found is not None:
            raise not_found
        try:
            parsed = _json_answer(response, url)
        except IdpProtocolError:
            parsed = None
        if not isinstance(parsed, dict):
            raise JumpCloudChangedError(
                step=_step(method, path), expected="JSON", got=_shape(response)
            )
        reply = _Reply(status=response.status, url=url, body=parsed)
        if response.status == 403 and "factors" not in parsed:
            raise ConditionalAccessError(
                message=f"{_step(method, path)}: {_message(reply) or 'HTTP 403'}"
            )
        return reply

    def _send(self, method: str, url: str, **kwargs: Any) -> Answer:
        """Send; the whole answer must come within ``http_timeout`` and decode to at most
        MAX_ANSWER_BYTES. Redirects are not followed. GETs are retried on connection errors
        (a body cut short too), 429 and 502-504; a POST never is, since it may have consumed a
        one-time code."""
        import requests

        # urllib3 only once JumpCloud is called
        from jcsaml.bounded_http import MAX_ANSWER_BYTES, AnswerTooLarge, DeadlinePassed, fetch

        attempts = GET_ATTEMPTS if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = fetch(
                    self.session,
                    method,
                    url,
                    seconds=self.http_timeout,
                    connect_seconds=min(CONNECT_TIMEOUT, self.http_timeout),
                    limit=MAX_ANSWER_BYTES,
                    **kwargs,
                )
            except (DeadlinePassed, requests.exceptions.Timeout):
                raise IdpUnavailableError(
                    url=url, reason=f"no answer within {self.http_timeout:g} s"
                ) from None
            except AnswerTooLarge as exc:
                raise IdpAnswerTooLargeError(url=url, limit=_mib(exc.limit)) from None
            except requests.exceptions.ContentDecodingError:
                raise IdpProtocolError(
                    url=url, reason="its compressed body could not be decoded"
                ) from None
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                if last or isinstance(exc, requests.exceptions.SSLError | _proxy_error()):
                    raise self._transport_error(url, exc) from None
                log.debug("%s %s failed (%s); retrying", method, url, type(exc).__name__)
                self.sleep(_backoff(attempt))
                continue
            log.debug("%s %s -> HTTP %s", method, url, response.status)
            self._note_server_time(response)
            if response.status in RETRYABLE_STATUSES and not last:
                self.sleep(_retry_delay(response, attempt))
                continue
            return response
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _note_server_time(self, response: Answer) -> None:
        """Keep JumpCloud's clock (its Date header) next to ours, to tell a wrong local clock
        apart from a wrong assertion."""
        from email.utils import parsedate_to_datetime

        date = next((v for k, v in response.headers.items() if k.lower() == "date"), None)
        if not date:
            return
        try:
            self.server_time = (parsedate_to_datetime(date), self.wall_clock())
        except (TypeError, ValueError):
            return

    def _transport_error(self, url: str, exc: Exception) -> IdpUnavailableError:
        host = urlsplit(url).hostname or url
        if _unresolvable(exc):
            setting = "console_url" if host == urlsplit(self.console_url).hostname else "url"
            return IdpHostNotFoundError(url=url, host=host, setting=setting, reason="")
        return _transport_error(url, exc)


#: Where JumpCloud sends a browser that must sign in (first).
_SIGN_IN_PAGES = ("/login", "/userconsole/login")

#: Words of a 403 answer that says the console session is no longer valid.
_ENDED_WORDS = ("expired", "session", "unauthorized", "unauthenticated", "login", "xsrf")


def _session_ended(response: Answer) -> bool:
    """Whether JumpCloud's answer to ``GET /userconsole/api/self`` says the saved console session
    is no longer valid: a 401, a redirect to the login page, or a 403 whose body says so. Any
    other failure (429, 5xx) leaves the session as it was."""
    if response.status == 401:
        return True
    if response.status in REDIRECT_STATUSES:
        return "login" in urlsplit(str(response.headers.get("Location", ""))).path.lower()
    if response.status == 403:
        try:
            text = response.text
        except Exception:  # an undecodable body says nothing
            return False
        return any(word in text.lower() for word in _ENDED_WORDS)
    return False


def _proxy_error() -> type[Exception]:
    import requests

    return requests.exceptions.ProxyError


def _backoff(attempt: int) -> float:
    return 0.5 * 2.0 ** (attempt - 1)


def _retry_delay(response: Answer, attempt: int) -> float:
    """Retry-After (seconds) when the server gives it, capped; else exponential backoff."""
    header = str(response.headers.get("Retry-After", ""))
    if header.strip().isdigit():
        return min(float(header), RETRY_AFTER_CAP)
    return _backoff(attempt)


def _transport_error(url: str, exc: Exception) -> IdpUnavailableError:
    import requests

    host = urlsplit(url).hostname or url
    text = str(exc)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        reason = "the connection closed before the whole answer arrived"
    elif isinstance(exc, requests.exceptions.SSLError):
        reason = (
            f"TLS verification of {host} failed; behind a TLS-inspecting corporate proxy, set "
            "REQUESTS_CA_BUNDLE to the proxy's CA certificate"
        )
    elif isinstance(exc, requests.exceptions.ProxyError):
        reason = "the proxy refused or failed the connection; check HTTPS_PROXY and NO_PROXY"
    elif "Connection refused" in text or "ConnectionRefused" in text:
        reason = f"{host} refused the connection"
    else:
        reason = "the connection failed"
    return IdpUnavailableError(url=url, reason=reason)


def _unresolvable(exc: Exception) -> bool:
    text = str(exc)
    return any(
        sign in text
        for sign in ("NameResolution", "Name or service not known", "getaddrinfo", "nodename")
    )


def _code(typed: str) -> str:
    return "".join(typed.split())


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, the default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:  # a port that is not a number
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _restore_cookie(session: requests.Session, saved: Mapping[str, Any]) -> None:
    """Put a cookie saved by export_session back, attributes and all; an expired one is left
    out. A cookie saved without its attributes is taken as Secure, the safe reading."""
    from http.cookiejar import Cookie

    expires = saved.get("expires")
    if expires is not None and float(expires) <= time.time():
        return
    domain = str(saved["domain"])
    session.cookies.set_cookie(
        Cookie(
            version=0,
            name=str(saved["name"]),
            value=str(saved["value"]),
            port=None,
            port_specified=False,
            domain=domain,
            domain_specified=bool(saved.get("domain_specified", False)),
            domain_initial_dot=bool(saved.get("domain_initial_dot", domain.startswith("."))),
            path=str(saved["path"]),
            path_specified=True,
            secure=bool(saved.get("secure", True)),
            expires=int(expires) if expires is not None else None,
            discard=expires is None,
            comment=None,
            comment_url=None,
            rest={"HttpOnly": None} if saved.get("http_only") else {},  # type: ignore[dict-item]
        )
    )


class _MfaAtSso(Exception):
    """The application page asked for MFA (an access policy at the SSO step)."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__("MFA required at the SSO step")
        self.reply = reply


_STEP_NAMES = (
    ("/userconsole/xsrf", "the xsrf step"),
    ("/userconsole/auth/push/", "the push approval step"),
    ("/userconsole/auth/push", "the push step"),
    ("/userconsole/auth/webauthn", "the security-key step"),
    ("/userconsole/auth/totp", "the MFA code step"),
    ("/userconsole/auth", "the password step"),
    ("/userconsole/api/applications", "the application list"),
    ("/userconsole/api/self", "the session check"),
    ("/saml2/", "the application page"),
)


def _step(method: str, path: str) -> str:
    """The step a request belongs to, for messages: a name and the request, without the ids a
    path may carry (a push id is a secret)."""
    for prefix, name in _STEP_NAMES:
        if path.startswith(prefix):
            shown = path
            if prefix.endswith("/push/"):
                rest = path[len(prefix) :].partition("/")[2]
                shown = prefix + "ID" + (f"/{rest}" if rest else "")
            return f"{name} ({method} {shown})"
    return f"{method} {path}"


def _shape(answer: Answer) -> str:
    """What an answer is, never what it says: HTTP status, content type, and the top-level JSON
    keys, the page title or where it redirects (the path only)."""
    kind = answer.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    status = f"HTTP {answer.status}"
    location = answer.headers.get("Location")
    if answer.status in REDIRECT_STATUSES and location:
        return f"{status} redirecting to {urlsplit(location).path or '/'}"
    try:
        parsed = answer.json()
    except ValueError:
        parsed = _NO_JSON
    if isinstance(parsed, dict):
        return f"{kind} ({status}) with keys [{', '.join(sorted(map(str, parsed)))}]"
    if parsed is not _NO_JSON:
        return f"{kind} ({status}) holding a JSON {type(parsed).__name__}"
    title = _title(answer.text) if "html" in kind or answer.text.lstrip()[:1] == "<" else ""
    return f"{kind} ({status}" + (f", titled {title!r})" if title else ")")


def _shape_of_reply(reply: _Reply) -> str:
    return f"HTTP {reply.status} with keys [{', '.join(sorted(map(str, reply.body)))}]"


_NO_JSON = object()


def _title(page: str) -> str:
    start = page.lower().find("<title")
    if start < 0:
        return ""
    start = page.find(">", start) + 1
    end = page.lower().find("</title>", start)
    return " ".join(page[start:end].split())[:80] if start > 0 and end > start else ""


_DENIAL_WORDS = ("access policy", "conditional access", "policy that prevents", "denied by policy")


def _denial(message: str) -> bool:
    """Whether JumpCloud's words say an access policy refused the sign-in."""
    lowered = message.lower()
    return any(word in lowered for word in _DENIAL_WORDS)


def _page_message(soup: Any) -> str:
    """The page's own words: its heading and first paragraph, else its title."""
    parts = []
    for name in ("h1", "p"):
        element = soup.find(name)
        if element is not None:
            words = " ".join(element.get_text(" ").split())
            if words:
                parts.append(words.rstrip("."))
    if not parts and soup.title is not None:
        parts.append(" ".join(soup.title.get_text().split()))
    return ": ".join(parts)[:300]


def _required_text(reply: _Reply, key: str, step: str, what: str) -> str:
    """The non-empty string JumpCloud's JSON answer at ``step`` holds under ``key``."""
    value = reply.body.get(key)
    if not isinstance(value, str) or not value:
        raise JumpCloudChangedError(
            step=step, expected=f"JSON with {what}", got=_shape_of_reply(reply)
        )
    return value


def _message(reply: _Reply) -> str:
    for key in ("message", "error"):
        value = reply.body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().rstrip(".")
    return ""


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds_between(start: object, end: object) -> float | None:
    begin, finish = _parse_time(start), _parse_time(end)
    if begin is None or finish is None:
        return None
    return (finish - begin).total_seconds()


def _json_answer(response: Answer, url: str) -> Any:
    """The JSON value of an API answer; rate limiting, a server error or an answer that is not
    JSON (HTML: the flow changed, or another host answered) is an error."""
    if response.status == 429:
        raise IdpRateLimitedError(url=url)
    if response.status >= 500:
        raise IdpServerError(status=response.status, url=url)
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise IdpProtocolError(
            url=url, reason=f"expected JSON, got {kind} (HTTP {response.status})"
        ) from None
