"""A local AWS (STS + IAM) for tests: moto's server, with an AssumeRoleWithSAML as strict as AWS's.

moto 5.2 accepts any AssumeRoleWithSAML it can parse: it never checks the signature, the
audience, the expiry, the role/provider pair, the trust policy or DurationSeconds, and it answers
HTTP 500 whenever the Role attribute holds more than one value (every multi-role assertion).
Tests run against such an STS would pass code that AWS refuses. :class:`LocalAws` runs moto's
server on loopback and, while it runs, answers AssumeRoleWithSAML itself with the checks AWS makes
and AWS's error codes; everything else (IAM, GetCallerIdentity, ...) is moto's.

Typical use::

    with LocalAws() as aws:
        principal = aws.create_saml_provider("JumpCloud", keys.metadata_xml())
        role = aws.create_role("AcmeJumpCloudAdminRO", trusted_principal_arn=principal)
        env = aws.environment()   # AWS_ENDPOINT_URL_STS ... for boto3 / the AWS CLI

moto, boto3, lxml and signxml are imported when a server starts, not when this module is imported.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fnmatch
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal
from xml.sax.saxutils import escape

from jcsaml.admin.trust import load_policy
from jcsaml.loopback import LoopbackHandler, LoopbackServer

DEFAULT_ACCOUNT_ID = "012345678987"
DEFAULT_REGION = "us-east-1"
SAML_SIGNIN_URL = "https://signin.aws.amazon.com/saml"
# The SAML sign-in URL (the SAML:aud a trust policy names) and a region, per partition.
PARTITION_SIGNIN_URLS = {
    "aws": SAML_SIGNIN_URL,
    "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
    "aws-cn": "https://signin.amazonaws.cn/saml",
}
PARTITION_REGIONS = {"aws": DEFAULT_REGION, "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}
# AWS accepts its URN and, for historical reasons, the sign-in URL as the Audience.
AWS_AUDIENCES = frozenset({"urn:amazon:webservices", *PARTITION_SIGNIN_URLS.values()})
MIN_DURATION = 900
MAX_DURATION = 43200
DEFAULT_DURATION = 3600
# AWS refuses SAMLAssertion parameters longer than this (API reference: Length Constraints).
MAX_ASSERTION_LENGTH = 100_000
# Tolerance for an IdP clock running ahead (NotBefore in the future).
CLOCK_SKEW = timedelta(minutes=5)

_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
_DS = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"samlp": _SAMLP, "saml": _SAML, "md": _MD, "ds": _DS}
_ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
_SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
_SESSION_DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
_PROVIDER_ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):saml-provider/(.+)$")
_ROLE_ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(.+)$")
_STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"


@dataclass(frozen=True)
class SamlCall:
    """One AssumeRoleWithSAML request the local STS answered.

    ``code`` is ``"Success"`` or the AWS error code returned; ``duration_seconds`` is what the
    caller asked for (``None`` when omitted) and ``granted_duration`` what it got on success.
    """

    role_arn: str
    principal_arn: str
    duration_seconds: int | None
    code: str
    message: str = ""
    granted_duration: int | None = None
    #: The session policies sent: ``PolicyArns`` (their ARNs, in order) and ``Policy``.
    policy_arns: tuple[str, ...] = ()
    policy: str | None = None

    @property
    def ok(self) -> bool:
        return self.code == "Success"


def _session_policies(response: Any) -> tuple[tuple[str, ...], str | None]:
    """``PolicyArns.member.N.arn`` (in N's order) and ``Policy`` of a query-protocol request."""
    query = getattr(response, "querystring", {}) or {}
    numbered = []
    for key, values in query.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[:2] == ["PolicyArns", "member"] and parts[3] == "arn":
            numbered.append((int(parts[2]), str(values[0])))
    policy = response._get_param("Policy")
    return tuple(arn for _, arn in sorted(numbered)), str(policy) if policy else None


class StsRejection(Exception):
    """An AWS error answer: error ``code``, ``message`` and the HTTP status AWS uses for it."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _access_denied() -> StsRejection:
    # AWS's exact wording; it deliberately does not say which check failed.
    return StsRejection("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML", 403)


def _invalid_token(message: str) -> StsRejection:
    return StsRejection("InvalidIdentityToken", message)


def _validation(message: str) -> StsRejection:
    return StsRejection("ValidationError", message)


# --- the checks AWS makes ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Assertion:
    """What AssumeRoleWithSAML uses, read only from the signed element."""

    issuer: str
    subject: str
    subject_format: str
    recipient: str
    audiences: list[str]
    not_before: datetime | None
    not_on_or_after: list[datetime]
    role_values: list[str]
    session_name: str | None
    session_duration: str | None


def _parse_instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _invalid_token(f"Invalid timestamp in SAML assertion: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _hardened_parser() -> Any:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )


def _provider_certificates(metadata_xml: str) -> list[str]:
    """The PEM signing certificates an IAM SAML provider's metadata names."""
    from lxml import etree

    try:
        root = etree.fromstring(metadata_xml.encode("utf-8"), parser=_hardened_parser())
    except etree.XMLSyntaxError:
        return []
    certs = []
    for descriptor in root.iterfind(".//md:IDPSSODescriptor/md:KeyDescriptor", _NS):
        if descriptor.get("use", "signing") != "signing":
            continue
        for element in descriptor.iterfind(".//ds:X509Certificate", _NS):
            body = "".join((element.text or "").split())
            lines = [body[i : i + 64] for i in range(0, len(body), 64)]
            certs.append(
                "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
            )
    return certs


def _verified_assertion(document: bytes, certificates: Sequence[str]) -> tuple[Any, Any]:
    """(signed element, the Assertion inside it), verified against one of ``certificates``."""
    from lxml import etree
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

    try:
        tree = etree.fromstring(document, parser=_hardened_parser())
    except etree.XMLSyntaxError:
        raise _invalid_token("Response is not a valid SAML response: not XML") from None
    if tree.getroottree().docinfo.doctype:
        raise _invalid_token("Response is not a valid SAML response: DTDs are not allowed")
    if tree.tag != f"{{{_SAMLP}}}Response":
        raise _invalid_token("Response is not a valid SAML response: no samlp:Response")
    # The Status may lie outside what is signed; reading it unsigned can only make us refuse.
    status = tree.find("samlp:Status/samlp:StatusCode", _NS)
    if status is None or status.get("Value") != "urn:oasis:names:tc:SAML:2.0:status:Success":
        raise _invalid_token("The SAML response status is not Success")

    # AWS accepts the SHA-1 family too, so the local STS must not be stricter than AWS here.
    config = SignatureConfiguration(
        signature_methods=frozenset(m for m in SignatureMethod if m.name.startswith("RSA_")),
        digest_algorithms=frozenset(DigestAlgorithm),
    )
    signed = None
    for cert in certificates:
        # signxml raises several unrelated exception types for bad input: any of them means
        # "not signed by this certificate", and the next certificate gets its turn.
        with contextlib.suppress(Exception):
            result = XMLVerifier().verify(document, x509_cert=cert, expect_config=config)
            if isinstance(result, VerifyResult) and result.signed_xml is not None:
                signed = result.signed_xml
                break
    if signed is None:
        raise _invalid_token(
            "The SAML response signature is not valid for the certificate in the "
            "identity provider's metadata"
        )
    if signed.tag == f"{{{_SAML}}}Assertion":
        return signed, signed
    if signed.tag == f"{{{_SAMLP}}}Response":
        assertions = signed.findall("saml:Assertion", _NS)
        if len(assertions) != 1:
            raise _invalid_token("The signed SAML response must hold exactly one Assertion")
        return signed, assertions[0]
    raise _invalid_token("The SAML signature covers neither the Response nor the Assertion")


def _read_assertion(assertion: Any) -> _Assertion:
    def attribute(name: str) -> list[str]:
        return [
            (value.text or "").strip()
            for value in assertion.iterfind(
                f"saml:AttributeStatement/saml:Attribute[@Name='{name}']/saml:AttributeValue", _NS
            )
        ]

    name_id = assertion.find("saml:Subject/saml:NameID", _NS)
    confirmations = assertion.findall(
        "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", _NS
    )
    conditions = assertion.find("saml:Conditions", _NS)
    not_on_or_after = [
        _parse_instant(element.get("NotOnOrAfter"))
        for element in [*confirmations, conditions]
        if element is not None and element.get("NotOnOrAfter")
    ]
    not_before = None
    if conditions is not None and conditions.get("NotBefore"):
        not_before = _parse_instant(conditions.get("NotBefore"))
    audiences = [
        (element.text or "").strip()
        for element in assertion.iterfind(
            "saml:Conditions/saml:AudienceRestriction/saml:Audience", _NS
        )
    ]
    names = attribute(_SESSION_NAME_ATTRIBUTE)
    durations = attribute(_SESSION_DURATION_ATTRIBUTE)
    return _Assertion(
        issuer=(assertion.findtext("saml:Issuer", "", _NS) or "").strip(),
        subject=(name_id.text or "").strip() if name_id is not None else "",
        subject_format=name_id.get("Format", "") if name_id is not None else "",
        recipient=next((c.get("Recipient", "") for c in confirmations), ""),
        audiences=audiences,
        not_before=not_before,
        not_on_or_after=not_on_or_after,
        role_values=attribute(_ROLE_ATTRIBUTE),
        session_name=names[0] if names else None,
        session_duration=durations[0] if durations else None,
    )


def _offers_pair(role_values: Sequence[str], role_arn: str, principal_arn: str) -> bool:
    for value in role_values:
        parts = [part.strip() for part in value.split(",")]
        if len(parts) == 2 and sorted(parts) == sorted([role_arn, principal_arn]):
            return True
    return False


def _subject_type(name_id_format: str) -> str:
    for short in ("persistent", "transient"):
        if name_id_format == f"urn:oasis:names:tc:SAML:2.0:nameid-format:{short}":
            return short
    return name_id_format or "unspecified"


# --- trust policies ---------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(statement: Mapping[str, Any], principal_arn: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return principal_arn in _as_list(principal.get("Federated", [])) or "*" in _as_list(
        principal.get("AWS", [])
    )


