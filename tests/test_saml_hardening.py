"""Hostile input: DTDs, entities, XXE, billion laughs, bad base64, junk, oversized, fuzzing.

Whatever arrives in the SAMLResponse field, jcsaml answers with a specific JcsamlError, reads no
local file and sends no request.
"""

from __future__ import annotations

import base64
import copy
import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from jcsaml import saml_xml
from jcsaml.errors import (
    JcsamlError,
    SamlBase64Error,
    SamlEmptyError,
    SamlForbiddenXmlError,
    SamlNotAResponseError,
    SamlNotXmlError,
    SamlTooLargeError,
)
from jcsaml.saml import MAX_RESPONSE_BYTES, SamlAssertion, parse_saml_response
from jcsaml.testing.idp import IdpKeyPair, build_saml_response, sign_saml_response

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
ROLES = [
    (
        "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO",
        "arn:aws:iam::012345678987:saml-provider/JC",
    )
]
RESPONSE_OPEN = (
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
)


def b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode("ascii")


def parse(xml: bytes) -> SamlAssertion:
    return parse_saml_response(b64(xml), now=NOW, verify=False)


def with_doctype(doctype: str, body: str = "&x;") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{doctype}\n{RESPONSE_OPEN}'
        f"<saml:Issuer>{body}</saml:Issuer></samlp:Response>"
    ).encode()


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, str]:
    marker = "MARKER-7f3c1e-local-file-content"
    path = tmp_path / "secret.txt"
    path.write_text(marker)
    return path, marker


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'<!ENTITY y "NETWORK-MARKER">')

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request made to it."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def assert_nothing_leaked(error: BaseException, *markers: str) -> None:
    seen = [str(error), repr(error), repr(getattr(error, "fields", {}))]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        seen.append(str(cause))
    for marker in markers:
        assert all(marker not in text for text in seen)


# --- DTDs and entities ----------------------------------------------------------------------


def test_file_xxe_never_reads_the_file(secret_file: tuple[Path, str]) -> None:
    path, marker = secret_file
    xml = with_doctype(f'<!DOCTYPE r [<!ENTITY x SYSTEM "{path.as_uri()}">]>')
    with pytest.raises(SamlForbiddenXmlError, match="DOCTYPE") as caught:
        parse(xml)
    assert_nothing_leaked(caught.value, marker)


def test_the_parser_itself_does_not_expand_external_entities(
    secret_file: tuple[Path, str], listener: tuple[str, list[str]]
) -> None:
    # Second line of defence: even a document that got past the DOCTYPE scan is parsed without
    # reading the file or fetching anything.
    path, marker = secret_file
    url, requests = listener
    for doctype in (
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "{path.as_uri()}">]>',
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}/entity">]>',
        f'<!DOCTYPE r SYSTEM "{url}/dtd">',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/parameter"> %p;]>',
    ):
        root = etree.fromstring(with_doctype(doctype), parser=saml_xml.safe_parser())
        assert marker.encode() not in etree.tostring(root)
        assert b"NETWORK-MARKER" not in etree.tostring(root)
    assert requests == []


def test_utf16_encoded_xxe_is_refused_too(secret_file: tuple[Path, str]) -> None:
    path, marker = secret_file
    xml = with_doctype(f'<!DOCTYPE r [<!ENTITY x SYSTEM "{path.as_uri()}">]>').decode()
    utf16 = xml.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(SamlForbiddenXmlError) as caught:
        parse(utf16.encode("utf-16"))
    assert_nothing_leaked(caught.value, marker)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE r [<!ENTITY x SYSTEM "{url}/entity">]>',
        '<!DOCTYPE r SYSTEM "{url}/dtd">',
        '<!DOCTYPE r PUBLIC "-//X//Y" "{url}/public">',
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/parameter"> %p;]>',
    ],
)
def test_network_xxe_sends_no_request(listener: tuple[str, list[str]], doctype: str) -> None:
    url, requests = listener
    with pytest.raises(SamlForbiddenXmlError):
        parse(with_doctype(doctype.format(url=url), body="&x;&y;"))
    assert requests == []


