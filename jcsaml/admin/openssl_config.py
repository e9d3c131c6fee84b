"""The part of an openssl ``req`` config file that describes a self-signed IdP certificate.

Administrators keep a file like the one their runbook gave ``openssl req -new -x509 -config``::

    [req]
    default_bits = 2048
    default_md = sha256
    default_days = 1095
    encrypt_key = no
    prompt = no
    distinguished_name = req_distinguished_name

    [req_distinguished_name]
    countryName = US
    commonName = JumpCloud

:func:`read_openssl_config` reads the ``[req]`` section and the distinguished-name section it
names, in both of openssl's styles: ``prompt = no`` (each field holds its value) and the
prompting style (``countryName = Country Name`` is the question, ``countryName_default`` the
answer openssl takes on Enter). Anything else is refused with the line it is on, so a setting
that would be silently ignored never is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jcsaml.errors import OpensslConfigError, OpensslConfigFileError

#: Distinguished-name fields, by every name openssl accepts for them, in the order of a subject.
DN_FIELDS = {
    "countryName": "countryName",
    "C": "countryName",
    "stateOrProvinceName": "stateOrProvinceName",
    "ST": "stateOrProvinceName",
    "localityName": "localityName",
    "L": "localityName",
    "organizationName": "organizationName",
    "O": "organizationName",
    "organizationalUnitName": "organizationalUnitName",
    "OU": "organizationalUnitName",
    "commonName": "commonName",
    "CN": "commonName",
    "emailAddress": "emailAddress",
}
# Upper bounds from RFC 5280's ub-* values (countryName is exactly two letters).
_MAX_LENGTH = {
    "countryName": 2,
    "stateOrProvinceName": 128,
    "localityName": 128,
    "organizationName": 64,
    "organizationalUnitName": 64,
    "commonName": 64,
    "emailAddress": 255,
}
DIGESTS = ("sha256", "sha384", "sha512")
KEY_SIZES = (2048, 3072, 4096)
DEFAULT_BITS = 2048
# openssl req -x509 defaults to 30 days; the runbook's certificate lives three years.
DEFAULT_DAYS = 1095
MAX_DAYS = 36500

# [req] keys that change nothing in a certificate jcsaml writes: accepted, not used.
_IGNORED_REQ_KEYS = ("default_keyfile", "string_mask", "utf8")
_REQ_KEYS = (
    "default_bits",
    "default_md",
    "default_days",
    "encrypt_key",
    "prompt",
    "distinguished_name",
    *_IGNORED_REQ_KEYS,
)
# Keys old openssl configs set before the first section; they concern openssl's random seed.
_GLOBAL_KEYS = ("HOME", "RANDFILE", "oid_section", "openssl_conf")
_SECTION = re.compile(r"^\[\s*([^\]\s]+)\s*\]$")
_KEY_VALUE = re.compile(r"^([A-Za-z0-9_.]+)\s*=\s*(.*)$")
_ORDER_PREFIX = re.compile(r"^\d+\.")
_FALSE = ("no", "false", "0", "off")
_TRUE = ("yes", "true", "1", "on")


@dataclass(frozen=True)
class CertificateRequest:
    """What the config asks for. ``subject`` is ``(field, value)`` pairs in the file's order,
    fields by their long openssl names (``countryName`` ...)."""

    subject: tuple[tuple[str, str], ...]
    days: int = DEFAULT_DAYS
    bits: int = DEFAULT_BITS
    digest: str = "sha256"

    def subject_text(self) -> str:
        """``C=US, ST=..., CN=...`` for messages."""
        short = {v: k for k, v in DN_FIELDS.items() if len(k) <= 2}
        return ", ".join(f"{short.get(name, name)}={value}" for name, value in self.subject)


@dataclass(frozen=True)
class _Line:
    number: int
    text: str
    key: str
    value: str


_Fail = Callable[[_Line, str], OpensslConfigError]


def read_openssl_config(path: Path) -> CertificateRequest:
    """Read ``path``; raises OpensslConfigFileError (unreadable) or OpensslConfigError (a line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, UnicodeDecodeError):
            reason = "not UTF-8 text"
        raise OpensslConfigFileError(path=str(path), reason=reason) from None
    return parse_openssl_config(text, path=str(path))


