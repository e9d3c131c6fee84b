"""``--record FILE``: a redacted, replayable recording of a sign-in, for bug reports.

While :func:`recording` is active, every HTTP exchange with JumpCloud (made through
:func:`jcsaml.bounded_http.fetch`, the one place jcsaml talks to JumpCloud) and the parameters
and outcome of each STS call are written to the file, after every exchange, so the file is
complete whatever way the command ends (``exec`` replaces the process).

The format is the one :mod:`jcsaml.testing.replay` replays (see docs/protocol.md)::

    {"format": "jcsaml-recording", "version": 1, "jcsaml": "0.1.0", "command": "login",
     "hosts": {...}, "exchanges": [{"request": {...}, "response": {...}}, ...],
     "sts": [{"action": "AssumeRoleWithSAML", "params": {...}, "outcome": "200"}]}

Redaction is an allow-list (:class:`Redactor`): JSON keys are kept, and a value is kept only when
its key is known to carry nothing secret or identifying (factor types, statuses, messages,
timestamps); URLs, messages and page titles are kept after the company's hosts, app slugs,
e-mail addresses and AWS account ids are mapped to stable stand-ins. Every other value becomes a
placeholder. HTML pages are rebuilt from their title, headings, paragraphs and forms; the
SAMLResponse becomes a skeleton without signature or digest values.

This module is imported by bounded_http and sts on every request: it stays light (bs4 and lxml
are imported only when a page or assertion is redacted).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from jcsaml.partitions import SIGNIN_HOSTS

FORMAT = "jcsaml-recording"
VERSION = 1
#: Every JumpCloud host (console and application) becomes this origin in a recording; it is the
#: base URL :class:`jcsaml.testing.replay.ReplayServer` replaces with its own address.
RECORDED_BASE_URL = "https://jumpcloud.invalid"
RECORDED_HOST = "jumpcloud.invalid"
FAKE_EMAIL = "user@example.invalid"
REDACTED = "<redacted>"
#: What the command says a recording does not contain.
NOT_CONTAINED = (
    "passwords, MFA codes, push ids, security-key answers, cookies, xsrf tokens, "
    "Authorization headers, SAML signatures, e-mail addresses, account ids or your hosts"
)

# JSON keys whose string values are kept (after mapping): the protocol's vocabulary.
_KEPT_KEYS = frozenset(
    {
        "type",
        "status",
        "context",
        "message",
        "error",
        "error_description",
        "expiresAt",
        "initiatedAt",
        "userVerification",
        "rpId",
        "attestation",
        "transports",
        "alg",
        "authenticatorAttachment",
    }
)
# Keys whose values are URLs: kept once mapped, if they then point only at mapped or public hosts.
_URL_KEYS = frozenset({"redirectTo", "ssoUrl", "url", "location", "redirect", "redirectUrl"})
# Keys whose values are random handles a client sends back: a consistent placeholder each.
_HANDLE_KEYS = {"xsrf": "xsrf", "id": "id", "token": "token", "_id": "object", "userId": "object"}
# Keys holding base64url bytes a WebAuthn client decodes: a valid base64url placeholder.
_BYTES_KEYS = frozenset({"challenge", "rawId"})
_NAME_KEYS = frozenset({"name", "displayLabel", "displayName"})
# Numbers kept verbatim under these keys; other numbers become 0.
_KEPT_NUMBER_KEYS = frozenset({"timeout", "status", "code", "alg", "expiresIn", "sessionTimeout"})
# Hosts that are public and say nothing about the company.
_PUBLIC_HOSTS = (*SIGNIN_HOSTS.values(), RECORDED_HOST)
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_SLUG = re.compile(r"(saml2(?:/|%2F|%2f))([A-Za-z0-9._~-]+)")
_KEPT_QUERY = frozenset({"context", "redirectTo"})
_SAML_TIME_ATTRIBUTES = frozenset(
    {"IssueInstant", "NotBefore", "NotOnOrAfter", "AuthnInstant", "SessionNotOnOrAfter"}
)
_SAML_KEPT_ATTRIBUTES = frozenset(
    {"Version", "Format", "Method", "Algorithm", "Name", "NameFormat", "Value", "FriendlyName"}
)
_SAML_ID_ATTRIBUTES = frozenset({"ID", "InResponseTo", "SessionIndex"})
_SAML_URL_ATTRIBUTES = frozenset({"Destination", "Recipient", "URI"})
_ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
_SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
_DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class Redactor:
    """Maps what identifies the company or the person to stand-ins, consistently within one
    recording, and keeps only values known to be safe."""

    def __init__(self, *, hosts: Sequence[str] = ()) -> None:
        self._substitutions: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._placeholders: dict[tuple[str, str], str] = {}
        self._accounts: dict[str, str] = {}
        for url in hosts:
            self.add_host(url)

    # -- mappings ------------------------------------------------------------------------------

    def add_host(self, url: str) -> None:
        """Every reference to ``url``'s origin (and its bare host name) becomes the recorded
        base URL, so the flow replays against one local server."""
        origin = _origin(url)
        if not origin or origin == RECORDED_BASE_URL:
            return
        self._substitutions[origin] = RECORDED_BASE_URL
        host = urlsplit(url).hostname or ""
        if host and host not in _PUBLIC_HOSTS:
            self._substitutions[host] = RECORDED_HOST

    def placeholder(self, kind: str, value: str) -> str:
        """The stand-in for ``value`` (``kind-N``), the same each time; ``value`` is replaced by
        it wherever it appears later (paths, bodies, headers)."""
        if not value:
            return value
        key = (kind, value)
        found = self._placeholders.get(key)
        if found is None:
            count = self._counters.get(kind, 0) + 1
            self._counters[kind] = count
            found = f"{kind}-{count}"
            self._placeholders[key] = found
            if len(value) >= 4:  # short values would hit unrelated text
                self._substitutions[value] = found
        return found

    def secret(self, kind: str, value: str) -> str:
        """A secret (password, code, cookie): ``<kind>`` here and wherever it appears again."""
        if value and len(value) >= 4:
            self._substitutions[value] = f"<{kind}>"
        return f"<{kind}>"

    def account_id(self, match: re.Match[str]) -> str:
        original = match.group(0)
        if original in self._accounts.values():  # already a stand-in
            return original
        found = self._accounts.get(original)
        if found is None:
            found = f"{100000000000 + len(self._accounts) + 1:012d}"
            self._accounts[original] = found
        return found

    def text(self, value: str) -> str:
        """``value`` with every known secret, host, app slug, e-mail address and account id
        replaced."""
        for original in sorted(self._substitutions, key=len, reverse=True):
            if original in value:
                value = value.replace(original, self._substitutions[original])
        value = _SLUG.sub(
            lambda m: (
                m.group(1) + self.placeholder("app", m.group(2))
                if not m.group(2).startswith("app-")
                else m.group(0)
            ),
            value,
        )
        value = _EMAIL.sub(FAKE_EMAIL, value)
        return _ACCOUNT_ID.sub(self.account_id, value)

    def url(self, value: str) -> str:
        """A URL kept only if, once mapped, it points at a mapped or public host; its query
        keeps only the protocol's own parameters."""
        mapped = self.text(value)
        parts = urlsplit(mapped)
        if parts.netloc and (parts.hostname or "") not in _PUBLIC_HOSTS:
            return REDACTED
        if parts.query:
            query = urlencode(
                [
                    (k, v if k in _KEPT_QUERY else REDACTED)
                    for k, v in parse_qsl(parts.query, keep_blank_values=True)
                ]
            )
            mapped = parts._replace(query=query, fragment="").geturl()
        return mapped

    def path(self, url: str) -> str:
        """The path and query of a request URL, as the replay server matches them."""
        parts = urlsplit(url)
        path = self.text(parts.path)
        if not parts.query:
            return path
        query = "&".join(
            f"{quote(k, safe='')}={quote(self.text(v) if k in _KEPT_QUERY else REDACTED, safe='')}"
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        )
        return f"{path}?{query}"

    # -- JSON ----------------------------------------------------------------------------------

    def json(self, value: Any, key: str = "") -> Any:
        if isinstance(value, Mapping):
            return {str(k): self.json(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item, key) for item in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float):
            return value if key in _KEPT_NUMBER_KEYS else 0
        text = str(value)
        if key == "password":
            return self.secret("password", text)
        if key == "otp":
            return self.secret("code", text) if text else ""
        if key in ("email", "username"):
            if text and len(text) >= 4:
                self._substitutions[text] = FAKE_EMAIL
            return FAKE_EMAIL if text else ""
        if key in _HANDLE_KEYS:
            return self.placeholder(_HANDLE_KEYS[key], text)
        if key in _BYTES_KEYS:
            return _b64url(self.placeholder(key, text).encode())
        if key in _URL_KEYS:
            return self.url(text)
        if key in _NAME_KEYS:
            return self.placeholder("name", text)
        if key in _KEPT_KEYS:
            return self.text(text)
        return REDACTED

    # -- headers -------------------------------------------------------------------------------

    def set_cookie(self, header: str) -> str:
        """``name=<cookie>; Path=/; Secure ...``: the value replaced, the attributes kept."""
        first, _, attributes = header.partition(";")
        name, _, value = first.partition("=")
        placeholder = self.secret("cookie", value.strip())
        kept = []
        for attribute in attributes.split(";"):
            attribute = attribute.strip()
            attr_name = attribute.partition("=")[0].strip().lower()
            if attr_name in ("path", "secure", "httponly", "samesite", "max-age", "expires"):
                kept.append(attribute)
            elif attr_name == "domain":
                kept.append("Domain=" + RECORDED_HOST)
        return "; ".join([f"{name.strip()}={placeholder}", *kept])

    # -- bodies --------------------------------------------------------------------------------

    def body(self, body: bytes, content_type: str) -> str:
        if not body:
            return ""
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = _NOT_JSON
        if parsed is not _NOT_JSON:
            return json.dumps(self.json(parsed), separators=(",", ":"))
        if "html" in content_type.lower() or text.lstrip()[:1] == "<":
            return self.html(text)
        # Plain text: JumpCloud's error messages; kept short, after the same mapping.
        line = " ".join(self.text(text).split())
        return line[:200]

    def html(self, page: str) -> str:
        """The page rebuilt from its title, headings, paragraphs and forms, all mapped; the
        SAMLResponse field holds :meth:`saml_skeleton`."""
        from html import escape

        from bs4 import BeautifulSoup

        soup = BeautifulSoup(page, "html.parser")
        parts = []
        if soup.title is not None and soup.title.string:
            parts.append(f"<title>{escape(self.text(soup.title.get_text().strip()))}</title>")
        body = []
        for element in soup.find_all(["h1", "h2", "h3", "p"]):
            words = " ".join(element.get_text(" ").split())
            if words:
                body.append(f"<{element.name}>{escape(self.text(words))}</{element.name}>")
        for form in soup.find_all("form"):
            fields = []
            for field in form.find_all("input"):
                name = str(field.get("name") or "")
                value = str(field.get("value") or "")
                if name == "SAMLResponse" and value:
                    value = self.saml_skeleton(value)
                elif name == "RelayState":
                    value = self.url(value) if value else ""
                elif value:
                    value = REDACTED
                fields.append(
                    f'<input type="hidden" name="{escape(name)}" value="{escape(value)}"/>'
                )
            method = escape(str(form.get("method") or "GET"))
            action = escape(self.url(str(form.get("action") or "")))
            body.append(f'<form method="{method}" action="{action}">{"".join(fields)}</form>')
        if soup.find(id="root") is not None:
            body.append('<div id="root"></div>')  # a scripted page: its code is not kept
        return (
            f"<!DOCTYPE html><html><head>{''.join(parts)}</head><body>{''.join(body)}</body></html>"
        )

    def saml_skeleton(self, encoded: str) -> str:
        """The SAMLResponse's structure: element and attribute names, timestamps, roles with
        mapped account ids; no signature, digest or certificate, no e-mail address."""
        from lxml import etree

        try:
            root = etree.fromstring(
                base64.b64decode(encoded),
                parser=etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False),
            )
        except (ValueError, etree.XMLSyntaxError):
            return REDACTED
        for other in [e for e in root.iter() if not isinstance(e.tag, str)]:
            parent = other.getparent()
            if parent is not None:  # comments and processing instructions go
                parent.remove(other)
        for element in root.iter():
            self._saml_element(element)
        return base64.b64encode(etree.tostring(root)).decode("ascii")

    def _saml_element(self, element: Any) -> None:
        local = element.tag.rsplit("}", 1)[-1]
        for name in list(element.attrib):
            value = element.attrib[name]
            bare = name.rsplit("}", 1)[-1]
            if bare in _SAML_ID_ATTRIBUTES:
                element.attrib[name] = "_" + self.placeholder("id", value)
            elif (
                bare in _SAML_TIME_ATTRIBUTES or name == _XSI_TYPE or bare in _SAML_KEPT_ATTRIBUTES
            ):
                continue
            elif bare in _SAML_URL_ATTRIBUTES:
                if value.startswith("#"):
                    element.attrib[name] = "#_" + self.placeholder("id", value[1:])
                else:
                    element.attrib[name] = self.url(value)
            else:
                element.attrib[name] = REDACTED
        if local in ("SignatureValue", "DigestValue", "X509Certificate", "Modulus", "Exponent"):
            element.text = ""
        elif local == "NameID":
            element.text = FAKE_EMAIL if "@" in (element.text or "") else "user"
        elif local in ("Issuer", "Audience"):
            text = (element.text or "").strip()
            known = text in ("JumpCloud", "urn:amazon:webservices") or text.startswith(
                "https://signin.aws.amazon.com"
            )
            element.text = text if known else self.placeholder("entity", text)
        elif local == "AttributeValue":
            attribute = (
                element.getparent().get("Name", "") if element.getparent() is not None else ""
            )
            text = (element.text or "").strip()
            if attribute in (_ROLE_ATTRIBUTE, _DURATION_ATTRIBUTE):
                element.text = self.text(text)
            elif attribute == _SESSION_NAME_ATTRIBUTE:
                element.text = FAKE_EMAIL if "@" in text else "user"
            else:
                element.text = REDACTED
        elif local in ("AuthnContextClassRef", "StatusMessage"):
            element.text = self.text(element.text or "")
        elif element.text and element.text.strip():
            element.text = REDACTED


