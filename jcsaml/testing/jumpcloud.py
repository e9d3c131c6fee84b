"""A fake JumpCloud: a real HTTP server on loopback that speaks JumpCloud's sign-in protocol.

:class:`FakeJumpCloud` plays both JumpCloud hosts at once: the console API (``/userconsole/...``:
xsrf token, password, TOTP, JumpCloud Protect push, WebAuthn, console session) and the SSO host
(``/saml2/<slug>``: the auto-post page carrying a freshly signed ``SAMLResponse``). Point a client's
console URL and its app URL at :attr:`FakeJumpCloud.url`, sign in as one of the :class:`FakeUser`
accounts, and it receives SAML Responses signed with :attr:`FakeJumpCloud.keys` that STS (or moto)
accepts.

It checks what JumpCloud checks (the ``X-Xsrftoken`` header against the ``_xsrf`` cookie, the
password, single-use TOTP codes, WebAuthn assertion signatures against the user's registered keys,
the ``_jumpcloud_user_console_`` session and its expiry) and can be told to misbehave
(:meth:`FakeJumpCloud.inject_fault`, :attr:`FakeUser.device_trust_denied`, ...). Given an
``ssl_context`` it serves HTTPS. Every request is logged in :attr:`FakeJumpCloud.requests` with
passwords, codes and signatures masked, so tests can count round trips.

Example::

    user = FakeUser("alice@acme.example", "correct horse", totp_secret=pyotp.random_base32(),
                    apps=["acme-prod-aws"])
    app = FakeApp("acme-prod-aws", roles=[(ROLE_ARN, PROVIDER_ARN)])
    with FakeJumpCloud(users=[user], apps=[app]) as fake:
        ...  # sign in against fake.url, fetch fake.app_url("acme-prod-aws")

The tenant it serves (users, applications and the state their sign-ins leave) is
:class:`~jcsaml.testing.tenant.FakeTenant`; this module is the protocol, the faults and the
request log. pyotp, lxml, signxml and cryptography are imported only when a request needs them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import json
import secrets
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any, Literal, get_args
from urllib.parse import quote, urlsplit

from jcsaml.loopback import LoopbackHandler, LoopbackServer
from jcsaml.saml import AWS_AUDIENCE
from jcsaml.testing.idp import IdpKeyPair, build_saml_response, sign_saml_response

# The tenant's public names stay importable from here, where the demo, the docs and tests find them.
from jcsaml.testing.tenant import SIGNIN_URLS as SIGNIN_URLS
from jcsaml.testing.tenant import ConsoleSession, FakeTenant, PendingMfa, Push, WebAuthnChallenge
from jcsaml.testing.tenant import FactorStatus as FactorStatus
from jcsaml.testing.tenant import FactorType as FactorType
from jcsaml.testing.tenant import FailureKey as FailureKey
from jcsaml.testing.tenant import FakeApp as FakeApp
from jcsaml.testing.tenant import FakeFactor as FakeFactor
from jcsaml.testing.tenant import FakeUser as FakeUser
from jcsaml.testing.tenant import PushOutcome as PushOutcome
from jcsaml.testing.tenant import PushStatus as PushStatus
from jcsaml.testing.tenant import SignWhat as SignWhat

FaultKind = Literal[
    "500",
    "502",
    "503",
    "504",
    "html",
    "slow",
    "drop",
    "429",
    "drip",
    "bomb",
    "short",
    "redirect",
    "404",
]
#: What :meth:`FakeJumpCloud.fault_switch` can make a path answer until it is switched off.
SwitchKind = Literal["401", "429", "500", "502", "503", "504", "drip", "hang"]
UserVerification = Literal["discouraged", "preferred", "required"]

XSRF_COOKIE = "_xsrf"
XSRF_HEADER = "X-Xsrftoken"
SESSION_COOKIE = "_jumpcloud_user_console_"
MASK = "***"

# Request body keys whose values are secrets: never kept in the request log. A WebAuthn
# signature is not reusable, but it is the one part of an assertion that proves possession.
_SECRET_KEYS = frozenset({"password", "otp", "signature"})

AUTH_FAILED_MESSAGE = "Authentication failed."
MFA_REQUIRED_MESSAGE = "MFA required."
INVALID_OTP_MESSAGE = "Invalid OTP"
XSRF_MESSAGE = "Forbidden: XSRF token missing or incorrect."
UNAUTHORIZED_MESSAGE = "Unauthorized"
WEBAUTHN_FAILED_MESSAGE = "WebAuthn verification failed."
DEVICE_TRUST_MESSAGE = (
    "Access denied: a conditional access policy allows sign-in only from trusted devices."
)

# The "bomb" fault: a gzip body this large once decoded (about 400 KiB on the wire).
BOMB_DECODED_BYTES = 400 * 1024 * 1024

# How long a WebAuthn challenge is valid, as the "timeout" (milliseconds) it is sent with says.
WEBAUTHN_TIMEOUT_MS = 60000


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, as logged: secrets masked, nothing else changed.

    ``path`` includes the query string. ``json`` is the parsed body (``"***"`` in place of a
    non-empty password, code or WebAuthn signature), or None when the body was empty or not JSON.
    ``headers`` holds the request headers with cookie values masked. ``fault`` names the injected
    fault that answered the request, if any.
    """

    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    fault: FaultKind | SwitchKind | None = None


