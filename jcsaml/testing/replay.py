"""Recorded JumpCloud exchanges, and a local server that replays them in order.

Each fixture under ``fixtures/jumpcloud/`` is one request and the answer JumpCloud's protocol gives
to it (recorded from :class:`jcsaml.testing.jumpcloud.FakeJumpCloud`)::

    {"request": {"method": "POST", "path": "/userconsole/auth",
                 "json": {"email": "...", "password": "***", ...},
                 "headers": {"X-Xsrftoken": "..."}},
     "response": {"status": 401, "headers": {"Content-Type": "..."}, "body": "{...}"}}

``request.json`` lists the keys the client must send (the values are what was recorded, with
secrets masked); ``request.headers`` must match exactly. Absolute URLs of the recording server
appear in bodies and headers as :data:`RECORDED_BASE_URL`; :class:`ReplayServer` serves them with
its own address instead, so a client can follow ``redirectTo`` and ``Location``.

:class:`ReplayServer` works like botocore's ``Stubber``: queue the exchanges a client is expected
to make, run the client against :attr:`ReplayServer.url`, then :meth:`ReplayServer.assert_done`.
A request that does not match the next exchange gets HTTP 599 and is reported there.

The fixtures were made with :func:`record_fixtures`; to make them again after a protocol change::

    python -c "from jcsaml.testing.replay import record_fixtures; record_fixtures()"

requests is imported only by the recording functions.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jcsaml.loopback import LoopbackHandler, LoopbackServer
from jcsaml.recording import RECORDED_BASE_URL as _RECORDED_BASE_URL
from jcsaml.recording import RECORDED_HOST as _RECORDED_HOST
from jcsaml.testing.jumpcloud import mask_secrets

RECORDED_BASE_URL = _RECORDED_BASE_URL  # every JumpCloud host, in fixtures and recordings
DEFAULT_FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "jumpcloud"
MISMATCH_STATUS = 599

# Response headers worth keeping: the ones a client acts on. Date, Server and Content-Length
# change on every recording (the replay server computes Content-Length itself).
_KEPT_RESPONSE_HEADERS = ("Content-Type", "Set-Cookie", "Location", "Retry-After")


@dataclass(frozen=True)
class ExpectedRequest:
    """What the client must send: ``method``, ``path`` (the query too, when it has one), the
    keys of ``json`` when given, and each of ``headers`` with exactly that value."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def mismatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> str:
        """Why the request ``method target`` does not match, or ``""`` when it does."""
        actual_path = target if "?" in self.path else urlsplit(target).path
        if (method, actual_path) != (self.method, self.path):
            return f"expected {self.method} {self.path}, got {method} {target}"
        lowered = {name.lower(): value for name, value in headers.items()}
        for name, value in self.headers.items():
            if lowered.get(name.lower()) != value:
                return f"{method} {target}: header {name} is missing or differs"
        if self.json is not None:
            try:
                sent = json.loads(body)
            except ValueError:
                return f"{method} {target}: the body is not JSON"
            if not isinstance(sent, dict):
                return f"{method} {target}: the JSON body is not an object"
            missing = sorted(set(self.json) - set(sent))
            if missing:
                return f"{method} {target}: the JSON body lacks {', '.join(missing)}"
        return ""


@dataclass(frozen=True)
class RecordedResponse:
    """The recorded answer: status, the headers a client acts on, and the body as text."""

    status: int
    headers: Mapping[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its answer; ``name`` is the fixture's file name without .json."""

    request: ExpectedRequest
    response: RecordedResponse
    name: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "") -> Exchange:
        request, response = data["request"], data["response"]
        return cls(
            request=ExpectedRequest(
                method=request["method"],
                path=request["path"],
                json=request.get("json"),
                headers=dict(request.get("headers", {})),
            ),
            response=RecordedResponse(
                status=int(response["status"]),
                headers=dict(response.get("headers", {})),
                body=response.get("body", ""),
            ),
            name=name,
        )

    def to_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"method": self.request.method, "path": self.request.path}
        if self.request.json is not None:
            request["json"] = self.request.json
        if self.request.headers:
            request["headers"] = dict(self.request.headers)
        return {
            "request": request,
            "response": {
                "status": self.response.status,
                "headers": dict(self.response.headers),
                "body": self.response.body,
            },
        }

    def with_base_url(self, base_url: str) -> Exchange:
        """This exchange with :data:`RECORDED_BASE_URL` in the answer replaced by ``base_url``,
        and the recorded host name alone (a WebAuthn ``rpId``, a cookie's domain) by its host."""
        host = urlsplit(base_url).hostname or ""

        def moved(text: str) -> str:
            return text.replace(RECORDED_BASE_URL, base_url).replace(_RECORDED_HOST, host)

        response = RecordedResponse(
            status=self.response.status,
            headers={k: moved(v) for k, v in self.response.headers.items()},
            body=moved(self.response.body),
        )
        return replace(self, response=response)