def test_billion_laughs_is_refused_quickly() -> None:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    xml = with_doctype(f"<!DOCTYPE r [{''.join(entities)}]>", body="&lol9;")
    started = time.monotonic()
    with pytest.raises(SamlForbiddenXmlError):
        parse(xml)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    "doctype",
    [
        "<!DOCTYPE samlp:Response>",
        "<!doctype samlp:Response>",
        "<!DOCTYPE samlp:Response [<!ELEMENT samlp:Response ANY>]>",
        "<!DOCTYPE samlp:Response [<!ATTLIST saml:Issuer ID ID #IMPLIED>]>",
    ],
)
def test_any_dtd_is_refused(doctype: str) -> None:
    with pytest.raises(SamlForbiddenXmlError, match="DTDs and entities are never accepted"):
        parse(with_doctype(doctype, body="JumpCloud"))


def test_entity_declaration_without_doctype_keyword_is_refused() -> None:
    xml = f'{RESPONSE_OPEN}<!ENTITY x "y"><saml:Issuer/></samlp:Response>'.encode()
    with pytest.raises(SamlForbiddenXmlError, match="ENTITY"):
        parse(xml)


# --- encoding and junk ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("PHNhbWxwOlJlc3BvbnNlLz4*", "outside the base64 alphabet"),
        ("PHNhbWxwOlJlc3BvbnNlLz4-_w", "outside the base64 alphabet"),
        ("PHNhbWxwOlJlc3BvbnNlLz4=PHNh", "outside the base64 alphabet"),
        ("PHNhbWxwOlJlc3BvbnNlLz", "not a multiple of 4"),
        ("SAMLResponse=PHNhbWxw", "outside the base64 alphabet"),
        ("PHNhbWxw\u00e9OlJl", "outside the base64 alphabet"),
    ],
)
def test_bad_base64(text: str, reason: str) -> None:
    with pytest.raises(SamlBase64Error, match=reason):
        parse_saml_response(text, now=NOW, verify=False)


@pytest.mark.parametrize("text", ["", "   ", "\r\n\t", b64(b"   \n  ")])
def test_empty(text: str) -> None:
    with pytest.raises(SamlEmptyError, match="empty"):
        parse_saml_response(text, now=NOW, verify=False)


@pytest.mark.parametrize(
    "document",
    [
        b"hello, this is not XML",
        b"\x89PNG\r\n\x1a\n\x00\x00binary",
        RESPONSE_OPEN.encode() + b"<saml:Assertion>",  # truncated
        b"<samlp:Response><unclosed></samlp:Response>",
        b'<a b="1" b="2"/>',
    ],
)
def test_not_xml(document: bytes) -> None:
    with pytest.raises(SamlNotXmlError, match="line"):
        parse(document)


def test_not_xml_message_does_not_quote_the_document() -> None:
    document = b"<samlp:Response>alice-session-SECRET-123</saml:Responsee>"
    with pytest.raises(SamlNotXmlError) as caught:
        parse(document)
    assert_nothing_leaked(caught.value, "SECRET", "Responsee")


def test_html_page_is_not_a_saml_response() -> None:
    with pytest.raises(SamlNotAResponseError):
        parse(b"<html><head><title>JumpCloud</title></head><body/></html>")


def test_oversized_input_is_refused_before_decoding() -> None:
    text = "A" * (MAX_RESPONSE_BYTES + 4)
    started = time.monotonic()
    with pytest.raises(SamlTooLargeError, match="more than the 1048576 bytes") as caught:
        parse_saml_response(text, now=NOW, verify=False)
    assert time.monotonic() - started < 0.5
    assert caught.value.size == len(text)


def test_largest_accepted_input_still_parses() -> None:
    xml = build_saml_response(roles=ROLES, now=NOW)
    # Pad with whitespace inside the document up to just under the limit once encoded.
    padding = (MAX_RESPONSE_BYTES * 3 // 4) - len(xml) - 16
    padded = xml.replace(b"</samlp:Response>", b" " * padding + b"</samlp:Response>")
    assert len(b64(padded)) <= MAX_RESPONSE_BYTES
    assert parse(padded).roles


# --- fuzzing --------------------------------------------------------------------------------

_KEYS = IdpKeyPair.generate(not_before=NOW - timedelta(days=1))
_SEEDS = [
    sign_saml_response(build_saml_response(roles=ROLES, now=NOW), _KEYS, sign=sign)
    for sign in ("assertion", "response", "both")
]
_TOKENS = [
    b"<!DOCTYPE r>",
    b"&x;",
    b"<saml:Assertion>",
    b"</saml:Assertion>",
    b'ID="_dup"',
    b"]]>",
    b"\x00",
    b"\xff\xfe",
    b"<![CDATA[",
    b"<!--",
    b"arn:aws-cn:iam::1:role/x,",
]


@st.composite
def mutated_xml(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["flip", "insert", "delete", "token"]))
        if operation == "flip":
            data[position] ^= draw(st.integers(1, 255))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        else:
            data[position:position] = draw(st.sampled_from(_TOKENS))
    return bytes(data)


