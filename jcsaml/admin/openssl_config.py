"""An openssl config file, read as ``openssl req -new -x509 -config FILE`` reads it.

Administrators keep a file like the one their runbook gave ``openssl req -new -x509 -config``::

    [ ca ]
    default_ca = CA_default
    [ CA_default ]
    default_days = 1095
    [ req ]
    default_md = SHA256
    prompt = no
    encrypt_key = no
    distinguished_name = req_distinguished_name
    [req_distinguished_name]
    countryName = "US"
    commonName = "production"

:func:`parse_openssl_config` follows openssl's syntax (NCONF): ``#`` comments (not inside
quotes, ``\\#`` for a literal one), ``[ section ]`` headers with spaces, quoted values, backslash
escapes and continuation lines, ``$var``/``${var}``/``$(var)``/``${section::var}`` expansion from
the same section or the file's default part, a later key replacing an earlier one. It then reads
what ``req -x509`` reads: ``[ req ]`` (``default_bits``, ``default_md``, ``default_days``,
``encrypt_key``, ``prompt``, ``distinguished_name``, ``x509_extensions``), the distinguished-name
section in both of openssl's styles (``prompt = no``: each field holds its value; prompting:
``countryName_default`` is the answer openssl takes on Enter), and the extensions section.
Sections it does not use (``[ ca ]``, ``[ CA_default ]``, policies...) are accepted and listed as
ignored. ``.include`` and ``.pragma`` are refused with the line they are on.

The validity: ``default_days`` of ``[ req ]``; else that of the CA section ``[ ca ] default_ca``
names (``openssl req -x509`` would not read it and make a 30-day certificate: the result says
so); else three years.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
#: Without default_days anywhere: the runbook's three years (openssl req -x509 would make 30).
DEFAULT_DAYS = 1095
#: What ``openssl req -x509`` makes when ``[ req ]`` has no default_days.
OPENSSL_REQ_DAYS = 30
MAX_DAYS = 36500

# [req] keys that change nothing in the certificate jcsaml writes (they concern a CSR, the
# key file's name, or the prompts): accepted and listed as ignored.
_USED_REQ_KEYS = (
    "default_bits",
    "default_md",
    "default_days",
    "encrypt_key",
    "prompt",
    "distinguished_name",
    "x509_extensions",
)
#: The extensions jcsaml can write, as openssl's config names them.
EXTENSIONS = (
    "basicConstraints",
    "keyUsage",
    "extendedKeyUsage",
    "subjectKeyIdentifier",
    "authorityKeyIdentifier",
    "subjectAltName",
)
KEY_USAGES = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}
EXTENDED_KEY_USAGES = {
    "serverAuth": "1.3.6.1.5.5.7.3.1",
    "clientAuth": "1.3.6.1.5.5.7.3.2",
    "codeSigning": "1.3.6.1.5.5.7.3.3",
    "emailProtection": "1.3.6.1.5.5.7.3.4",
    "timeStamping": "1.3.6.1.5.5.7.3.8",
    "OCSPSigning": "1.3.6.1.5.5.7.3.9",
}
_SECTION = re.compile(r"^\[\s*([A-Za-z0-9_.!,;:-]+)\s*\]\s*$")
_KEY = re.compile(r"^([A-Za-z0-9_.!,;:-]+)\s*=\s*(.*)$", re.DOTALL)
_NAME_CHARS = re.compile(r"[A-Za-z0-9_]+")
_ORDER_PREFIX = re.compile(r"^\d+\.")
_FALSE = ("no", "false", "0", "off", "n")
_TRUE = ("yes", "true", "1", "on", "y")
_ESCAPES = {"n": "\n", "r": "\r", "b": "\b", "t": "\t"}
#: The part before the first section: openssl's "default" section, searched by $var.
DEFAULT = "default"


@dataclass(frozen=True)
class Extension:
    """One line of the extensions section: ``name = [critical,]value``."""

    name: str
    critical: bool
    values: tuple[str, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class CertificateRequest:
    """What the config asks for. ``subject`` is ``(field, value)`` pairs in the file's order,
    fields by their long openssl names (``countryName`` ...). ``extensions`` is None when the
    config names no extensions section (jcsaml then writes the usual v3 set)."""

    subject: tuple[tuple[str, str], ...]
    days: int = DEFAULT_DAYS
    bits: int = DEFAULT_BITS
    digest: str = "sha256"
    extensions: tuple[Extension, ...] | None = None
    #: Where the validity came from, for the summary: ``[ req ] default_days`` ...
    days_from: str = field(default="", compare=False)
    #: True when openssl req -x509 would have made a 30-day certificate from this file.
    openssl_would_use_30_days: bool = field(default=False, compare=False)
    #: Sections read and sections ignored, in the file's order.
    read: tuple[str, ...] = field(default=(), compare=False)
    ignored: tuple[str, ...] = field(default=(), compare=False)
    #: ``[ req ]`` keys that change nothing in the certificate.
    ignored_keys: tuple[str, ...] = field(default=(), compare=False)

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


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with openssl's continuations joined (a line ending in an unescaped backslash)."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if pending is not None:
            number, raw = pending[0], pending[1] + raw
            pending = None
        trailing = len(raw) - len(raw.rstrip("\\"))
        if trailing % 2 == 1:
            pending = (number, raw[:-1])
            continue
        out.append((number, raw))
    if pending is not None:
        out.append(pending)
    return out


def _strip_comment(line: str) -> str:
    """The line up to an unquoted, unescaped ``#``."""
    quote = ""
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
        index += 1
    return line