def _fixture_path(name: str, fixtures_dir: Path | None) -> Path:
    directory = fixtures_dir if fixtures_dir is not None else DEFAULT_FIXTURES_DIR
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no fixtures directory at {directory}; pass fixtures_dir= to point at one"
        )
    return directory / (name if name.endswith(".json") else f"{name}.json")


def load_exchange(name: str, *, fixtures_dir: Path | None = None) -> Exchange:
    """Read fixture ``name`` (``"auth_success"`` or ``"auth_success.json"``) from ``fixtures_dir``
    (default: the repository's ``fixtures/jumpcloud``)."""
    path = _fixture_path(name, fixtures_dir)
    return Exchange.from_dict(json.loads(path.read_text("utf-8")), name=path.stem)


def load_exchanges(*names: str, fixtures_dir: Path | None = None) -> list[Exchange]:
    return [load_exchange(name, fixtures_dir=fixtures_dir) for name in names]


def save_exchange(exchange: Exchange, directory: Path) -> Path:
    """Write ``exchange`` as ``<directory>/<exchange.name>.json`` and return that path."""
    if not exchange.name:
        raise ValueError("an exchange needs a name to be saved")
    path = directory / f"{exchange.name}.json"
    path.write_text(json.dumps(exchange.to_dict(), indent=2) + "\n", "utf-8")
    return path


# --- recording --------------------------------------------------------------------------------


def record_exchange(
    session: Any,
    base_url: str,
    method: str,
    path: str,
    *,
    name: str,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    match_headers: Sequence[str] = ("X-Xsrftoken",),
    timeout: float = 10,
) -> Exchange:
    """Send one request with ``session`` (a ``requests.Session``) to ``base_url + path`` and
    return it with its answer as an :class:`Exchange` named ``name``.

    Redirects are not followed. Secrets in ``json_body`` are masked in the record; of the request
    headers, only ``match_headers`` are kept as expectations. ``base_url`` becomes
    :data:`RECORDED_BASE_URL` in the answer. Raises ValueError when the answer sets several
    cookies at once (the fixture format keeps one value per header).
    """
    response = session.request(
        method,
        base_url + path,
        json=json_body,
        headers=dict(headers or {}),
        allow_redirects=False,
        timeout=timeout,
    )
    kept: dict[str, str] = {}
    for header in _KEPT_RESPONSE_HEADERS:
        values = response.raw.headers.getlist(header)
        if len(values) > 1:
            raise ValueError(f"{method} {path} answered with several {header} headers")
        if values:
            kept[header] = values[0].replace(base_url, RECORDED_BASE_URL)
    wanted = {name.lower() for name in match_headers}
    return Exchange(
        request=ExpectedRequest(
            method=method.upper(),
            path=path,
            json=mask_secrets(json_body) if isinstance(json_body, dict) else None,
            headers={k: v for k, v in (headers or {}).items() if k.lower() in wanted},
        ),
        response=RecordedResponse(
            status=response.status_code,
            headers=kept,
            body=response.text.replace(base_url, RECORDED_BASE_URL),
        ),
        name=name,
    )