_NOT_JSON = object()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Recorder:
    """Collects redacted exchanges and writes them to ``path`` (mode 0600) after each one."""

    def __init__(self, path: Path, *, command: str, hosts: Sequence[str] = ()) -> None:
        self.path = path
        self.command = command
        self.redactor = Redactor(hosts=hosts)
        self.exchanges: list[dict[str, Any]] = []
        self.sts: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add_host(self, url: str) -> None:
        with self._lock:
            self.redactor.add_host(url)

    def http(
        self,
        method: str,
        url: str,
        *,
        request_json: Any,
        request_headers: Mapping[str, str],
        status: int,
        response_headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> None:
        with self._lock:
            self.redactor.add_host(url)
            r = self.redactor
            request: dict[str, Any] = {"method": method.upper(), "path": r.path(url)}
            if isinstance(request_json, Mapping):
                request["json"] = r.json(request_json)
            xsrf = next((v for k, v in request_headers.items() if k.lower() == "x-xsrftoken"), None)
            if xsrf:
                request["headers"] = {"X-Xsrftoken": r.placeholder("xsrf", xsrf)}
            content_type = ""
            kept: dict[str, str] = {}
            cookies: list[str] = []
            for name, value in response_headers:
                lowered = name.lower()
                if lowered == "content-type":
                    content_type = value
                    kept["Content-Type"] = value
                elif lowered == "set-cookie":
                    cookies.append(r.set_cookie(value))
                elif lowered == "location":
                    kept["Location"] = r.url(value)
                elif lowered == "retry-after":
                    kept["Retry-After"] = value if value.strip().isdigit() else REDACTED
            if cookies:
                kept["Set-Cookie"] = ", ".join(cookies)
            response = {"status": status, "headers": kept, "body": r.body(body, content_type)}
            self.exchanges.append({"request": request, "response": response})
            self._write()

    def sts_call(self, action: str, params: Mapping[str, Any], outcome: str) -> None:
        with self._lock:
            kept: dict[str, Any] = {}
            for key, value in params.items():
                if key in ("RoleArn", "PrincipalArn"):
                    kept[key] = self.redactor.text(str(value))
                elif key == "DurationSeconds":
                    kept[key] = value
                else:
                    kept[key] = REDACTED
            self.sts.append({"action": action, "params": kept, "outcome": outcome})
            self._write()

    def document(self) -> dict[str, Any]:
        from jcsaml import __version__

        return {
            "format": FORMAT,
            "version": VERSION,
            "jcsaml": __version__,
            "command": self.command,
            "not_contained": NOT_CONTAINED,
            "exchanges": self.exchanges,
            "sts": self.sts,
        }

    def _write(self) -> None:
        """Atomically and with mode 0600, as jcsaml writes every file of its own."""
        from jcsaml.private_file import write_private_file

        text = json.dumps(self.document(), indent=2) + "\n"
        write_private_file(self.path, text.encode("utf-8"))

    def start(self) -> None:
        """Write the (empty) recording now: the file exists, 0600, however the command ends."""
        with self._lock:
            self._write()


_active: Recorder | None = None


def active() -> Recorder | None:
    """The recorder of the running command, or None (the usual case)."""
    return _active


@contextlib.contextmanager
def recording(
    path: str | os.PathLike[str], *, command: str, hosts: Sequence[str] = ()
) -> Iterator[Recorder]:
    """Record every JumpCloud exchange and STS call made inside the block to ``path``.

    ``hosts`` are URLs whose origins are mapped to the recorded base URL from the start (the
    account's ``url`` and ``console_url``). Raises OSError when the file cannot be written.
    """
    global _active
    recorder = Recorder(Path(path), command=command, hosts=hosts)
    recorder.start()
    previous, _active = _active, recorder
    try:
        yield recorder
    finally:
        _active = previous


def record_http(
    method: str,
    url: str,
    kwargs: Mapping[str, Any],
    status: int,
    response_headers: Sequence[tuple[str, str]],
    body: bytes,
) -> None:
    """The hook in :func:`jcsaml.bounded_http.fetch`: one exchange, when recording."""
    recorder = _active
    if recorder is None:
        return
    recorder.http(
        method,
        url,
        request_json=kwargs.get("json"),
        request_headers=dict(kwargs.get("headers") or {}),
        status=status,
        response_headers=response_headers,
        body=body,
    )


def record_sts(action: str, params: Mapping[str, Any], outcome: str) -> None:
    """The hook in :mod:`jcsaml.sts`: one STS call's parameters (no assertion) and outcome."""
    recorder = _active
    if recorder is not None:
        recorder.sts_call(action, params, outcome)