def _action_matches(statement: Mapping[str, Any]) -> bool:
    action = "sts:assumerolewithsaml"
    if "Action" in statement:
        return any(fnmatch.fnmatchcase(action, p.lower()) for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(
            fnmatch.fnmatchcase(action, p.lower()) for p in _as_list(statement["NotAction"])
        )
    return False


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    base = operator.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: change nothing for one value
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    actual = context.get(key.lower())
    wanted = [str(v) for v in _as_list(expected)]
    if base == "Null":
        return (actual is None) == (wanted[0].lower() == "true")
    if actual is None:
        return if_exists
    tests: dict[str, Callable[[str, str], bool]] = {
        "StringEquals": lambda a, w: a == w,
        "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
        "StringLike": fnmatch.fnmatchcase,
    }
    negated = {
        "StringNotEquals": "StringEquals",
        "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
        "StringNotLike": "StringLike",
    }
    if base in tests:
        return any(tests[base](actual, w) for w in wanted)
    if base in negated:
        return not any(tests[negated[base]](actual, w) for w in wanted)
    return False  # an operator this harness does not model never grants access


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    conditions = statement.get("Condition", {})
    if not isinstance(conditions, dict):
        return False
    return all(
        isinstance(pairs, dict)
        and all(_condition_holds(op, key, value, context) for key, value in pairs.items())
        for op, pairs in conditions.items()
    )


def trust_policy_allows(document: str, principal_arn: str, context: Mapping[str, str]) -> bool:
    """Whether a role trust policy lets ``principal_arn`` call sts:AssumeRoleWithSAML.

    ``context`` maps lower-case condition keys (``saml:aud``, ``saml:iss``, ``saml:sub`` ...) to
    their values. An explicit Deny wins; without a matching Allow the answer is no. Condition
    operators outside the String* family and Null are treated as not satisfied.
    """
    policy = load_policy(document)
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        applies = (
            _principal_matches(statement, principal_arn)
            and _action_matches(statement)
            and _conditions_hold(statement, context)
        )
        if applies and statement.get("Effect") == "Deny":
            return False
        allowed = allowed or (applies and statement.get("Effect") == "Allow")
    return allowed


def saml_trust_policy(principal_arn: str) -> dict[str, Any]:
    """The trust policy the IAM console writes for a role federated through a SAML provider
    (its ``SAML:aud`` is the sign-in URL of the provider's partition)."""
    partition = principal_arn.split(":")[1] if principal_arn.count(":") >= 5 else "aws"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": principal_arn},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {
                    "StringEquals": {
                        "SAML:aud": PARTITION_SIGNIN_URLS.get(partition, SAML_SIGNIN_URL)
                    }
                },
            }
        ],
    }