# The recording tenant: fixed so that fixtures made again differ only in random tokens and ids.
RECORDING_TIME = 1717405200.0  # 2024-06-03T09:00:00Z
RECORDING_APP = "acme-prod-aws-admin"
RECORDING_ROLES = (
    (
        "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO",
        "arn:aws:iam::012345678987:saml-provider/JumpCloud",
    ),
    (
        "arn:aws:iam::012345678987:role/AcmeJumpCloudAdmin",
        "arn:aws:iam::012345678987:saml-provider/JumpCloud",
    ),
)
RECORDING_PASSWORD = "correct horse battery staple"
RECORDING_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def record_fixtures(directory: Path | None = None) -> list[Path]:
    """Run every protocol step against a fresh :class:`FakeJumpCloud` (fixed clock, fixed users)
    and write one fixture per step/outcome plus ``idp_cert.pem`` (the certificate that signed the
    SAML Response in ``saml_page.json``) into ``directory`` (default: the repository's
    ``fixtures/jumpcloud``). Every console call is made with one xsrf token, the one in
    ``xsrf.json``, so any sequence of fixtures replays consistently. Returns the files written.
    """
    import requests

    from jcsaml.testing.idp import IdpKeyPair
    from jcsaml.testing.jumpcloud import FakeApp, FakeFactor, FakeJumpCloud, FakeUser

    target = directory if directory is not None else DEFAULT_FIXTURES_DIR
    target.mkdir(parents=True, exist_ok=True)
    now = [RECORDING_TIME]
    alice, bob = "alice@acme.example", "bob@acme.example"
    carol, dave = "carol@acme.example", "dave@acme.example"
    users = [
        FakeUser(
            alice,
            RECORDING_PASSWORD,
            totp_secret=RECORDING_TOTP_SECRET,
            factors=[FakeFactor("duo", "unavailable"), FakeFactor("totp")],
            apps=[RECORDING_APP, "acme-restricted-aws"],
        ),
        FakeUser(bob, RECORDING_PASSWORD, apps=[RECORDING_APP]),
        FakeUser(carol, RECORDING_PASSWORD, factors=["push"], apps=[RECORDING_APP]),
        FakeUser(
            dave,
            RECORDING_PASSWORD,
            totp_secret=RECORDING_TOTP_SECRET,
            factors=[
                FakeFactor("totp"),
                FakeFactor("push"),
                FakeFactor("webauthn", "unavailable"),
                FakeFactor("duo", "unavailable"),
            ],
            apps=[RECORDING_APP],
        ),
    ]
    apps = [
        FakeApp(RECORDING_APP, roles=RECORDING_ROLES, display_label="AWS production"),
        FakeApp("acme-billing-aws", roles=RECORDING_ROLES[:1]),
        FakeApp("acme-restricted-aws", roles=RECORDING_ROLES[:1], conditional_access_denied=True),
    ]
    keys = IdpKeyPair.generate()
    written: list[Path] = []
    cert = target / "idp_cert.pem"
    cert.write_bytes(keys.cert_pem)
    written.append(cert)

    def auth_body(email: str, password: str = RECORDING_PASSWORD, otp: str = "") -> dict[str, str]:
        return {
            "context": "sso",
            "redirectTo": f"saml2/{RECORDING_APP}",
            "email": email,
            "password": password,
            "otp": otp,
        }

    with FakeJumpCloud(users=users, apps=apps, keys=keys, clock=lambda: now[0]) as fake:
        session = requests.Session()
        base = fake.url
        api = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}

        def step(name: str, method: str, path: str, body: Any = None, **extra: Any) -> Exchange:
            exchange = record_exchange(
                session, base, method, path, name=name, json_body=body, **extra
            )
            written.append(save_exchange(exchange, target))
            return exchange

        xsrf = step("xsrf", "GET", "/userconsole/xsrf", headers=api).response.json()["xsrf"]
        console = {**api, "X-Xsrftoken": xsrf}

        def auth(name: str, body: dict[str, str]) -> Exchange:
            return step(name, "POST", "/userconsole/auth", body, headers=console)

        step("xsrf_rejected", "POST", "/userconsole/auth", auth_body(alice), headers=api)
        auth("auth_failed", auth_body(alice, password="not the password"))
        auth("auth_mfa_required", auth_body(alice))
        auth("auth_totp_rejected", auth_body(alice, otp="000000"))
        auth("auth_totp_success", auth_body(alice, otp=fake.totp_code(alice)))
        step("saml_page", "GET", f"/saml2/{RECORDING_APP}")
        step("api_self", "GET", "/userconsole/api/self", headers=console)
        step("applications", "GET", "/userconsole/api/applications", headers=console)
        step("saml_page_no_response", "GET", "/saml2/acme-billing-aws")
        step("saml_page_access_denied", "GET", "/saml2/acme-restricted-aws")
        now[0] += fake.session_lifetime + 1
        step("api_self_expired", "GET", "/userconsole/api/self", headers=console)
        step("saml_login_redirect", "GET", f"/saml2/{RECORDING_APP}")
        step("login_page", "GET", f"/login?context=sso&redirectTo=saml2%2F{RECORDING_APP}")

        auth("auth_success", auth_body(bob))
        # The 2023 flow: the code is posted alone after "MFA required.".
        session.post(f"{base}/userconsole/auth", json=auth_body(alice), headers=console)
        step(
            "auth_totp_2023_success",
            "POST",
            "/userconsole/auth/totp",
            {"otp": fake.totp_code(alice)},
            headers=console,
        )
        auth("auth_mfa_required_multi", auth_body(dave))
        auth("auth_mfa_required_push", auth_body(carol))

        push = step("push_start", "POST", "/userconsole/auth/push", {}, headers=console)
        push_path = f"/userconsole/auth/push/{push.response.json()['id']}"
        step("push_pending", "GET", push_path, headers=console)
        fake.push_respond(carol, "accepted")
        step("push_accepted", "GET", push_path, headers=console)
        step("push_login", "POST", f"{push_path}/login", {}, headers=console)

        def new_push() -> str:
            session.post(f"{base}/userconsole/auth", json=auth_body(carol), headers=console)
            started = session.post(f"{base}/userconsole/auth/push", json={}, headers=console)
            return f"/userconsole/auth/push/{started.json()['id']}"

        denied_path = new_push()
        step("push_login_rejected", "POST", f"{denied_path}/login", {}, headers=console)
        fake.push_respond(carol, "denied")
        step("push_denied", "GET", denied_path, headers=console)
        expired_path = new_push()
        now[0] += fake.push_lifetime + 1
        step("push_expired", "GET", expired_path, headers=console)

        fake.inject_fault("/userconsole/xsrf", "html")
        step("html_instead_of_json", "GET", "/userconsole/xsrf", headers=api)
        fake.inject_fault("/userconsole/auth", "500")
        auth("server_error", auth_body(alice))
        fake.inject_fault("/userconsole/xsrf", "502")
        step("bad_gateway", "GET", "/userconsole/xsrf", headers=api)
        fake.inject_fault("/userconsole/xsrf", "503")
        step("service_unavailable", "GET", "/userconsole/xsrf", headers=api)
        fake.inject_fault("/userconsole/xsrf", "429", retry_after=2)
        step("rate_limited", "GET", "/userconsole/xsrf", headers=api)
        session.close()
        if fake.errors:
            raise RuntimeError(f"the fake failed while recording: {fake.errors}")
    return written