def parse_openssl_config(text: str, *, path: str = "<config>") -> CertificateRequest:
    """Parse the config ``text`` (``path`` is only for messages)."""
    sections: dict[str, list[_Line]] = {}
    headers: dict[str, _Line] = {}
    current: str | None = None

    def fail(line: _Line, reason: str) -> OpensslConfigError:
        return OpensslConfigError(path=path, line=line.number, text=line.text, reason=reason)

    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        stripped = _strip_comment(raw).strip()
        if not stripped:
            continue
        shown = raw.strip()
        if "password" in stripped.lower():
            shown = stripped.split("=", 1)[0].strip() + " = <hidden>"  # never show a password
        line = _Line(number, shown, "", "")
        header = _SECTION.match(stripped)
        if header:
            current = header.group(1)
            if current in sections:
                raise fail(line, f"section [{current}] appears a second time")
            sections[current] = []
            headers[current] = line
            continue
        if stripped.startswith("."):
            raise fail(line, "directives such as .include are not supported")
        pair = _KEY_VALUE.match(stripped)
        if pair is None:
            raise fail(line, "expected 'key = value' or a [section] header")
        value = _unquote(pair.group(2).strip())
        if "$" in value:
            raise fail(line, "variables ($name) are not supported; write the value itself")
        entry = _Line(number, shown, pair.group(1), value)
        if current is None:
            if entry.key not in _GLOBAL_KEYS:
                raise fail(entry, f"unknown setting {entry.key!r} before the first section")
            continue
        if any(e.key == entry.key for e in sections[current]):
            raise fail(entry, f"{entry.key!r} appears a second time in [{current}]")
        sections[current].append(entry)

    if "req" not in sections:
        raise OpensslConfigFileError(path=path, reason="it has no [req] section")
    req = {entry.key: entry for entry in sections["req"]}
    for entry in sections["req"]:
        if entry.key not in _REQ_KEYS:
            raise fail(entry, _unknown_req_key(entry.key))

    dn_name = req["distinguished_name"].value if "distinguished_name" in req else None
    if dn_name is None:
        raise OpensslConfigFileError(
            path=path, reason="[req] has no distinguished_name = SECTION line"
        )
    if dn_name not in sections:
        raise fail(req["distinguished_name"], f"there is no [{dn_name}] section")
    for name, header_line in headers.items():
        if name not in ("req", dn_name):
            raise fail(
                header_line, f"unknown section [{name}]: only [req] and [{dn_name}] are read"
            )

    prompt = True
    if "prompt" in req:
        prompt = _flag(req["prompt"], fail)
    if "encrypt_key" in req and _flag(req["encrypt_key"], fail):
        raise fail(
            req["encrypt_key"],
            "JumpCloud takes the IdP private key unencrypted; set encrypt_key = no",
        )
    digest = "sha256"
    if "default_md" in req:
        digest = req["default_md"].value.lower()
        if digest not in DIGESTS:
            raise fail(req["default_md"], f"the digest must be one of {', '.join(DIGESTS)}")
    days = DEFAULT_DAYS
    if "default_days" in req:
        days = _number(req["default_days"], 1, MAX_DAYS, fail)
    bits = DEFAULT_BITS
    if "default_bits" in req:
        bits = _number(req["default_bits"], min(KEY_SIZES), max(KEY_SIZES), fail)
        if bits not in KEY_SIZES:
            raise fail(req["default_bits"], f"the key size must be one of {_sizes()}")

    subject = _subject(sections[dn_name], prompt=prompt, fail=fail)
    if not subject:
        raise OpensslConfigFileError(
            path=path, reason=f"[{dn_name}] gives no subject field (commonName = ... at least)"
        )
    return CertificateRequest(subject=tuple(subject), days=days, bits=bits, digest=digest)


def _subject(entries: list[_Line], *, prompt: bool, fail: _Fail) -> list[tuple[str, str]]:
    values: list[tuple[str, str, _Line]] = []
    limits: dict[str, dict[str, int]] = {}
    for entry in entries:
        key = _ORDER_PREFIX.sub("", entry.key)
        field, _, suffix = key.partition("_")
        if field not in DN_FIELDS or suffix not in ("", "default", "min", "max"):
            raise fail(entry, f"unknown distinguished-name field {entry.key!r}")
        if suffix and not prompt:
            raise fail(entry, f"{entry.key!r} is for prompting, but [req] says prompt = no")
        name = DN_FIELDS[field]
        if suffix in ("min", "max"):
            limits.setdefault(name, {})[suffix] = _number(entry, 0, 1024, fail)
        elif (suffix == "default" or not prompt) and entry.value:
            values.append((name, entry.value, entry))
        # With prompting on, a bare field's value is the question openssl asks: not data.
    subject = []
    for name, value, entry in values:
        bounds = limits.get(name, {})
        low, high = bounds.get("min", 1), min(bounds.get("max", 1024), _MAX_LENGTH[name])
        if name == "countryName" and not re.fullmatch(r"[A-Za-z]{2}", value):
            raise fail(entry, "countryName must be a two-letter country code, such as US")
        if not low <= len(value) <= high:
            raise fail(entry, f"{name} must be {low} to {high} characters long")
        subject.append((name, value))
    return subject


def _unknown_req_key(key: str) -> str:
    if key in ("x509_extensions", "req_extensions"):
        return (
            f"{key} is not supported: jcsaml writes the extensions openssl req -x509 writes by "
            "default (basicConstraints, subject and authority key identifiers); remove the line"
        )
    if key in ("input_password", "output_password"):
        return "passwords are not supported: JumpCloud takes the private key unencrypted"
    return f"unknown [req] setting {key!r}"


def _strip_comment(line: str) -> str:
    # openssl comments start at '#' anywhere on the line; a '\#' is a literal '#'.
    out = []
    escaped = False
    for char in line:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
            out.append(char)
        elif char == "#":
            break
        else:
            out.append(char)
    return "".join(out).replace("\\#", "#")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _flag(line: _Line, fail: _Fail) -> bool:
    lowered = line.value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise fail(line, "expected yes or no")


def _number(line: _Line, low: int, high: int, fail: _Fail) -> int:
    if not re.fullmatch(r"\d{1,6}", line.value) or not low <= int(line.value) <= high:
        raise fail(line, f"expected a whole number from {low} to {high}")
    return int(line.value)


def _sizes() -> str:
    return ", ".join(str(size) for size in KEY_SIZES)