@st.composite
def mutated_base64(draw: st.DrawFn) -> str:
    text = list(b64(draw(st.sampled_from(_SEEDS))))
    for _ in range(draw(st.integers(1, 3))):
        if not text:
            break
        position = draw(st.integers(0, len(text) - 1))
        operation = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        char = draw(st.characters(codec="utf-8"))
        if operation == "replace":
            text[position] = char
        elif operation == "insert":
            text.insert(position, char)
        elif operation == "delete":
            del text[position]
        else:
            del text[position:]
    return "".join(text)


_VALUES = st.sampled_from(
    [
        "arn:aws:iam::012345678987:role/Evil,arn:aws:iam::012345678987:saml-provider/JC",
        "43200",
        "urn:amazon:webservices",
        "2030-01-01T00:00:00Z",
        "https://signin.aws.amazon.com/saml",
        "",
    ]
) | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@st.composite
def mutated_tree(draw: st.DrawFn) -> bytes:
    """Well-formed documents with elements moved, copied, dropped or rewritten."""
    root = etree.fromstring(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        elements = list(root.iter(etree.Element))
        element = draw(st.sampled_from(elements))
        operation = draw(st.sampled_from(["text", "attribute", "copy", "move", "drop"]))
        if operation == "text":
            element.text = draw(_VALUES)
        elif operation == "attribute" and element.attrib:
            name = draw(st.sampled_from(sorted(element.attrib)))
            element.set(name, draw(_VALUES))
        elif operation in ("copy", "move") and element is not root:
            target = draw(st.sampled_from(elements))
            moved = copy.deepcopy(element) if operation == "copy" else element
            if not any(moved is ancestor for ancestor in target.iterancestors()) and (
                moved is not target
            ):
                target.insert(draw(st.integers(0, len(target))), moved)
        elif operation == "drop" and element is not root:
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)
    return bytes(etree.tostring(root))


_GENUINE = parse_saml_response(b64(_SEEDS[0]), idp_cert=_KEYS.cert_pem, now=NOW)


def only_jcsaml_errors(text: str, certificate: bytes | None, allow_sha1: bool) -> None:
    """Parsing raises nothing but JcsamlError; a verified result is exactly what was signed."""
    try:
        result = parse_saml_response(
            text,
            idp_cert=certificate,
            verify=certificate is not None,
            allow_sha1=allow_sha1,
            now=NOW,
        )
    except JcsamlError:
        return
    assert isinstance(result, SamlAssertion)
    if certificate is not None:
        assert result.signed
        signed_values = (result.roles, result.session_duration, result.not_on_or_after)
        assert signed_values == (
            _GENUINE.roles,
            _GENUINE.session_duration,
            _GENUINE.not_on_or_after,
        )
        assert (result.role_session_name, result.audience, result.issuer) == (
            _GENUINE.role_session_name,
            _GENUINE.audience,
            _GENUINE.issuer,
        )


FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(xml=mutated_xml(), verify=st.booleans(), allow_sha1=st.booleans())
def test_mutated_xml_raises_only_jcsaml_errors(xml: bytes, verify: bool, allow_sha1: bool) -> None:
    only_jcsaml_errors(b64(xml), _KEYS.cert_pem if verify else None, allow_sha1)


@FUZZ
@given(xml=mutated_tree(), verify=st.booleans())
def test_restructured_xml_raises_only_jcsaml_errors(xml: bytes, verify: bool) -> None:
    only_jcsaml_errors(b64(xml), _KEYS.cert_pem if verify else None, False)


@FUZZ
@given(text=mutated_base64(), verify=st.booleans())
def test_mutated_base64_raises_only_jcsaml_errors(text: str, verify: bool) -> None:
    only_jcsaml_errors(text, _KEYS.cert_pem if verify else None, False)


@FUZZ
@given(junk=st.text(max_size=200) | st.binary(max_size=200).map(b64))
def test_arbitrary_text_raises_only_jcsaml_errors(junk: str) -> None:
    only_jcsaml_errors(junk, None, False)