# --- replaying --------------------------------------------------------------------------------


class _ReplayHandler(LoopbackHandler["ReplayServer"]):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def _serve(self) -> None:
        body = self.read_body()
        response = self.owner._answer(self.command, self.path, dict(self.headers.items()), body)
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        self.send_answer(response.status, headers, response.body.encode("utf-8"))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class ReplayServer(LoopbackServer):
    """A real HTTP server on ``127.0.0.1`` (free port) answering with queued exchanges, in order.

    Each request is checked against the next exchange's :class:`ExpectedRequest`; on a match it
    gets the recorded answer (with :data:`RECORDED_BASE_URL` replaced by :attr:`url`), otherwise
    HTTP 599, and the mismatch is kept (the exchange stays queued). :meth:`assert_done` raises
    AssertionError if any request mismatched or exchanges are left over.
    """

    handler = _ReplayHandler

    def __init__(self, exchanges: Iterable[Exchange] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._queue: list[Exchange] = list(exchanges)
        self._served: list[Exchange] = []
        self._mismatches: list[str] = []
        self._received: list[tuple[str, str]] = []

    def add(self, *exchanges: Exchange) -> None:
        """Queue more expected exchanges."""
        with self._lock:
            self._queue.extend(exchanges)

    @property
    def received(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received, matched or not, in order."""
        with self._lock:
            return list(self._received)

    @property
    def served(self) -> list[Exchange]:
        with self._lock:
            return list(self._served)

    @property
    def pending(self) -> list[Exchange]:
        """Exchanges still expected."""
        with self._lock:
            return list(self._queue)

    @property
    def mismatches(self) -> list[str]:
        with self._lock:
            return list(self._mismatches)

    def assert_done(self) -> None:
        """Raise AssertionError when a request mismatched or expected exchanges were not made."""
        with self._lock:
            problems = [f"mismatch: {m}" for m in self._mismatches]
            problems += [
                f"not requested: {e.name or 'exchange'} ({e.request.method} {e.request.path})"
                for e in self._queue
            ]
        if problems:
            raise AssertionError("replay not done:\n  " + "\n  ".join(problems))

    def _answer(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> RecordedResponse:
        with self._lock:
            self._received.append((method, target))
            if not self._queue:
                reason = f"unexpected {method} {target}: no exchange left"
            else:
                reason = self._queue[0].request.mismatch(method, target, headers, body)
            if reason:
                self._mismatches.append(reason)
                return RecordedResponse(
                    MISMATCH_STATUS,
                    {"Content-Type": "application/json"},
                    json.dumps({"message": f"replay mismatch: {reason}"}),
                )
            exchange = self._queue.pop(0)
            self._served.append(exchange)
        return exchange.with_base_url(self.url).response


# --- recordings (--record FILE) ---------------------------------------------------------------

_SAML_FIELD = re.compile(r'(name="SAMLResponse" value=")([^"]*)(")')
_SAML_TIMES = ("IssueInstant", "NotBefore", "NotOnOrAfter", "AuthnInstant", "SessionNotOnOrAfter")


@dataclass(frozen=True)
class Recording:
    """A file written by ``--record FILE`` (see :mod:`jcsaml.recording`): the exchanges with
    JumpCloud in order, and the STS calls' parameters and outcomes."""

    exchanges: list[Exchange]
    sts: list[dict[str, Any]]
    command: str = ""

    @property
    def roles(self) -> list[tuple[str, str]]:
        """``(role_arn, principal_arn)`` pairs of the skeleton assertions, in order, without
        repeats: what a local STS must know for the recording to replay."""
        from jcsaml.recording import _ROLE_ATTRIBUTE

        found: list[tuple[str, str]] = []
        for exchange in self.exchanges:
            for match in _SAML_FIELD.finditer(exchange.response.body):
                root = _parse_saml(match.group(2))
                for value in root.iter("{*}AttributeValue"):
                    parent = value.getparent()
                    if parent is None or parent.get("Name") != _ROLE_ATTRIBUTE:
                        continue
                    first, _, second = (value.text or "").partition(",")
                    pair = (first, second) if ":role/" in first else (second, first)
                    if pair not in found:
                        found.append(pair)
        return found

    def resigned(self, keys: Any, *, now: datetime | None = None) -> list[Exchange]:
        """The exchanges with each skeleton SAMLResponse made whole again: its times moved to
        ``now`` (default: the current time) and signed with ``keys`` (an
        :class:`jcsaml.testing.idp.IdpKeyPair`) where the recorded one was signed."""
        moment = now or datetime.now(UTC)
        resigned = []
        for exchange in self.exchanges:
            body = _SAML_FIELD.sub(
                lambda m: m.group(1) + _resign(m.group(2), keys, moment) + m.group(3),
                exchange.response.body,
            )
            resigned.append(replace(exchange, response=replace(exchange.response, body=body)))
        return resigned

    def server(self, keys: Any, *, now: datetime | None = None) -> ReplayServer:
        """A :class:`ReplayServer` (not started) queued with :meth:`resigned` exchanges."""
        return ReplayServer(self.resigned(keys, now=now))


def load_recording(path: str | Path) -> Recording:
    """Read a ``--record`` file. Raises ValueError when it is not one."""
    document = json.loads(Path(path).read_text("utf-8"))
    if not isinstance(document, dict) or document.get("format") != "jcsaml-recording":
        raise ValueError(f"{path} is not a jcsaml recording")
    exchanges = [
        Exchange.from_dict(item, name=f"{index:02d}")
        for index, item in enumerate(document.get("exchanges", []), start=1)
    ]
    return Recording(
        exchanges=exchanges, sts=list(document.get("sts", [])), command=document.get("command", "")
    )


def _parse_saml(encoded: str) -> Any:
    from lxml import etree

    return etree.fromstring(
        base64.b64decode(html.unescape(encoded)),
        parser=etree.XMLParser(resolve_entities=False, no_network=True),
    )


def _resign(encoded: str, keys: Any, now: datetime) -> str:
    from jcsaml.testing.idp import DS_NS, sign_saml_response

    root = _parse_saml(encoded)
    issued = root.get("IssueInstant")
    shift = now - _instant(issued) if issued else timedelta(0)
    signed = set()
    for signature in list(root.iter(f"{{{DS_NS}}}Signature")):
        parent = signature.getparent()
        signed.add("response" if parent is root else "assertion")
        parent.remove(signature)
    for element in root.iter():
        for name in _SAML_TIMES:
            value = element.get(name)
            if value:
                element.set(name, (_instant(value) + shift).strftime("%Y-%m-%dT%H:%M:%SZ"))
    from lxml import etree

    xml = etree.tostring(root, encoding="utf-8")
    if signed:
        which = "both" if len(signed) == 2 else signed.pop()
        xml = sign_saml_response(xml, keys, sign=which)  # type: ignore[arg-type]
    return base64.b64encode(xml).decode("ascii")


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