class _Parsed:
    """Sections as openssl keeps them: name -> ordered keys (a later key replaces an earlier
    one in place), plus the line of each section header."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, _Line]] = {DEFAULT: {}}
        self.headers: dict[str, _Line] = {}


def parse_openssl_config(text: str, *, path: str = "<config>") -> CertificateRequest:
    """Parse the config ``text`` (``path`` is only for messages)."""

    def fail(line: _Line, reason: str) -> OpensslConfigError:
        return OpensslConfigError(path=path, line=line.number, text=line.text, reason=reason)

    parsed = _Parsed()
    current = DEFAULT
    for number, raw in _logical_lines(text):
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
            parsed.sections.setdefault(current, {})  # openssl reopens a section named again
            parsed.headers.setdefault(current, line)
            continue
        if stripped.startswith("."):
            directive = stripped.split()[0].split("=")[0]
            raise fail(
                line,
                f"the {directive} directive is not followed by jcsaml setup cert; copy what "
                "it names into this file",
            )
        pair = _KEY.match(stripped)
        if pair is None:
            raise fail(line, "expected 'key = value' or a [section] header")
        key = pair.group(1)
        value = _value(pair.group(2), current, parsed, functools.partial(fail, line))
        parsed.sections[current][key] = _Line(number, shown, key, value)
    return _request(parsed, fail, path)


def _value(
    text: str, section: str, parsed: _Parsed, fail: Callable[[str], OpensslConfigError]
) -> str:
    """A value as openssl's ``str_copy`` makes it: quotes removed, escapes and variables
    expanded, trailing unquoted spaces dropped."""
    out: list[str] = []
    quoted_end = 0  # length of out after the last quoted part: its spaces are kept
    index = 0
    while index < len(text):
        char = text[index]
        if char in "\"'":
            end = index + 1
            while end < len(text) and text[end] != char:
                if text[end] == "\\" and char == "'" and end + 1 < len(text):
                    out.append(text[end + 1])
                    end += 2
                    continue
                out.append(text[end])
                end += 1
            if end >= len(text):
                raise fail(f"a quote ({char}) is not closed")
            index = end + 1
            quoted_end = len(out)
        elif char == "\\":
            if index + 1 < len(text):
                follower = text[index + 1]
                out.append(_ESCAPES.get(follower, follower))
            index += 2
            quoted_end = len(out)
        elif char == "$":
            index = _expand(text, index, section, parsed, out, fail)
            quoted_end = len(out)
        else:
            out.append(char)
            index += 1
    value = "".join(out)
    kept = value[:quoted_end]
    return kept + value[quoted_end:].rstrip()


def _expand(
    text: str,
    index: int,
    section: str,
    parsed: _Parsed,
    out: list[str],
    fail: Callable[[str], OpensslConfigError],
) -> int:
    """Append the value of the variable at ``text[index]`` (a ``$``); return where it ends."""
    start = index + 1
    closing = {"{": "}", "(": ")"}.get(text[start : start + 1], "")
    if closing:
        end = text.find(closing, start + 1)
        if end < 0:
            raise fail(f"the variable at {text[index:]!r} is not closed with {closing!r}")
        name, after = text[start + 1 : end], end + 1
    else:
        match = _NAME_CHARS.match(text, start)
        name = match.group(0) if match else ""
        after = match.end() if match else start
        if match and text[after : after + 2] == "::":
            rest = _NAME_CHARS.match(text, after + 2)
            if rest:
                name, after = text[start : rest.end()], rest.end()
    where, _, variable = name.rpartition("::")
    if not variable or not _NAME_CHARS.fullmatch(variable):
        raise fail("a $ must start a variable such as $dir or ${section::name}; write \\$ for $")
    if where == "ENV":
        raise fail(f"${{ENV::{variable}}} reads the environment, which jcsaml does not do")
    found = None
    for candidate in (where,) if where else (section, DEFAULT):
        entries = parsed.sections.get(candidate, {})
        if variable in entries:
            found = entries[variable].value
            break
    if found is None:
        raise fail(f"the variable ${name} has no value in this file (openssl would fail too)")
    out.append(found)
    return after


def _request(parsed: _Parsed, fail: _Fail, path: str) -> CertificateRequest:
    sections = parsed.sections
    if "req" not in sections:
        raise OpensslConfigFileError(path=path, reason="it has no [req] section")
    req = sections["req"]
    dn_line = req.get("distinguished_name")
    if dn_line is None:
        raise OpensslConfigFileError(
            path=path, reason="[req] has no distinguished_name = SECTION line"
        )
    dn_name = dn_line.value
    if dn_name not in sections:
        raise fail(dn_line, f"there is no [{dn_name}] section")
    read = ["req", dn_name]

    prompt = True
    if "prompt" in req:
        prompt = _flag(req["prompt"], fail)
    if "encrypt_key" in req and _flag(req["encrypt_key"], fail):
        raise fail(
            req["encrypt_key"],
            "JumpCloud takes the IdP private key unencrypted; set encrypt_key = no",
        )
    for key in ("input_password", "output_password"):
        if key in req:
            raise fail(req[key], "passwords are not used: JumpCloud takes the key unencrypted")
    digest = "sha256"
    if "default_md" in req:
        digest = req["default_md"].value.lower()
        if digest == "default":  # the key's default digest: SHA-256 for RSA
            digest = "sha256"
        if digest not in DIGESTS:
            raise fail(req["default_md"], f"the digest must be one of {', '.join(DIGESTS)}")
    bits = DEFAULT_BITS
    if "default_bits" in req:
        bits = _number(req["default_bits"], min(KEY_SIZES), max(KEY_SIZES), fail)
        if bits not in KEY_SIZES:
            raise fail(req["default_bits"], f"the key size must be one of {_sizes()}")

    days, days_from, openssl_30 = DEFAULT_DAYS, "jcsaml's default (three years)", False
    if "default_days" in req:
        days, days_from = _number(req["default_days"], 1, MAX_DAYS, fail), "[ req ] default_days"
    else:
        ca_name = sections.get("ca", {}).get("default_ca")
        ca_section = sections.get(ca_name.value, {}) if ca_name else {}
        if ca_name and "default_days" in ca_section:
            days = _number(ca_section["default_days"], 1, MAX_DAYS, fail)
            days_from = f"[ {ca_name.value} ] default_days"
            openssl_30 = True
            read += ["ca", ca_name.value]

    extensions = None
    if "x509_extensions" in req:
        ext_line = req["x509_extensions"]
        if ext_line.value not in sections:
            raise fail(ext_line, f"there is no [{ext_line.value}] section")
        extensions = tuple(_extension(entry, fail) for entry in sections[ext_line.value].values())
        read.append(ext_line.value)

    subject = _subject(list(sections[dn_name].values()), prompt=prompt, fail=fail)
    if not subject:
        raise OpensslConfigFileError(
            path=path, reason=f"[{dn_name}] gives no subject field (commonName = ... at least)"
        )
    ignored = tuple(name for name in parsed.headers if name not in read)
    ignored_keys = tuple(key for key in req if key not in _USED_REQ_KEYS)
    return CertificateRequest(
        subject=tuple(subject),
        days=days,
        bits=bits,
        digest=digest,
        extensions=extensions,
        days_from=days_from,
        openssl_would_use_30_days=openssl_30,
        read=tuple(dict.fromkeys(read)),
        ignored=ignored,
        ignored_keys=ignored_keys,
    )


def _extension(entry: _Line, fail: _Fail) -> Extension:
    """``name = [critical,]value,...`` for the extensions jcsaml writes."""
    if entry.key not in EXTENSIONS:
        raise fail(
            entry,
            f"the extension {entry.key!r} is not supported; jcsaml writes {', '.join(EXTENSIONS)}",
        )
    parts = [part.strip() for part in entry.value.split(",") if part.strip()]
    critical = bool(parts) and parts[0] == "critical"
    if critical:
        parts = parts[1:]
    if not parts:
        raise fail(entry, f"{entry.key} has no value")
    name = entry.key
    if name == "basicConstraints":
        for part in parts:
            key, _, value = part.partition(":")
            if key == "CA" and value.lower() in ("true", "false"):
                continue
            if key == "pathlen" and value.isdigit():
                continue
            raise fail(entry, f"basicConstraints takes CA:true, CA:false and pathlen:N, not {part}")
    elif name == "keyUsage":
        for part in parts:
            if part not in KEY_USAGES:
                raise fail(entry, f"unknown keyUsage {part!r}; known: {', '.join(KEY_USAGES)}")
    elif name == "extendedKeyUsage":
        for part in parts:
            if part not in EXTENDED_KEY_USAGES and not re.fullmatch(r"\d+(\.\d+)+", part):
                raise fail(entry, f"unknown extendedKeyUsage {part!r}")
    elif name == "subjectKeyIdentifier":
        if parts != ["hash"] and parts != ["none"]:
            raise fail(entry, "subjectKeyIdentifier takes hash or none")
    elif name == "authorityKeyIdentifier":
        for part in parts:
            if part not in ("keyid", "keyid:always", "issuer", "issuer:always", "none"):
                raise fail(
                    entry,
                    f"authorityKeyIdentifier takes keyid[:always], issuer[:always], not {part}",
                )
    elif name == "subjectAltName":
        for part in parts:
            kind, _, value = part.partition(":")
            if kind not in ("DNS", "email", "URI", "IP") or not value:
                raise fail(entry, f"subjectAltName takes DNS:, email:, URI: and IP:, not {part}")
    return Extension(name=name, critical=critical, values=tuple(parts), line=entry.number)


def _subject(entries: list[_Line], *, prompt: bool, fail: _Fail) -> list[tuple[str, str]]:
    values: list[tuple[str, str, _Line]] = []
    limits: dict[str, dict[str, int]] = {}
    for entry in entries:
        key = _ORDER_PREFIX.sub("", entry.key)
        name_part, _, suffix = key.partition("_")
        if name_part not in DN_FIELDS or suffix not in ("", "default", "min", "max", "value"):
            raise fail(entry, f"unknown distinguished-name field {entry.key!r}")
        name = DN_FIELDS[name_part]
        if suffix and not prompt:
            raise fail(entry, f"{entry.key!r} is for prompting, but [req] says prompt = no")
        if not prompt:
            if entry.value:
                values.append((name, entry.value, entry))
            continue
        if suffix in ("min", "max"):
            limits.setdefault(name, {})[suffix] = _number(entry, 0, 1024, fail)
        elif suffix in ("default", "value") and entry.value:
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