@dataclass
class _Switch:
    """A lasting fault (see :meth:`FakeJumpCloud.fault_switch`); ``off`` releases hung requests."""

    kind: SwitchKind
    delay: float
    off: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Fault:
    path_prefix: str
    kind: FaultKind
    remaining: int
    delay: float
    retry_after: int | None
    location: str | None = None


@dataclass(frozen=True)
class _Request:
    method: str
    target: str  # path and query, as sent
    path: str
    headers: Mapping[str, str]
    cookies: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Faults: send one byte every ``drip`` seconds; announce more bytes than are sent, then hang up.
    drip: float = 0
    short: bool = False


@functools.cache
def _gzip_bomb() -> bytes:
    """BOMB_DECODED_BYTES of zeros as one gzip stream, built from a single compressed MiB.

    Each MiB is deflated after a full flush, which resets the compressor: every MiB then gives
    the same bytes, so one is compressed and repeated (a tenth of a second, where compressing
    all of it took seconds and a loaded machine's client gave up waiting)."""
    zeros = bytes(1024 * 1024)
    mebibytes = BOMB_DECODED_BYTES // len(zeros)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the gzip frame is ours
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # the final block
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name or time
    trailer = struct.pack("<II", crc, BOMB_DECODED_BYTES & 0xFFFFFFFF)
    return header + block * mebibytes + end + trailer


@functools.cache
def _shared_keys() -> IdpKeyPair:
    # RSA key generation costs tens of milliseconds; fakes made without keys share one pair.
    return IdpKeyPair.generate()


