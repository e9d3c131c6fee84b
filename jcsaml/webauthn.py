"""WebAuthn (FIDO2 / U2F security keys) for JumpCloud's second factor.

JumpCloud hands out a challenge (``GET /userconsole/auth/webauthn``), a security key signs it as a
browser would on the console's origin, and the signed assertion goes back
(``POST /userconsole/auth/webauthn``). This module owns the parts between those two calls:

- :func:`parse_challenge` validates JumpCloud's answer and makes an :class:`AssertionRequest`;
- a :class:`WebAuthnDevice` signs it: :class:`Fido2Device` drives USB/NFC keys through python-fido2
  (CTAP2 and U2F-only keys alike), tests use ``jcsaml.testing.authenticator.SoftwareAuthenticator``;
- :func:`credential_body` turns the :class:`AssertionResult` into the POST body.

:func:`answer_challenge` does all three. fido2 is imported only when a real key is used.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from jcsaml.errors import (
    IdpProtocolError,
    NoRegisteredSecurityKeyError,
    NoSecurityKeyError,
    SecurityKeyAccessError,
    SecurityKeyNotRegisteredError,
    SecurityKeyPinError,
    SecurityKeyPinLockedError,
    SecurityKeyReplugError,
    SecurityKeyTimeoutError,
    SecurityKeyUserVerificationError,
    WebAuthnError,
    WebAuthnRpIdError,
)
from jcsaml.prompter import Prompter

if TYPE_CHECKING:
    from fido2.client import Fido2Client

log = logging.getLogger(__name__)

#: JumpCloud's challenge (GET) and answer (POST) endpoint, relative to the console URL.
WEBAUTHN_PATH = "/userconsole/auth/webauthn"

USER_VERIFICATION_VALUES = ("required", "preferred", "discouraged")
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 600.0  # a bogus huge timeout must not leave the login hanging for hours
PIN_HOW = "a PIN can only be typed interactively"
TOUCH_MESSAGE = "Touch your security key"


@dataclass(frozen=True)
class AssertionRequest:
    """What to sign: WebAuthn ``PublicKeyCredentialRequestOptions`` plus the caller's origin.

    ``allow_credentials`` are credential ids; any one of them will do. ``user_verification`` is
    JumpCloud's ``required``/``preferred``/``discouraged``.
    """

    rp_id: str
    challenge: bytes = field(repr=False)
    allow_credentials: list[bytes]
    origin: str
    user_verification: str = "discouraged"
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class AssertionResult:
    """A signed WebAuthn assertion, all fields raw bytes as the authenticator produced them."""

    credential_id: bytes
    client_data_json: bytes
    authenticator_data: bytes
    signature: bytes
    user_handle: bytes | None = None


class WebAuthnDevice(Protocol):
    """Something that can produce a WebAuthn assertion (a USB/NFC key via fido2, or a software
    key in tests).

    ``get_assertion`` signs with any credential of ``request.allow_credentials`` it holds and
    raises a :class:`~jcsaml.errors.WebAuthnError` subclass otherwise
    (:class:`~jcsaml.errors.SecurityKeyNotRegisteredError` when it holds none).
    """

    def get_assertion(self, request: AssertionRequest) -> AssertionResult: ...


# --- JumpCloud's messages -----------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """base64url without padding, as WebAuthn JSON carries binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object) -> bytes:
    """Decode a base64url string, with or without padding; raises ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    # Some servers use the standard alphabet; both decode to the same bytes.
    cleaned = text.strip().rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def origin_of(console_url: str) -> str:
    """The web origin of a URL (scheme, host, port unless the default; no path).

    ``https://console.jumpcloud.com/x`` → ``https://console.jumpcloud.com``: what a browser puts
    in clientDataJSON on JumpCloud's console, and what JumpCloud checks.
    """
    parts = urlsplit(console_url)
    host = (parts.hostname or "").lower()
    if not parts.scheme or not host:
        raise ValueError(f"{console_url!r} has no scheme and host")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{host}" + ("" if port in (None, default) else f":{port}")


def rp_id_allowed(rp_id: str, origin: str) -> bool:
    """Whether a page at ``origin`` may ask for signatures for ``rp_id`` (a browser's rule).

    The RP ID must be the origin's host or a registrable parent of it (``console.jumpcloud.com``
    may use ``jumpcloud.com``, never ``com`` or another site): this is what stops a look-alike
    console from collecting signatures meant for JumpCloud. Plain http counts only on loopback,
    where the RP ID must be the host itself (that is how tests run).
    """
    parts = urlsplit(origin)
    host = (parts.hostname or "").lower()
    if not rp_id or not host:
        return False
    rp_id = rp_id.lower()
    if parts.scheme == "http":
        return _is_loopback(host) and rp_id == host
    if parts.scheme != "https":
        return False
    require_fido2()
    from fido2.rpid import verify_rp_id

    return bool(verify_rp_id(rp_id, origin))


def require_fido2() -> None:
    """Raise a WebAuthnError saying what to install unless python-fido2 2.x is importable."""
    try:
        from fido2.client import DefaultClientDataCollector  # noqa: F401  (new in fido2 2.0)
    except ImportError:
        raise WebAuthnError(
            reason="security keys need the fido2 package, version 2 or later; install it with: "
            "pip install 'fido2>=2.0'"
        ) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_challenge(
    body: Mapping[str, Any], *, origin: str, url: str = WEBAUTHN_PATH
) -> tuple[AssertionRequest, str]:
    """Read JumpCloud's answer to ``GET /userconsole/auth/webauthn``.

    ``body`` is ``{"publicKey": {"challenge", "rpId", "allowCredentials": [{"type": "public-key",
    "id"}], "timeout"?, "userVerification"?}, "token"}`` with base64url binary values; ``origin``
    is the console's origin (:func:`origin_of`); ``url`` only names the endpoint in errors.
    Returns the request to sign and the token to send back with the answer.

    Raises IdpProtocolError for a malformed body, NoRegisteredSecurityKeyError when JumpCloud
    lists no credential, WebAuthnRpIdError when the RP ID does not belong to ``origin``.
    """

    def bad(reason: str) -> IdpProtocolError:
        return IdpProtocolError(url=url, reason=f"WebAuthn challenge: {reason}")

    if not isinstance(body, Mapping):
        raise bad("expected a JSON object")
    options = body.get("publicKey")
    if not isinstance(options, Mapping):
        raise bad("no publicKey object")
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise bad("no token")
    try:
        challenge = b64url_decode(options.get("challenge"))
    except ValueError:
        raise bad("the challenge is missing or not base64url") from None
    if not challenge:
        raise bad("the challenge is empty")
    rp_id = options.get("rpId")
    if rp_id is None:
        # WebAuthn's default: the origin's own host.
        rp_id = urlsplit(origin).hostname or ""
    if not isinstance(rp_id, str) or not rp_id:
        raise bad("rpId is not a host name")
    if not rp_id_allowed(rp_id, origin):
        raise WebAuthnRpIdError(rp_id=rp_id, origin=origin)

    listed = options.get("allowCredentials", [])
    if not isinstance(listed, list):
        raise bad("allowCredentials is not a list")
    allowed: list[bytes] = []
    for entry in listed:
        if not isinstance(entry, Mapping):
            raise bad("an allowCredentials entry is not an object")
        if entry.get("type", "public-key") != "public-key":
            continue  # a future credential type no security key can use
        try:
            credential_id = b64url_decode(entry.get("id"))
        except ValueError:
            raise bad("an allowCredentials id is not base64url") from None
        if credential_id and credential_id not in allowed:
            allowed.append(credential_id)
    if not allowed:
        raise NoRegisteredSecurityKeyError()

    user_verification = options.get("userVerification", "preferred")
    if user_verification not in USER_VERIFICATION_VALUES:
        user_verification = "preferred"  # WebAuthn: unknown values count as the default
    timeout_ms = options.get("timeout")
    if timeout_ms is None:
        timeout_s = DEFAULT_TIMEOUT_S
    elif isinstance(timeout_ms, int | float) and not isinstance(timeout_ms, bool):
        timeout_s = timeout_ms / 1000 if timeout_ms > 0 else DEFAULT_TIMEOUT_S
    else:
        raise bad("timeout is not a number")

    request = AssertionRequest(
        rp_id=rp_id,
        challenge=challenge,
        allow_credentials=allowed,
        origin=origin,
        user_verification=str(user_verification),
        timeout_s=min(timeout_s, MAX_TIMEOUT_S),
    )
    return request, token


def credential_body(result: AssertionResult, token: str) -> dict[str, Any]:
    """The body of ``POST /userconsole/auth/webauthn``: the assertion as a browser serialises it
    (base64url without padding; ``userHandle`` null unless the key returned one) plus JumpCloud's
    token from the challenge."""
    credential_id = b64url_encode(result.credential_id)
    return {
        "publicKeyCredential": {
            "id": credential_id,
            "rawId": credential_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url_encode(result.client_data_json),
                "authenticatorData": b64url_encode(result.authenticator_data),
                "signature": b64url_encode(result.signature),
                "userHandle": (b64url_encode(result.user_handle) if result.user_handle else None),
            },
        },
        "token": token,
    }


def answer_challenge(
    body: Mapping[str, Any],
    *,
    device: WebAuthnDevice,
    console_url: str,
    url: str | None = None,
) -> dict[str, Any]:
    """From JumpCloud's challenge (the GET answer) to the body to POST back, signed by ``device``
    on the origin of ``console_url``.

    Raises what :func:`parse_challenge` and ``device.get_assertion`` raise.
    """
    request, token = parse_challenge(
        body, origin=origin_of(console_url), url=url or console_url.rstrip("/") + WEBAUTHN_PATH
    )
    return credential_body(device.get_assertion(request), token)


# --- real security keys through python-fido2 ---------------------------------------------------


class _NotOnThisKey(Exception):
    """This key holds none of the allowed credentials; the next key may."""


def find_security_keys() -> list[Any]:
    """Every FIDO key plugged in (USB HID), plus NFC readers when pyscard is installed."""
    from fido2.hid import CtapHidDevice

    devices: list[Any] = list(CtapHidDevice.list_devices())
    try:
        from fido2.pcsc import CtapPcscDevice
    except ImportError:  # pyscard is optional: USB keys are the common case
        return devices
    try:
        devices.extend(CtapPcscDevice.list_devices())
    except Exception as exc:  # no pcscd running is normal, not an error for USB users
        log.debug("no NFC readers: %s", exc)
    return devices


class Fido2Device:
    """A :class:`WebAuthnDevice` over the security keys plugged into this computer.

    Keys are tried one after the other until one holds an allowed credential (fido2 itself tries
    every allowed credential on a key, for CTAP2 and U2F-only keys). The person is told to touch
    the key through ``prompter.notify`` and asked for the key's PIN through ``prompter.secret``
    only when JumpCloud requires user verification or the key insists; a wrong PIN is asked again
    up to ``pin_attempts`` times, saying how many tries the key has left.

    ``find_devices`` returns fido2 ``CtapDevice`` objects (default: :func:`find_security_keys`);
    tests pass a software device. Every device found is closed before returning.
    """

    def __init__(
        self,
        *,
        prompter: Prompter,
        find_devices: Callable[[], Iterable[Any]] | None = None,
        pin_attempts: int = 3,
    ) -> None:
        self.prompter = prompter
        self._find_devices = find_devices or find_security_keys
        self.pin_attempts = pin_attempts

    def get_assertion(self, request: AssertionRequest) -> AssertionResult:
        """Sign ``request`` with the first plugged-in key holding one of its credentials.

        Raises WebAuthnRpIdError (before any key is asked) when ``request.rp_id`` does not
        belong to ``request.origin``, NoSecurityKeyError, SecurityKeyAccessError,
        SecurityKeyNotRegisteredError,
        SecurityKeyTimeoutError, SecurityKeyUserVerificationError, SecurityKeyPinError,
        SecurityKeyReplugError, SecurityKeyPinLockedError, WebAuthnError, and the prompter's
        errors when a PIN cannot be asked.
        """
        require_fido2()
        if not rp_id_allowed(request.rp_id, request.origin):
            raise WebAuthnRpIdError(rp_id=request.rp_id, origin=request.origin)
        devices = self._open_devices()
        log.debug("security keys found: %s", ", ".join(map(_name, devices)) or "none")
        if not devices:
            raise NoSecurityKeyError()
        try:
            for device in devices:
                try:
                    return self._assert_with(device, request, several=len(devices) > 1)
                except _NotOnThisKey:
                    log.debug("%s holds none of the allowed credentials", _name(device))
            raise SecurityKeyNotRegisteredError(
                keys=", ".join(_name(d) for d in devices),
                count=len(request.allow_credentials),
                rp_id=request.rp_id,
            )
        finally:
            for device in devices:
                _close(device)

    def _open_devices(self) -> list[Any]:
        try:
            return list(self._find_devices())
        except OSError as exc:
            # Linux: /dev/hidraw* exists but this user may not open it.
            raise SecurityKeyAccessError(reason=exc.strerror or str(exc)) from None

    def _assert_with(
        self, device: Any, request: AssertionRequest, *, several: bool
    ) -> AssertionResult:
        from fido2.client import ClientError, PinRequiredError
        from fido2.ctap import CtapError

        client = self._client(device, request, several=several)
        options = _request_options(request)
        for attempt in range(1, self.pin_attempts + 1):
            cancel = threading.Event()
            try:
                selection = client.get_assertion(options, event=cancel)
            except KeyboardInterrupt:
                cancel.set()  # stop the key blinking before giving up
                raise
            except PinRequiredError:
                raise WebAuthnError(
                    reason="the security key needs its PIN and none was typed"
                ) from None
            except ClientError as exc:
                cause = exc.cause.code if isinstance(exc.cause, CtapError) else None
                if cause == CtapError.ERR.PIN_INVALID:
                    retries = _pin_retries(device)
                    if attempt < self.pin_attempts and retries != 0:
                        self.prompter.notify(f"Wrong PIN ({_retries_text(retries)}).")
                        continue
                    raise SecurityKeyPinError(
                        retries_left=retries, retries=_retries_text(retries)
                    ) from None
                raise _client_error(exc, cause, device, request) from None
            except (OSError, ConnectionError) as exc:
                raise WebAuthnError(
                    reason=f"lost contact with the security key {_name(device)} ({exc})"
                ) from None
            response = selection.get_response(0).response
            return AssertionResult(
                credential_id=bytes(selection.get_response(0).raw_id),
                client_data_json=bytes(response.client_data),
                authenticator_data=bytes(response.authenticator_data),
                signature=bytes(response.signature),
                user_handle=bytes(response.user_handle) if response.user_handle else None,
            )
        raise AssertionError("unreachable: the last PIN attempt returns or raises")

    def _client(self, device: Any, request: AssertionRequest, *, several: bool) -> Fido2Client:
        from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
        from fido2.ctap2.pin import ClientPin

        prompter = self.prompter
        touch = f"{TOUCH_MESSAGE} ({_name(device)})" if several else TOUCH_MESSAGE

        class Interaction(UserInteraction):
            def prompt_up(self) -> None:
                prompter.notify(touch)

            def request_pin(
                self, permissions: ClientPin.PERMISSION, rp_id: str | None
            ) -> str | None:
                return prompter.secret("Security key PIN", how=PIN_HOW) or None

            def request_uv(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> bool:
                prompter.notify("Verify yourself on the security key (fingerprint)")
                return True

        # The console's origin signs for JumpCloud's parent-domain RP ID, as in a browser.
        collector = DefaultClientDataCollector(request.origin, verify=rp_id_allowed)
        try:
            return Fido2Client(device, collector, user_interaction=Interaction())
        except (OSError, ConnectionError) as exc:
            raise WebAuthnError(
                reason=f"cannot talk to the security key {_name(device)} ({exc})"
            ) from None


def _request_options(request: AssertionRequest) -> Any:
    from fido2.webauthn import (
        PublicKeyCredentialDescriptor,
        PublicKeyCredentialRequestOptions,
        PublicKeyCredentialType,
        UserVerificationRequirement,
    )

    # "preferred" would make fido2 ask for the PIN at every login although JumpCloud accepts a
    # touch alone; only "required" (or a key that insists) is worth a PIN prompt.
    uv = "required" if request.user_verification == "required" else "discouraged"
    return PublicKeyCredentialRequestOptions(
        challenge=request.challenge,
        timeout=round(request.timeout_s * 1000),
        rp_id=request.rp_id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=c)
            for c in request.allow_credentials
        ],
        user_verification=UserVerificationRequirement(uv),
    )


def _client_error(exc: Any, cause: Any, device: Any, request: AssertionRequest) -> Exception:
    """fido2's ClientError (and the CTAP status behind it) as the error a person can act on."""
    from fido2.client import ClientError
    from fido2.ctap import CtapError

    if cause == CtapError.ERR.PIN_AUTH_BLOCKED:
        return SecurityKeyReplugError()
    if cause == CtapError.ERR.PIN_BLOCKED:
        return SecurityKeyPinLockedError()
    if cause == CtapError.ERR.PIN_NOT_SET:
        return SecurityKeyUserVerificationError(key=_name(device))
    if exc.code == ClientError.ERR.DEVICE_INELIGIBLE:
        return _NotOnThisKey()
    if exc.code == ClientError.ERR.TIMEOUT:
        return SecurityKeyTimeoutError(timeout=request.timeout_s)
    if exc.code == ClientError.ERR.CONFIGURATION_UNSUPPORTED:
        return SecurityKeyUserVerificationError(key=_name(device))
    detail = str(exc.cause) if exc.cause else exc.code.name
    return WebAuthnError(reason=f"the security key {_name(device)} answered: {detail}")


def _pin_retries(device: Any) -> int | None:
    """PIN tries left before the key locks, or None when the key cannot say."""
    from fido2.ctap2.base import Ctap2
    from fido2.ctap2.pin import ClientPin

    try:
        retries, _ = ClientPin(Ctap2(device)).get_pin_retries()
    except Exception as exc:  # only a hint for the message: never worth failing the login for
        log.debug("PIN retries unknown: %s", exc)
        return None
    return int(retries)


def _retries_text(retries: int | None) -> str:
    if retries is None:
        return "tries left unknown"
    if retries == 1:
        return "1 try left before the key locks"
    return f"{retries} tries left before the key locks"


def _name(device: Any) -> str:
    name = getattr(device, "product_name", None)
    return str(name) if name else "security key"


def _close(device: Any) -> None:
    try:
        device.close()
    except Exception as exc:  # closing is tidying up; the login's outcome is already decided
        log.debug("closing %s: %s", _name(device), exc)