# --- the server -------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_running: dict[int, LocalAws] = {}
_original_handler: Any = None


def _dispatch_assume_role_with_saml(response: Any) -> Any:
    """Stands in for moto's ``TokenResponse.assume_role_with_saml`` while a LocalAws runs."""
    host = str(response.headers.get("Host") or response.headers.get("host") or "")
    port_text = host.rsplit(":", 1)[-1]
    local = _running.get(int(port_text)) if port_text.isdigit() else None
    if local is None and len(_running) == 1:
        local = next(iter(_running.values()))
    if local is None:
        return _original_handler(response)
    return local._answer_assume_role_with_saml(response)


def _install_handler() -> None:
    global _original_handler
    from moto.sts.responses import TokenResponse

    # The handler is patched on moto's response class rather than its STS backend: the backend
    # method never receives DurationSeconds, and only the response layer can answer with AWS's
    # own error document. moto looks the handler up on the class for each request, so the swap
    # takes effect at once and is undone when the last LocalAws stops.
    _original_handler = TokenResponse.__dict__["assume_role_with_saml"]
    TokenResponse.assume_role_with_saml = _dispatch_assume_role_with_saml  # type: ignore[method-assign,assignment]


def _remove_handler() -> None:
    global _original_handler
    from moto.sts.responses import TokenResponse

    if _original_handler is not None:
        TokenResponse.assume_role_with_saml = _original_handler  # type: ignore[method-assign]
        _original_handler = None