def _b64url(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn JSON carries binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _object_id(seed: str) -> str:
    """A stable 24-hex-digit id shaped like the MongoDB ObjectIds JumpCloud uses."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]


def _iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _json_reply(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(
        status,
        json.dumps(payload, indent=2).encode("utf-8"),
        "application/json; charset=utf-8",
        headers or [],
    )


def _html_reply(status: int, page: str, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(status, page.encode("utf-8"), "text/html; charset=utf-8", headers or [])


def mask_secrets(payload: Any) -> Any:
    """``payload`` (parsed JSON) with every non-empty ``password``, ``otp`` or ``signature``
    value replaced by ``"***"``, at any depth; an empty ``otp`` stays empty so logs show that
    none was sent."""
    if isinstance(payload, dict):
        return {
            key: (MASK if key in _SECRET_KEYS and value not in ("", None) else mask_secrets(value))
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [mask_secrets(item) for item in payload]
    return payload


def _masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    logged = dict(headers)
    for key in list(logged):
        if key.lower() == "cookie":
            # Cookie names say what the client sent; values are session secrets.
            names = [part.split("=", 1)[0].strip() for part in logged[key].split(";")]
            logged[key] = "; ".join(f"{name}={MASK}" for name in names if name)
    return logged


def _page(title: str, body: str, *, onload: str = "") -> str:
    onload_attr = f' onload="{onload}"' if onload else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body{onload_attr}>\n{body}\n</body>\n</html>\n"
    )


LOGIN_PAGE = _page(
    "JumpCloud | User Portal Login",
    "<noscript>You need to enable JavaScript to run this app.</noscript>\n"
    '<div id="root"></div>\n'
    '<script src="/userconsole/static/js/main.js"></script>',
)

_GATEWAY_TITLES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


class _Handler(LoopbackHandler["FakeJumpCloud"]):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
    timeout = 30  # an idle keep-alive connection must not pin a thread forever

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header on the fake's clock, as JumpCloud's is on its own.
        moment = self.owner._clock() if timestamp is None else timestamp
        return super().date_time_string(moment)

    def _serve(self) -> None:
        cookies: dict[str, str] = {}
        for header in self.headers.get_all("Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            cookies.update({name: morsel.value for name, morsel in jar.items()})
        request = _Request(
            method=self.command,
            target=self.path,
            path=urlsplit(self.path).path,
            headers=dict(self.headers.items()),
            cookies=cookies,
            body=self.read_body(),
        )
        reply = self.owner._handle(request)
        if reply is None:
            self.close_connection = True
            return
        headers = [*reply.headers, ("Content-Type", reply.content_type)]
        if reply.drip:
            # The whole answer, status line and headers too, a byte at a time.
            self.close_connection = True
            head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
            head += [f"{name}: {value}" for name, value in headers]
            head.append(f"Content-Length: {len(reply.body)}")
            raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body
            self.drip(raw, reply.drip)
            return
        if reply.short:
            self.close_connection = True
        sent = len(reply.body) // 2 if reply.short else None
        self.send_answer(reply.status, headers, reply.body, sent=sent)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class FakeJumpCloud(LoopbackServer, FakeTenant):
    """A threaded HTTP server on ``127.0.0.1`` (free port) that behaves like JumpCloud.

    ``keys`` sign the SAML Responses (default: one generated key pair shared by every fake in the
    process). ``clock`` (seconds since the epoch) drives TOTP windows, console session expiry
    (``session_lifetime`` seconds), push expiry (``push_lifetime``), WebAuthn challenge expiry
    (60 s) and assertion timestamps, so tests can move time. Use as a context manager, or call
    :meth:`start` and :meth:`stop`.

    ``ssl_context`` (a server-side context holding a certificate for ``127.0.0.1``, e.g. from
    trustme) makes it serve HTTPS; :attr:`url` then starts with ``https://``.

    WebAuthn assertions must be made for ``webauthn_rp_id`` (default ``127.0.0.1``, the host a
    client configured with :attr:`url` talks to) and carry ``webauthn_origin`` in their client
    data (default: the origin of :attr:`url`, as a client that uses its configured console URL's
    origin sends). ``webauthn_user_verification`` is sent with the challenge; ``required`` also
    makes the fake refuse assertions without the user-verified flag.

    ``auth_failure_key`` is the key of a wrong password's 401 body (``message`` or ``error``)
    for users that don't choose one (and for unknown users).

    ``latency`` (seconds): no answer leaves before this long after its request arrived (the
    fake's own work included), as with a round trip to the real service; the benchmark uses it
    to measure what a sign-in costs beyond the time spent waiting.
    """

    handler = _Handler

    def __init__(
        self,
        *,
        users: Sequence[FakeUser],
        apps: Sequence[FakeApp],
        keys: IdpKeyPair | None = None,
        clock: Callable[[], float] = time.time,
        session_lifetime: float = 3600,
        push_lifetime: float = 60,
        ssl_context: ssl.SSLContext | None = None,
        webauthn_rp_id: str = "127.0.0.1",
        webauthn_origin: str | None = None,
        webauthn_user_verification: UserVerification = "discouraged",
        auth_failure_key: FailureKey = "message",
        latency: float = 0,
    ) -> None:
        if latency < 0:
            raise ValueError("latency must not be negative")
        LoopbackServer.__init__(self, ssl_context=ssl_context)
        FakeTenant.__init__(
            self,
            users=users,
            apps=apps,
            clock=clock,
            session_lifetime=session_lifetime,
            push_lifetime=push_lifetime,
        )
        self.latency = latency
        self.keys = keys if keys is not None else _shared_keys()
        self.webauthn_rp_id = webauthn_rp_id
        self._webauthn_origin = webauthn_origin
        self.webauthn_user_verification: UserVerification = webauthn_user_verification
        self.auth_failure_key: FailureKey = auth_failure_key
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._faults: list[_Fault] = []
        self._switches: dict[str, _Switch] = {}

    @property
    def webauthn_origin(self) -> str:
        """The origin WebAuthn client data must name: the one given, else :attr:`url`."""
        return self._webauthn_origin if self._webauthn_origin is not None else self.url

    def app_url(self, slug: str) -> str:
        """The app's SSO URL, what a user configures as ``url``."""
        return f"{self.url}/saml2/{slug}"

    def metadata_xml(self, slug: str | None = None) -> str:
        """IdP metadata for ``slug`` (default: the first app), also served at ``.../metadata``."""
        if slug is None:
            slug = next(iter(self._apps), "aws")
        return self.keys.metadata_xml(entity_id="JumpCloud", sso_url=self.app_url(slug))

    # --- request log -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a snapshot)."""
        with self._state:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._state:
            self._requests.clear()

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many logged requests have ``method`` (any when None) and a path starting with
        ``path_prefix``."""
        with self._state:
            return sum(
                1
                for r in self._requests
                if (method is None or r.method == method.upper()) and r.path.startswith(path_prefix)
            )

    @property
    def errors(self) -> list[str]:
        """Exceptions raised inside the fake while answering (a bug in the fake, not the client)."""
        with self._state:
            return list(self._errors)

    # --- control API for tests ---------------------------------------------------------------

    def inject_fault(
        self,
        path_prefix: str,
        kind: FaultKind,
        *,
        times: int = 1,
        delay: float = 0,
        retry_after: int | None = None,
        location: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path starts with ``path_prefix`` badly.

        ``500`` is a JSON error; ``502``/``503``/``504`` are a gateway's HTML pages; ``429`` is a
        JSON rate-limit answer with ``Retry-After: retry_after`` when given; ``html`` is the
        portal's HTML login page with status 200 where JSON was expected; ``404`` is the XML "no
        such key" a host that is not JumpCloud's console answers; ``drop`` closes the
        connection without answering; ``slow`` answers normally after ``delay`` seconds.
        ``drip`` sends the normal answer (status line, headers, body) one byte every ``delay``
        seconds (1 s when ``delay`` is 0); ``bomb`` is a 200 JSON answer of about 400 KiB of
        gzip that decodes to 400 MiB (``BOMB_DECODED_BYTES``); ``short`` announces the normal
        answer's length but sends only half the body, then closes the connection; ``redirect``
        answers 302 to ``location`` (required). ``delay`` also postpones every kind but ``drip``.
        Faults are used in the order they were injected.
        """
        if kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {kind!r}; use one of {get_args(FaultKind)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if kind == "redirect" and not location:
            raise ValueError("a redirect fault needs a location")
        with self._state:
            self._faults.append(_Fault(path_prefix, kind, times, delay, retry_after, location))

    def clear_faults(self) -> None:
        """Forget the injected faults and turn every fault switch off."""
        with self._state:
            self._faults.clear()
            switches, self._switches = list(self._switches.values()), {}
        for switch in switches:
            switch.off.set()

    def fault_switch(self, path_prefix: str, kind: SwitchKind | None, *, delay: float = 1) -> None:
        """Make every request whose path starts with ``path_prefix`` (``/userconsole/api/self``,
        ``/saml2/``...) fail the same way until the switch is turned off (``kind`` None, or
        :meth:`clear_faults`), as JumpCloud does during an outage.

        ``401`` is JumpCloud's JSON answer for a session that is not valid; ``429`` and ``500`` are
        JSON errors; ``502``-``504`` a gateway's HTML pages; ``drip`` sends the normal answer one
        byte every ``delay`` seconds; ``hang`` answers nothing until the switch is turned off or
        the fake stops, then closes the connection. Faults injected with :meth:`inject_fault`
        come first. Requests answered by a switch are logged with its kind as ``fault``.
        """
        if kind is not None and kind not in get_args(SwitchKind):
            raise ValueError(f"unknown switch kind {kind!r}; use one of {get_args(SwitchKind)}")
        with self._state:
            old = self._switches.pop(path_prefix, None)
            if kind is not None:
                self._switches[path_prefix] = _Switch(kind, delay)
        if old is not None:
            old.off.set()

    def _switched(self, request: _Request, switch: _Switch) -> _Reply | None:
        """The answer of a request caught by a fault switch (None: close without answering)."""
        if switch.kind == "hang":
            while not switch.off.wait(0.05) and not self._stopping.is_set():
                pass
            return None
        if switch.kind == "drip":
            reply = self._route(request)
            reply.drip = switch.delay or 1.0
            return reply
        if switch.kind == "401":
            return _json_reply(401, {"message": UNAUTHORIZED_MESSAGE})
        if switch.kind == "429":
            return _json_reply(429, {"message": "Too Many Requests"})
        if switch.kind == "500":
            return _json_reply(500, {"message": "Internal Server Error"})
        status = int(switch.kind)
        title = _GATEWAY_TITLES[status]
        return _html_reply(status, _page(title, f"<center><h1>{title}</h1></center>"))

    # --- request handling --------------------------------------------------------------------

    def _handle(self, request: _Request) -> _Reply | None:
        """Answer one request; None means: close the connection without answering."""
        arrived = time.monotonic()
        reply = self._answer(request)
        if self.latency:
            self._stopping.wait(max(0.0, arrived + self.latency - time.monotonic()))
        return reply

    def _answer(self, request: _Request) -> _Reply | None:
        with self._state:
            fault = self._take_fault(request.path)
            switch = None
            if fault is None:
                switches = self._switches.items()
                switch = next((on for at, on in switches if request.path.startswith(at)), None)
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.target,
                    json=mask_secrets(request.json()),
                    headers=_masked_headers(request.headers),
                    fault=fault.kind if fault else switch.kind if switch else None,
                )
            )
        if switch is not None:
            return self._switched(request, switch)
        if fault is not None:
            if fault.delay and fault.kind != "drip":
                self._stopping.wait(fault.delay)
            if fault.kind == "drop":
                return None
            if fault.kind not in ("slow", "drip", "short"):
                return self._fault_reply(fault)
        try:
            reply = self._route(request)
        except Exception as exc:  # a bug in the fake: keep it visible to the test
            with self._state:
                self._errors.append(f"{request.method} {request.path}: {exc!r}")
            return _json_reply(500, {"message": "fake JumpCloud failed; see FakeJumpCloud.errors"})
        if fault is not None and fault.kind == "drip":
            reply.drip = fault.delay or 1.0
        if fault is not None and fault.kind == "short":
            reply.short = True
        return reply

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_reply(self, fault: _Fault) -> _Reply:
        if fault.kind == "500":
            return _json_reply(500, {"message": "Internal Server Error"})
        if fault.kind == "429":
            headers = (
                [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
            )
            return _json_reply(429, {"message": "Too Many Requests"}, headers)
        if fault.kind == "html":
            return _html_reply(200, LOGIN_PAGE)
        if fault.kind == "404":  # what another host (a storage bucket, say) answers
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                "<Message>The specified key does not exist.</Message></Error>"
            )
            return _Reply(404, body.encode(), "application/xml")
        if fault.kind == "bomb":
            return _Reply(200, _gzip_bomb(), "application/json", [("Content-Encoding", "gzip")])
        if fault.kind == "redirect":
            location = fault.location or "/"
            page = _page("Redirecting", f'<a href="{html.escape(location)}">here</a>')
            return _html_reply(302, page, [("Location", location)])
        status = int(fault.kind)
        title = _GATEWAY_TITLES[status]
        return _html_reply(status, _page(title, f"<center><h1>{title}</h1></center>"))

    def _route(self, request: _Request) -> _Reply:
        method, path = request.method, request.path
        if path.startswith("/userconsole/"):
            return self._route_console(request)
        if path == "/login" and method == "GET":
            return _html_reply(200, LOGIN_PAGE)
        parts = path.strip("/").split("/")
        if parts[0] == "saml2" and len(parts) in (2, 3) and method == "GET":
            if len(parts) == 3 and parts[2] == "metadata" and parts[1] in self._apps:
                return _Reply(200, self.metadata_xml(parts[1]).encode(), "application/xml")
            if len(parts) == 2:
                return self._saml_page(request, parts[1])
        return _html_reply(404, _page("Not Found", "<h1>404 Not Found</h1>"))

    def _route_console(self, request: _Request) -> _Reply:
        method, path = request.method, request.path
        if path == "/userconsole/xsrf" and method == "GET":
            return self._issue_xsrf()
        xsrf = self._checked_xsrf(request)
        if xsrf is None:
            return _json_reply(403, {"message": XSRF_MESSAGE})
        parts = path.strip("/").split("/")[1:]  # after "userconsole"
        if method == "POST" and parts == ["auth"]:
            return self._auth(request, xsrf)
        if method == "POST" and parts == ["auth", "totp"]:
            return self._auth_totp(request, xsrf)
        if method == "POST" and parts == ["auth", "push"]:
            return self._push_start(xsrf)
        if method == "GET" and parts == ["auth", "webauthn"]:
            return self._webauthn_challenge(xsrf)
        if method == "POST" and parts == ["auth", "webauthn"]:
            return self._webauthn_login(request, xsrf)
        if len(parts) >= 3 and parts[:2] == ["auth", "push"]:
            push_id, rest = parts[2], parts[3:]
            if method == "GET" and not rest:
                return self._push_poll(push_id, xsrf)
            if method == "POST" and rest == ["login"]:
                return self._push_login(push_id, xsrf)
        if method == "GET" and parts == ["api", "self"]:
            return self._api_self(request)
        if method == "GET" and parts == ["api", "applications"]:
            return self._api_applications(request)
        return _json_reply(404, {"message": "Not Found"})

    # --- xsrf and sessions ---

    def _issue_xsrf(self) -> _Reply:
        token = self._new_xsrf_token()
        return _json_reply(200, {"xsrf": token}, [("Set-Cookie", f"{XSRF_COOKIE}={token}; Path=/")])

    def _checked_xsrf(self, request: _Request) -> str | None:
        header = request.header(XSRF_HEADER)
        cookie = request.cookies.get(XSRF_COOKIE)
        if not header or not cookie or not hmac.compare_digest(header, cookie):
            return None
        return header if self._issued_xsrf_token(header) else None

    def _session_of(self, request: _Request) -> ConsoleSession | None:
        token = request.cookies.get(SESSION_COOKIE)
        return self._live_session(token) if token else None

    def _sign_in(self, user: FakeUser, redirect_to: str, xsrf: str) -> _Reply:
        token = self._open_session(user.email, xsrf)
        secure = "; Secure" if self.ssl_context is not None else ""
        cookie = f"{SESSION_COOKIE}={token}; Path=/; HttpOnly{secure}"
        return _json_reply(200, {"redirectTo": redirect_to}, [("Set-Cookie", cookie)])

    def _redirect_url(self, redirect_to: Any) -> str:
        # Relative ("saml2/<slug>") as clients send it; an absolute URL keeps only its path,
        # since this one server plays every JumpCloud host.
        if isinstance(redirect_to, str):
            path = urlsplit(redirect_to).path.strip("/")
            if path:
                return f"{self.url}/{path}"
        return f"{self.url}/userconsole/"

    # --- password and TOTP ---

    def _auth(self, request: _Request, xsrf: str) -> _Reply:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("email"), str):
            return _json_reply(400, {"message": "Bad Request"})
        user = self._users.get(body["email"].lower())
        password = body.get("password")
        if (
            user is None
            or not isinstance(password, str)
            or not hmac.compare_digest(password.encode(), user.password.encode())
        ):
            key = user.auth_failure_key if user and user.auth_failure_key else self.auth_failure_key
            message = (user.auth_failure_message if user else None) or AUTH_FAILED_MESSAGE
            return _json_reply(401, {key: message})
        if user.device_trust_denied:
            # The policy is checked once the user is known, before any MFA is asked for.
            return _json_reply(403, {"message": DEVICE_TRUST_MESSAGE})
        redirect_to = self._redirect_url(body.get("redirectTo"))
        if not user.requires_mfa:
            return self._sign_in(user, redirect_to, xsrf)
        with self._state:
            self._pending[xsrf] = PendingMfa(user.email.lower(), redirect_to)
        otp = body.get("otp")
        if not otp:
            factors = [{"type": f.type, "status": f.status} for f in user.mfa_factors()]
            return _json_reply(401, {"factors": factors, "message": MFA_REQUIRED_MESSAGE})
        if not self._accept_totp(user, otp):
            return _json_reply(401, {"message": INVALID_OTP_MESSAGE})
        return self._sign_in(user, redirect_to, xsrf)

    def _auth_totp(self, request: _Request, xsrf: str) -> _Reply:
        # The 2023 variant: the code arrives alone, after the "MFA required." answer.
        with self._state:
            pending = self._pending.get(xsrf)
        if pending is None:
            return _json_reply(401, {"message": UNAUTHORIZED_MESSAGE})
        body = request.json()
        otp = body.get("otp") if isinstance(body, dict) else None
        user = self._users[pending.email]
        if not otp or not self._accept_totp(user, otp):
            return _json_reply(401, {"message": INVALID_OTP_MESSAGE})
        return self._sign_in(user, pending.redirect_to, xsrf)

    # --- JumpCloud Protect push ---

    def _push_body(self, push: Push) -> dict[str, Any]:
        return {
            "id": push.id,
            "expiresAt": _iso(push.expires_at),
            "initiatedAt": _iso(push.initiated_at),
            "status": push.status,
            "userId": _object_id(push.email),
        }

    def _push_start(self, xsrf: str) -> _Reply:
        with self._state:
            pending = self._pending.get(xsrf)
            if pending is None:
                return _json_reply(401, {"message": UNAUTHORIZED_MESSAGE})
            if not self._users[pending.email].has_factor("push"):
                return _json_reply(400, {"message": "Push MFA is not enabled for this user."})
            now = self._clock()
            push = Push(
                id=secrets.token_hex(12),
                email=pending.email,
                xsrf=xsrf,
                initiated_at=now,
                expires_at=now + self.push_lifetime,
            )
            self._pushes[push.id] = push
            self._state.notify_all()
            return _json_reply(200, self._push_body(push))

    def _push_poll(self, push_id: str, xsrf: str) -> _Reply:
        with self._state:
            push = self._pushes.get(push_id)
            if push is None or push.xsrf != xsrf:
                return _json_reply(404, {"message": "Not Found"})
            if push.status == "pending":
                script = self._push_scripts.get(push.email)
                if script is not None and push.polls >= script.after_polls:
                    push.status = script.outcome
                elif self._clock() >= push.expires_at:
                    push.status = "expired"
                else:
                    push.polls += 1
            return _json_reply(200, self._push_body(push))

    def _push_login(self, push_id: str, xsrf: str) -> _Reply:
        with self._state:
            push = self._pushes.get(push_id)
            pending = self._pending.get(xsrf)
            if push is None or push.xsrf != xsrf:
                return _json_reply(404, {"message": "Not Found"})
            if push.status != "accepted" or push.logged_in or pending is None:
                return _json_reply(401, {"message": "Push notification was not accepted."})
            push.logged_in = True
            user = self._users[push.email]
        return self._sign_in(user, pending.redirect_to, xsrf)

    # --- WebAuthn ---

    def _webauthn_challenge(self, xsrf: str) -> _Reply:
        with self._state:
            pending = self._pending.get(xsrf)
            if pending is None:
                return _json_reply(401, {"message": UNAUTHORIZED_MESSAGE})
            user = self._users[pending.email]
            if not user.has_factor("webauthn") or not user.webauthn_keys:
                return _json_reply(400, {"message": "WebAuthn is not enabled for this user."})
            challenge = secrets.token_bytes(32)
            token = secrets.token_urlsafe(32)
            self._webauthn_challenges[token] = WebAuthnChallenge(
                challenge=challenge,
                email=pending.email,
                xsrf=xsrf,
                expires_at=self._clock() + WEBAUTHN_TIMEOUT_MS / 1000,
            )
            allowed = [{"type": "public-key", "id": _b64url(cid)} for cid in user.webauthn_keys]
        options = {
            "challenge": _b64url(challenge),
            "rpId": self.webauthn_rp_id,
            "allowCredentials": allowed,
            "timeout": WEBAUTHN_TIMEOUT_MS,
            "userVerification": self.webauthn_user_verification,
        }
        return _json_reply(200, {"publicKey": options, "token": token})

    def _webauthn_login(self, request: _Request, xsrf: str) -> _Reply:
        from jcsaml.testing.webauthn_verify import WebAuthnVerificationError, verify_assertion

        body = request.json()
        if not isinstance(body, dict):
            return _json_reply(400, {"message": "Bad Request"})
        token, credential = body.get("token"), body.get("publicKeyCredential")
        with self._state:
            pending = self._pending.get(xsrf)
            if pending is None:
                return _json_reply(401, {"message": UNAUTHORIZED_MESSAGE})
            issued = None
            if isinstance(token, str):
                issued = self._webauthn_challenges.get(token)
                if issued is not None and (issued.xsrf, issued.email) == (xsrf, pending.email):
                    # Spent whatever the outcome: a refused assertion needs a fresh challenge.
                    del self._webauthn_challenges[token]
                else:
                    issued = None
            user = self._users[pending.email]
            if issued is None:
                return self._webauthn_refused("unknown, spent or foreign token")
            if issued.expires_at <= self._clock():
                return self._webauthn_refused("challenge expired")
            if not isinstance(credential, dict):
                return self._webauthn_refused("no publicKeyCredential object")
            try:
                # Under the lock: the signature counters are checked and moved in one step, so
                # two sign-ins racing with copies of one key cannot both pass.
                verify_assertion(
                    credential_body=credential,
                    expected_challenge=issued.challenge,
                    expected_origin=self.webauthn_origin,
                    rp_id=self.webauthn_rp_id,
                    public_keys=user.webauthn_keys,
                    require_user_verification=self.webauthn_user_verification == "required",
                    sign_counts=self._webauthn_sign_counts,
                )
            except WebAuthnVerificationError as exc:
                return self._webauthn_refused(exc.reason)
        return self._sign_in(user, pending.redirect_to, xsrf)

    def _webauthn_refused(self, reason: str) -> _Reply:
        with self._state:
            self._webauthn_failures.append(reason)
        return _json_reply(401, {"message": WEBAUTHN_FAILED_MESSAGE})

    # --- console API ---

    def _api_self(self, request: _Request) -> _Reply:
        session = self._session_of(request)
        if session is None:
            return _json_reply(401, {"message": UNAUTHORIZED_MESSAGE})
        user = self._users[session.email]
        local = user.email.split("@", 1)[0]
        return _json_reply(
            200,
            {
                "addresses": [],
                "alternateEmail": "",
                "email": user.email,
                "enableUserPortalMultifactor": user.requires_mfa,
                "firstname": local.capitalize(),
                "_id": _object_id(user.email.lower()),
                "lastname": "",
                "mfa": {"exclusion": False, "configured": user.requires_mfa},
                "organization": _object_id("organization"),
                "password_expiration_date": None,
                "phoneNumbers": [],
                "restricted_fields": {},
                "totp_enabled": user.has_factor("totp"),
                "username": local,
            },
        )

    def _api_applications(self, request: _Request) -> _Reply:
        session = self._session_of(request)
        if session is None:
            return _json_reply(401, {"message": UNAUTHORIZED_MESSAGE})
        user = self._users[session.email]
        listing = [
            {
                "_id": _object_id("app:" + app.slug),
                "name": "bookmark" if app.kind == "bookmark" else app.catalog_name,
                "ssoUrl": app.bookmark_url
                if app.kind == "bookmark"
                else app.listed_sso_url or self.app_url(app.slug),
                "displayLabel": app.display_label or f"AWS {app.slug}",
                "active": True,
                "organization": _object_id("organization"),
                "config": None,
                "color": "",
                "logo": {"url": "", "color": ""},
                "description": "",
                "sso": {"type": app.kind},
            }
            for slug in user.apps
            if (app := self._apps.get(slug)) is not None
        ]
        return _json_reply(200, listing)

    # --- the SSO host ---

    def _saml_page(self, request: _Request, slug: str) -> _Reply:
        app = self._apps.get(slug)
        if app is None or app.kind != "saml":
            return _html_reply(404, _page("JumpCloud", "<h1>Application not found</h1>"))
        session = self._session_of(request)
        if session is None:
            target = quote(f"saml2/{slug}", safe="")
            location = f"{self.url}/login?context=sso&redirectTo={target}"
            return _html_reply(
                302,
                _page("Redirecting", f'<a href="{location}">Sign in</a>'),
                [("Location", location)],
            )
        user = self._users[session.email]
        if slug not in user.apps:
            return _html_reply(
                200,
                _page(
                    "JumpCloud | Access Denied",
                    "<h1>Access Denied</h1>\n<p>You do not have access to this application. "
                    "Contact your administrator to request access.</p>",
                ),
            )
        if app.conditional_access_denied:
            return _html_reply(
                403,
                _page(
                    "JumpCloud | Access Denied",
                    "<h1>Access Denied</h1>\n<p>Your administrator has set a policy that "
                    "prevents access to this application from this device or location.</p>",
                ),
            )
        return _html_reply(200, self._auto_post_page(app, user))

    def _auto_post_page(self, app: FakeApp, user: FakeUser) -> str:
        action = app.signin_url
        xml = build_saml_response(
            roles=app.roles,
            subject=user.name_id or user.email,
            session_duration=app.session_duration,
            destination=action,
            now=datetime.fromtimestamp(self._clock(), UTC),
            principal_first=app.principal_first,
            audience=app.audience or AWS_AUDIENCE,
        )
        signed = (
            xml
            if app.sign == "none"
            else sign_saml_response(
                xml, self.keys, sign=app.sign, embed_certificate=app.embed_certificate
            )
        )
        saml_response = base64.b64encode(signed).decode("ascii")
        form = (
            "<noscript><p><strong>Note:</strong> Since your browser does not support JavaScript, "
            "you must press the Continue button once to proceed.</p></noscript>\n"
            f'<form method="POST" action="{html.escape(action)}">\n'
            f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}"/>\n'
            f'<input type="hidden" name="RelayState" value="{html.escape(app.relay_state)}"/>\n'
            '<noscript><input type="submit" value="Continue"/></noscript>\n'
            "</form>"
        )
        return _page("JumpCloud", form, onload="document.forms[0].submit()")