def _request_region(response: Any, principal_arn: str) -> str:
    """The region moto saw; for an unsigned call through an endpoint override, which names no
    region, the principal's partition decides (AWS would be reached at that partition's STS)."""
    region = str(response.region or DEFAULT_REGION)
    if "Authorization" in response.headers:
        return region
    parts = principal_arn.split(":")
    partition = parts[1] if len(parts) > 1 else "aws"
    if partition in PARTITION_REGIONS and not region.startswith(
        {"aws-us-gov": "us-gov-", "aws-cn": "cn-"}.get(partition, "")
    ):
        return PARTITION_REGIONS[partition]
    if partition == "aws" and region.startswith(("us-gov-", "cn-")):
        return DEFAULT_REGION
    return region


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _set_managed_policies() -> None:
    """Load AWS managed policies into new IAM backends while any running instance asks for them.

    moto reads this setting each time it creates an account's IAM backend, which happens on
    the account's first IAM call (and again after a reset).
    """
    from moto.core.config import default_user_config

    wanted = any(local._aws_managed_policies for local in _running.values())
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = wanted


def _error_document(rejection: StsRejection) -> str:
    return (
        f'<ErrorResponse xmlns="{_STS_XMLNS}">'
        "<Error><Type>Sender</Type>"
        f"<Code>{escape(rejection.code)}</Code>"
        f"<Message>{escape(rejection.message)}</Message>"
        "</Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId>"
        "</ErrorResponse>"
    )


class LocalAws:
    """moto's server (``moto.server.ThreadedMotoServer``) on 127.0.0.1, free port, in a daemon
    thread, with STS AssumeRoleWithSAML replaced by a faithful implementation while it runs.

    Several instances may run at once; they share moto's in-process state (roles and providers
    made through one are visible through the others). moto's state is reset when the first
    instance starts and when the last one stops. ``clock`` (default: the current UTC time) is
    what the STS compares assertion times with and counts expirations from. ``latency``
    (seconds): no answer leaves before this long after its request arrived (moto's own work
    included), as with a round trip to AWS (for benchmarks).

    moto's IAM knows no AWS managed policies (``ReadOnlyAccess`` ...) by default: attaching one
    fails with NoSuchEntity. ``aws_managed_policies=True`` loads them (moto's
    ``MOTO_IAM_LOAD_MANAGED_POLICIES``) for accounts first used while such an instance runs.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        aws_managed_policies: bool = False,
        latency: float = 0,
    ) -> None:
        if latency < 0:
            raise ValueError("latency must not be negative")
        self._clock = clock or (lambda: datetime.now(UTC))
        self._aws_managed_policies = aws_managed_policies
        self.latency = latency
        self._server: Any = None
        self._port = 0
        self._lock = threading.Lock()
        self.calls: list[SamlCall] = []

    # lifecycle

    def start(self) -> LocalAws:
        """Start the server and install the strict AssumeRoleWithSAML; returns ``self``."""
        from jcsaml.testing import require

        require("moto.moto_server.threaded_moto_server", needed_by="LocalAws")
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        if self._server is not None:
            raise RuntimeError("this LocalAws is already running")

        class QuietHandler(MotoRequestHandler):
            # One access-log line per request on stderr would drown test and demo output.
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        latency = self.latency

        def delayed(app: Any) -> Any:
            def answer(environ: Any, start_response: Any) -> Any:
                arrived = time.monotonic()
                result = app(environ, start_response)
                try:
                    body = list(result)  # the headers go out with the body, after the wait
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                time.sleep(max(0.0, arrived + latency - time.monotonic()))
                return body

            return answer if latency else app

        class QuietServer(ThreadedMotoServer):
            def _server_entry(self) -> None:
                app = delayed(DomainDispatcherApplication(create_backend_app))
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=QuietHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever()

            def stop(self) -> None:
                super().stop()
                # moto's stop() shuts the loop down but leaves the listening socket open.
                if self._server is not None:
                    self._server.server_close()

        server = QuietServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._server = server
        self._port = server.get_host_and_port()[1]
        with _registry_lock:
            first = not _running
            if first:
                _install_handler()
            _running[self._port] = self
            _set_managed_policies()
        if first:
            self._reset_moto()
        return self

    def stop(self) -> None:
        """Stop the server; the last instance to stop restores moto's own handler."""
        if self._server is None:
            return
        with _registry_lock:
            _running.pop(self._port, None)
            last = not _running
            _set_managed_policies()
        if last:
            self._reset_moto()
            with _registry_lock:
                if not _running:
                    _remove_handler()
        self._server.stop()
        self._server = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """As if just started: moto's roles, providers and other state gone (for every running
        instance, which share it), and no call recorded."""
        self._reset_moto()
        self.calls.clear()

    def _reset_moto(self) -> None:
        url = self.endpoint_url + "/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - our loopback server
        # Generous: with AWS managed policies on, every IAM backend loads them again, and a
        # busy machine (more test workers than cores) was seen to take over 10 s.
        with urllib.request.urlopen(request, timeout=60):  # noqa: S310
            pass

    # what clients need

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalAws is not running; call start() first")
        return f"http://127.0.0.1:{self._port}"

    def environment(self) -> dict[str, str]:
        """Variables that point the AWS SDKs and CLI at this server (and give no credentials)."""
        url = self.endpoint_url
        return {
            "AWS_ENDPOINT_URL_STS": url,
            "AWS_ENDPOINT_URL_IAM": url,
            "AWS_ENDPOINT_URL": url,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
        }

    def iam_client(self, account_id: str = DEFAULT_ACCOUNT_ID, *, partition: str = "aws") -> Any:
        """A boto3 IAM client acting in ``account_id`` (moto's ``x-moto-account-id`` header) and
        ``partition`` (``aws``, ``aws-us-gov``, ``aws-cn``)."""
        import boto3

        client = boto3.client(
            "iam",
            endpoint_url=self.endpoint_url,
            region_name=PARTITION_REGIONS[partition],
            # moto accepts any key; static dummies keep the harness away from real credentials.
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        )

        def choose_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        client.meta.events.register("before-sign.iam.*", choose_account)
        return client

    def create_saml_provider(
        self,
        name: str,
        metadata_xml: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        partition: str = "aws",
    ) -> str:
        """Register an IAM SAML identity provider from IdP metadata; returns its ARN."""
        answer = self.iam_client(account_id, partition=partition).create_saml_provider(
            Name=name, SAMLMetadataDocument=metadata_xml
        )
        return str(answer["SAMLProviderArn"])

    def create_role(
        self,
        name: str,
        *,
        trusted_principal_arn: str,
        max_session_duration: int = 3600,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> str:
        """Create a role that SAML provider ``trusted_principal_arn`` may assume; returns its ARN.

        The trust policy is the one the IAM console writes: Federated principal,
        ``sts:AssumeRoleWithSAML``, ``SAML:aud`` = ``https://signin.aws.amazon.com/saml`` (the
        partition's sign-in URL). The role is made in the provider's partition.
        """
        return self.create_role_with_policy(
            name,
            saml_trust_policy(trusted_principal_arn),
            max_session_duration=max_session_duration,
            account_id=account_id,
            partition=trusted_principal_arn.split(":")[1],
        )

    def create_role_with_policy(
        self,
        name: str,
        trust_policy: Mapping[str, Any] | str,
        *,
        max_session_duration: int = 3600,
        path: str = "/",
        account_id: str = DEFAULT_ACCOUNT_ID,
        partition: str = "aws",
    ) -> str:
        """Create a role with any trust policy (e.g. for negative tests); returns its ARN."""
        document = trust_policy if isinstance(trust_policy, str) else json.dumps(trust_policy)
        answer = self.iam_client(account_id, partition=partition).create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=document,
            MaxSessionDuration=max_session_duration,
        )
        return str(answer["Role"]["Arn"])

    def session_arn(
        self, access_key_id: str, secret_access_key: str, session_token: str
    ) -> str | None:
        """The assumed-role ARN of a live session this STS issued with exactly these three
        values, else None (moto itself never checks a secret key or a session token)."""
        from moto.sts.models import sts_backends

        now = self._clock()
        for account_id in list(sts_backends):
            for partition in PARTITION_SIGNIN_URLS:
                for session in list(sts_backends[account_id][partition].assumed_roles):
                    if (
                        session.access_key_id == access_key_id
                        and hmac.compare_digest(session.secret_access_key, secret_access_key)
                        and hmac.compare_digest(session.session_token, session_token)
                        and _aware(session.expiration) > now
                    ):
                        return str(session.arn)
        return None

    # the strict AssumeRoleWithSAML

    def _answer_assume_role_with_saml(self, response: Any) -> Any:
        from moto.core.responses import ActionResult

        role_arn = str(response._get_param("RoleArn") or "")
        principal_arn = str(response._get_param("PrincipalArn") or "")
        policies = _session_policies(response)
        raw_duration = response._get_param("DurationSeconds")
        requested: int | None = None
        try:
            if raw_duration is not None:
                try:
                    requested = int(raw_duration)
                except (TypeError, ValueError):
                    raise _validation("DurationSeconds must be a number") from None
            result, granted = self._assume_role_with_saml(
                role_arn=role_arn,
                principal_arn=principal_arn,
                assertion_b64=str(response._get_param("SAMLAssertion") or ""),
                requested=requested,
                region=_request_region(response, principal_arn),
            )
        except StsRejection as rejection:
            self._record(
                SamlCall(
                    role_arn, principal_arn, requested, rejection.code, rejection.message,
                    None, *policies,
                )
            )  # fmt: skip
            return _error_document(rejection), {
                "status": rejection.status,
                "Content-Type": "text/xml",
            }
        self._record(
            SamlCall(role_arn, principal_arn, requested, "Success", "", granted, *policies)
        )
        return ActionResult(result)

    def _record(self, call: SamlCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _assume_role_with_saml(
        self,
        *,
        role_arn: str,
        principal_arn: str,
        assertion_b64: str,
        requested: int | None,
        region: str,
    ) -> tuple[dict[str, Any], int]:
        from moto.iam.models import iam_backends
        from moto.sts.models import AssumedRole, sts_backends
        from moto.utilities.utils import get_partition

        now = self._clock()
        # 1. Parameter validation, as AWS's API layer does before anything else.
        if requested is not None and requested < MIN_DURATION:
            raise _validation(
                f"1 validation error detected: Value '{requested}' at 'durationSeconds' failed "
                f"to satisfy constraint: Member must have value greater than or equal to "
                f"{MIN_DURATION}"
            )
        if requested is not None and requested > MAX_DURATION:
            raise _validation(
                f"1 validation error detected: Value '{requested}' at 'durationSeconds' failed "
                f"to satisfy constraint: Member must have value less than or equal to "
                f"{MAX_DURATION}"
            )
        if not 4 <= len(assertion_b64) <= MAX_ASSERTION_LENGTH:
            raise _validation(
                "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy "
                f"constraint: Member must have length between 4 and {MAX_ASSERTION_LENGTH}"
            )
        provider_match = _PROVIDER_ARN_RE.match(principal_arn)
        role_match = _ROLE_ARN_RE.match(role_arn)
        if role_match is None:
            raise _validation(f"{role_arn!r} is not a valid role ARN")

        # 2. The principal must be a SAML provider registered in IAM.
        partition = get_partition(region)
        provider = None
        if provider_match is not None and provider_match.group(1) == partition:
            iam = iam_backends[provider_match.group(2)][partition]
            provider = next((p for p in iam.list_saml_providers() if p.arn == principal_arn), None)
        if provider is None:
            raise _invalid_token(f"SAML provider {principal_arn} does not exist")
        assert provider_match is not None

        # 3. Signed by the provider's certificate; everything below comes from the signed part.
        try:
            document = base64.b64decode(assertion_b64, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid_token("Response is not a valid SAML response: bad base64") from None
        certificates = _provider_certificates(provider.saml_metadata_document or "")
        _, assertion_element = _verified_assertion(document, certificates)
        assertion = _read_assertion(assertion_element)

        # 4. Time window and audience.
        if not assertion.not_on_or_after:
            raise _invalid_token("The SAML assertion has no NotOnOrAfter")
        if any(now >= moment for moment in assertion.not_on_or_after):
            raise StsRejection(
                "ExpiredTokenException",
                "The SAML assertion has expired: its NotOnOrAfter is in the past",
            )
        if assertion.not_before is not None and assertion.not_before > now + CLOCK_SKEW:
            raise _invalid_token("The SAML assertion is not yet valid (NotBefore is in the future)")
        if not assertion.audiences or any(a not in AWS_AUDIENCES for a in assertion.audiences):
            raise _invalid_token(
                "The SAML assertion's Audience is not valid for AWS: expected "
                "urn:amazon:webservices"
            )
        if assertion.session_name is None or not _SESSION_NAME_RE.match(assertion.session_name):
            raise _invalid_token(
                "The SAML assertion's RoleSessionName attribute is missing or invalid"
            )
        session_limit: int | None = None
        if assertion.session_duration is not None:
            try:
                session_limit = int(assertion.session_duration)
            except ValueError:
                session_limit = -1
            if not MIN_DURATION <= session_limit <= MAX_DURATION:
                raise _invalid_token("The SAML assertion's SessionDuration attribute is invalid")

        # 5. The assertion must offer this role with this provider; the role must trust it.
        if not _offers_pair(assertion.role_values, role_arn, principal_arn):
            raise _access_denied()
        role_account = role_match.group(2)
        try:
            role = iam_backends[role_account][partition].get_role_by_arn(role_arn)
        except Exception:
            raise _access_denied() from None
        context = {
            "saml:aud": assertion.recipient,
            "saml:iss": assertion.issuer,
            "saml:sub": assertion.subject,
            "saml:sub_type": _subject_type(assertion.subject_format),
        }
        if not trust_policy_allows(role.assume_role_policy_document, principal_arn, context):
            raise _access_denied()

        # 6. Duration against the role's maximum and the assertion's SessionDuration.
        role_max = int(role.max_session_duration or DEFAULT_DURATION)
        if requested is not None and requested > role_max:
            raise _validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        if requested is not None and session_limit is not None and requested > session_limit:
            raise _validation(
                "The requested DurationSeconds exceeds the SessionDuration attribute of the "
                "SAML assertion."
            )
        if requested is not None:
            duration = requested
        else:
            duration = min(session_limit or DEFAULT_DURATION, DEFAULT_DURATION)

        # Issue the credentials where moto's GetCallerIdentity looks for them: the temporary key
        # lives in the role account's IAM, the session in that account's STS backend.
        sts = sts_backends[role_account][partition]
        access_key = iam_backends[role_account][partition].create_temp_access_key()
        access_key.role_arn = role_arn
        session = AssumedRole(
            account_id=role_account,
            region_name=region,
            access_key=access_key,
            role_session_name=assertion.session_name,
            role_arn=role_arn,
            policy=None,  # type: ignore[arg-type]
            duration=duration,
            external_id=None,  # type: ignore[arg-type]
        )
        session.expiration = now.replace(microsecond=0) + timedelta(seconds=duration)
        sts.assumed_roles.append(session)
        name_qualifier = base64.b64encode(
            hashlib.sha1(  # noqa: S324 - AWS defines NameQualifier with SHA-1
                f"{assertion.issuer}{role_account}/{provider_match.group(3)}".encode()
            ).digest()
        ).decode("ascii")
        result = {
            "Credentials": session,
            "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn},
            "Subject": assertion.subject,
            "SubjectType": _subject_type(assertion.subject_format),
            "Issuer": assertion.issuer,
            "Audience": assertion.recipient,
            "NameQualifier": name_qualifier,
        }
        return result, duration


StsFault = Literal["silent", "drip", "html", "truncated", "foreign-xml", "garbage", "cut"]

_TRUNCATED_ANSWER = (
    f'<AssumeRoleWithSAMLResponse xmlns="{_STS_XMLNS}">\n  <AssumeRoleWithSAMLResult>\n'
    "    <Credentials>\n      <AccessKeyId>ASIA"
)
_MAINTENANCE_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>"
    "<body><h1>We'll be back soon</h1></body></html>\n"
)
_FOREIGN_XML = '<?xml version="1.0"?>\n<status><state>maintenance</state></status>\n'


class _MisbehavingHandler(LoopbackHandler["MisbehavingSts"]):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.read_body()
        with self.owner._lock:
            self.owner.requests += 1
        self.owner._answer(self)

    do_GET = do_POST


class MisbehavingSts(LoopbackServer):
    """An STS endpoint on 127.0.0.1 (free port) that answers every request badly, for the
    failures a real network produces: point ``AWS_ENDPOINT_URL_STS`` at :attr:`endpoint_url`.

    ``silent`` reads the request and never answers (until :meth:`stop`); ``drip`` sends an
    HTML page (``status``) one byte every ``interval`` seconds; ``html`` is an HTML maintenance
    page with ``status``; ``truncated`` is a 200 STS answer cut off mid-element; ``foreign-xml``
    is a 200 well-formed XML document that is not an STS answer; ``garbage`` is bytes that are
    not HTTP at all; ``cut`` announces a longer body than it sends, then closes the connection.
    :attr:`requests` counts the requests received.
    """

    handler = _MisbehavingHandler

    def __init__(self, fault: StsFault, *, status: int = 200, interval: float = 0.05) -> None:
        super().__init__()
        self.fault = fault
        self.status = status
        self.interval = interval
        self.requests = 0
        self._lock = threading.Lock()

    def _answer(self, handler: _MisbehavingHandler) -> None:
        if self.fault == "silent":
            self._stopping.wait()
            handler.close_connection = True
            return
        if self.fault == "garbage":
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.wfile.write(b"\x16\x03\x01 not HTTP at all\r\n\r\n")
                handler.wfile.flush()
            return
        if self.fault == "cut":
            head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4096\r\n\r\n"
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.wfile.write(head.encode("latin-1") + _TRUNCATED_ANSWER.encode())
                handler.wfile.flush()
            return
        if self.fault == "truncated":
            body, kind = _TRUNCATED_ANSWER.encode(), "text/xml"
        elif self.fault == "foreign-xml":
            body, kind = _FOREIGN_XML.encode(), "text/xml"
        else:
            body, kind = _MAINTENANCE_PAGE.encode(), "text/html"
        status = 200 if self.fault in ("truncated", "foreign-xml") else self.status
        raw = (
            f"HTTP/1.1 {status} {handler.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1") + body
        handler.close_connection = True
        if self.fault == "drip":
            handler.drip(raw, self.interval)
            return
        with contextlib.suppress(OSError):
            handler.wfile.write(raw)

    @property
    def endpoint_url(self) -> str:
        return self.url

    def environment(self) -> dict[str, str]:
        """Variables that send the AWS SDKs' STS calls here."""
        return {
            "AWS_ENDPOINT_URL_STS": self.endpoint_url,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
        }
