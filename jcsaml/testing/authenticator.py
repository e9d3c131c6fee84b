"""A software FIDO security key for tests: real keys, real signatures, no hardware.

:class:`SoftwareAuthenticator` holds EC P-256 credentials made with ``cryptography``. It is used
two ways:

- directly, as a :class:`jcsaml.webauthn.WebAuthnDevice`: ``get_assertion`` builds the
  clientDataJSON a browser would and signs like an authenticator;
- through python-fido2's real client: :meth:`SoftwareAuthenticator.ctap_device` is a
  ``CtapDevice`` that answers CTAP2 (getInfo, getAssertion, clientPIN with PIN protocol 1) or,
  with ``u2f_only=True``, U2F (CTAP1) APDUs, so :class:`jcsaml.webauthn.Fido2Device` can be tested
  end to end, PIN included.

Either way it signs only for credentials it registered, so "any of the allowed credentials" can be
tested with two keys. Register with :meth:`SoftwareAuthenticator.register` and give the fake
JumpCloud the credential id and public key it returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jcsaml.errors import SecurityKeyNotRegisteredError, SecurityKeyUserVerificationError
from jcsaml.webauthn import AssertionRequest, AssertionResult, b64url_encode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

FLAG_UP = 0x01  # user present (touched)
FLAG_UV = 0x04  # user verified (PIN or fingerprint)

# CTAP HID commands and capabilities (CTAP 2.1, section 11.2).
_CTAPHID_MSG = 0x03
_CTAPHID_CBOR = 0x10
_CAPABILITY_WINK = 0x01
_CAPABILITY_CBOR = 0x04
_KEEPALIVE_UPNEEDED = 2

# CTAP2 commands and status codes.
_GET_ASSERTION = 0x02
_GET_INFO = 0x04
_CLIENT_PIN = 0x06
_ERR_INVALID_COMMAND = 0x01
_ERR_MISSING_PARAMETER = 0x14
_ERR_KEEPALIVE_CANCEL = 0x2D
_ERR_NO_CREDENTIALS = 0x2E
_ERR_USER_ACTION_TIMEOUT = 0x2F
_ERR_PIN_INVALID = 0x31
_ERR_PIN_BLOCKED = 0x32
_ERR_PIN_AUTH_INVALID = 0x33
_ERR_PIN_AUTH_BLOCKED = 0x34
_ERR_PIN_NOT_SET = 0x35
_ERR_UNSUPPORTED_OPTION = 0x2B

# U2F APDU status words.
_SW_OK = 0x9000
_SW_CONDITIONS_NOT_SATISFIED = 0x6985
_SW_WRONG_DATA = 0x6A80
_SW_INS_NOT_SUPPORTED = 0x6D00

_PIN_RETRIES = 8
_PIN_TRIES_PER_POWER_UP = 3


@dataclass
class _Credential:
    rp_id: str
    private_key: EllipticCurvePrivateKey


class SoftwareAuthenticator:
    """An EC P-256 security key in memory.

    ``pin`` is the key's PIN (CTAP path only; None: no PIN set). ``verifies_user`` says whether
    the key can verify its owner when used directly (a stand-in for a fingerprint reader).
    ``touched`` counts the assertions the key's owner confirmed, so tests can see which key
    signed; ``counter`` is the signature counter every assertion increments.
    """

    def __init__(
        self,
        *,
        pin: str | None = None,
        verifies_user: bool = False,
        name: str = "Software Key",
    ) -> None:
        self.name = name
        self.verifies_user = verifies_user
        self.counter = 0
        self.touched = 0
        self._credentials: dict[bytes, _Credential] = {}
        self._pin = pin
        self.pin_retries = _PIN_RETRIES
        self._pin_failures_since_power_up = 0
        self._pin_token: bytes | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SoftwareAuthenticator({self.name!r}, {len(self._credentials)} credential(s))"

    # -- registration ---------------------------------------------------------------------------

    def register(self, rp_id: str, *, credential_id: bytes | None = None) -> tuple[bytes, bytes]:
        """Make a credential for ``rp_id``; returns its id and its public key (PEM bytes).
        ``credential_id`` (default: 32 random bytes) gives it a known id, e.g. the one a
        recording names."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        private_key = ec.generate_private_key(ec.SECP256R1())
        credential_id = credential_id if credential_id is not None else os.urandom(32)
        self._credentials[credential_id] = _Credential(rp_id, private_key)
        pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return credential_id, pem

    @property
    def credential_ids(self) -> list[bytes]:
        return list(self._credentials)

    # -- WebAuthnDevice -------------------------------------------------------------------------

    def get_assertion(self, request: AssertionRequest) -> AssertionResult:
        """Sign as browser and key together would: clientDataJSON for ``request.origin``, then an
        assertion over authenticatorData || SHA-256(clientDataJSON) with the first allowed
        credential this key holds for ``request.rp_id``.

        Raises SecurityKeyNotRegisteredError when it holds none (as Fido2Device does) and
        SecurityKeyUserVerificationError when verification is required but ``verifies_user`` is
        off.
        """
        credential_id = self._find(request.rp_id, request.allow_credentials)
        if credential_id is None:
            raise SecurityKeyNotRegisteredError(
                keys=self.name, count=len(request.allow_credentials), rp_id=request.rp_id
            )
        if request.user_verification == "required" and not self.verifies_user:
            raise SecurityKeyUserVerificationError(key=self.name)
        client_data = json.dumps(
            {
                "type": "webauthn.get",
                "challenge": b64url_encode(request.challenge),
                "origin": request.origin,
                "crossOrigin": False,
            },
            separators=(",", ":"),
        ).encode()
        verified = self.verifies_user and request.user_verification != "discouraged"
        auth_data, signature = self._sign(
            credential_id, hashlib.sha256(client_data).digest(), up=True, uv=verified
        )
        return AssertionResult(
            credential_id=credential_id,
            client_data_json=client_data,
            authenticator_data=auth_data,
            signature=signature,
            user_handle=None,
        )

    def _find(self, rp_id: str, allowed: list[bytes]) -> bytes | None:
        for credential_id in allowed:
            credential = self._credentials.get(credential_id)
            if credential is not None and credential.rp_id == rp_id:
                return credential_id
        return None

    def _sign(
        self, credential_id: bytes, client_data_hash: bytes, *, up: bool, uv: bool
    ) -> tuple[bytes, bytes]:
        """authenticatorData and its ECDSA-SHA256 (DER) signature; the counter goes up."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        credential = self._credentials[credential_id]
        with self._lock:
            self.counter += 1
            if up:
                self.touched += 1
            counter = self.counter
        flags = (FLAG_UP if up else 0) | (FLAG_UV if uv else 0)
        auth_data = (
            hashlib.sha256(credential.rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", counter)
        )
        signature = credential.private_key.sign(
            auth_data + client_data_hash, ec.ECDSA(hashes.SHA256())
        )
        return auth_data, signature

    # -- CTAP -----------------------------------------------------------------------------------

    def ctap_device(
        self, *, u2f_only: bool = False, touch: bool = True, touch_timeout_s: float = 30.0
    ) -> SoftwareCtapDevice:
        """This key as a fido2 ``CtapDevice`` (a fresh "plug-in": PIN tries per power-up reset).

        ``u2f_only`` makes it an old U2F key (CTAP1 only); ``touch=False`` makes its owner never
        touch it, so requests end when the client cancels or after ``touch_timeout_s``.
        """
        self._pin_failures_since_power_up = 0
        return SoftwareCtapDevice(
            self, u2f_only=u2f_only, touch=touch, touch_timeout_s=touch_timeout_s
        )


class SoftwareCtapDevice:
    """A :class:`SoftwareAuthenticator` seen through CTAP HID, for python-fido2's client.

    It has the ``CtapDevice`` interface (``capabilities``, ``call``, ``close``), answering CBOR
    messages like a FIDO2 key (or MSG APDUs like a U2F key), including keep-alive "touch needed"
    callbacks and cancellation through the client's event.
    """

    def __init__(
        self,
        key: SoftwareAuthenticator,
        *,
        u2f_only: bool,
        touch: bool,
        touch_timeout_s: float,
    ) -> None:
        self.key = key
        self.u2f_only = u2f_only
        self.touch = touch
        self.touch_timeout_s = touch_timeout_s
        self.closed = False
        self.product_name = key.name
        self._u2f_presence_pending = False
        self._key_agreement: Any = None

    def __repr__(self) -> str:
        return f"SoftwareCtapDevice({self.key.name!r})"

    @property
    def capabilities(self) -> int:
        return 0 if self.u2f_only else _CAPABILITY_CBOR | _CAPABILITY_WINK

    def close(self) -> None:
        self.closed = True

    def call(
        self,
        cmd: int,
        data: bytes = b"",
        event: threading.Event | None = None,
        on_keepalive: Callable[[int], None] | None = None,
    ) -> bytes:
        if cmd == _CTAPHID_CBOR and not self.u2f_only:
            return self._cbor(data, event, on_keepalive)
        if cmd == _CTAPHID_MSG:
            return self._apdu(data)
        return bytes([_ERR_INVALID_COMMAND])

    def _await_touch(
        self, event: threading.Event | None, on_keepalive: Callable[[int], None] | None
    ) -> int | None:
        """Blink for a touch: None when touched, else the CTAP status that ends the request."""
        if on_keepalive is not None:
            on_keepalive(_KEEPALIVE_UPNEEDED)
        if self.touch:
            return None
        if (event or threading.Event()).wait(self.touch_timeout_s):
            return _ERR_KEEPALIVE_CANCEL
        return _ERR_USER_ACTION_TIMEOUT

    # -- CTAP2 ----------------------------------------------------------------------------------

    def _cbor(
        self,
        data: bytes,
        event: threading.Event | None,
        on_keepalive: Callable[[int], None] | None,
    ) -> bytes:
        from fido2 import cbor

        command, payload = data[0], data[1:]
        request = cbor.decode(payload) if payload else {}
        if not isinstance(request, Mapping):
            return bytes([_ERR_INVALID_COMMAND])
        if command == _GET_INFO:
            answer: Mapping[int, Any] | int = self._get_info()
        elif command == _GET_ASSERTION:
            answer = self._get_assertion(request, event, on_keepalive)
        elif command == _CLIENT_PIN:
            answer = self._client_pin(request)
        else:
            answer = _ERR_INVALID_COMMAND
        if isinstance(answer, int):
            return bytes([answer])
        return b"\x00" + cbor.encode(answer)

    def _get_info(self) -> Mapping[int, Any]:
        return {
            1: ["U2F_V2", "FIDO_2_0"],
            3: hashlib.sha256(self.key.name.encode()).digest()[:16],  # AAGUID
            4: {"rk": False, "up": True, "plat": False, "clientPin": self.key._pin is not None},
            5: 1200,  # maxMsgSize
            6: [1],  # PIN protocol 1
        }

    def _get_assertion(
        self,
        request: Mapping[int, Any],
        event: threading.Event | None,
        on_keepalive: Callable[[int], None] | None,
    ) -> Mapping[int, Any] | int:
        rp_id, client_data_hash = request.get(1), request.get(2)
        if not isinstance(rp_id, str) or not isinstance(client_data_hash, bytes):
            return _ERR_MISSING_PARAMETER
        options = request.get(5) or {}
        if options.get("uv"):
            return _ERR_UNSUPPORTED_OPTION  # no built-in verification, only a PIN
        verified = False
        pin_auth = request.get(6)
        if pin_auth is not None:
            token = self.key._pin_token
            expected = (
                hmac.new(token, client_data_hash, hashlib.sha256).digest()[:16] if token else b""
            )
            if request.get(7) != 1 or not token or not hmac.compare_digest(pin_auth, expected):
                return _ERR_PIN_AUTH_INVALID
            verified = True
        allowed = [c["id"] for c in request.get(3) or [] if isinstance(c, Mapping) and "id" in c]
        credential_id = self.key._find(rp_id, allowed)
        up = options.get("up", True)
        if up:
            # A real key blinks even when it holds no credential, so the answer leaks nothing.
            refused = self._await_touch(event, on_keepalive)
            if refused is not None:
                return refused
        if credential_id is None:
            return _ERR_NO_CREDENTIALS
        auth_data, signature = self.key._sign(credential_id, client_data_hash, up=up, uv=verified)
        return {1: {"id": credential_id, "type": "public-key"}, 2: auth_data, 3: signature}

    def _client_pin(self, request: Mapping[int, Any]) -> Mapping[int, Any] | int:
        from cryptography.hazmat.primitives.asymmetric import ec

        key = self.key
        sub_command = request.get(2)
        if request.get(1) != 1:
            return _ERR_INVALID_COMMAND
        if sub_command == 0x01:  # getPINRetries
            return {3: key.pin_retries}
        if sub_command == 0x02:  # getKeyAgreement
            if self._key_agreement is None:
                self._key_agreement = ec.generate_private_key(ec.SECP256R1())
            numbers = self._key_agreement.public_key().public_numbers()
            return {
                1: {
                    1: 2,
                    3: -25,
                    -1: 1,
                    -2: numbers.x.to_bytes(32, "big"),
                    -3: numbers.y.to_bytes(32, "big"),
                }
            }
        if sub_command != 0x05:  # only getPinToken (CTAP 2.0) is needed for sign-in
            return _ERR_INVALID_COMMAND
        if key._pin is None:
            return _ERR_PIN_NOT_SET
        if key.pin_retries == 0:
            return _ERR_PIN_BLOCKED
        if key._pin_failures_since_power_up >= _PIN_TRIES_PER_POWER_UP:
            return _ERR_PIN_AUTH_BLOCKED
        peer, pin_hash_enc = request.get(3), request.get(6)
        if self._key_agreement is None or not isinstance(peer, Mapping) or not pin_hash_enc:
            return _ERR_MISSING_PARAMETER
        shared = self._shared_secret(peer)
        pin_hash = _aes_cbc(shared, pin_hash_enc, decrypt=True)
        expected = hashlib.sha256(key._pin.encode()).digest()[:16]
        # A fresh agreement key after each PIN try, as the spec asks.
        self._key_agreement = None
        if not hmac.compare_digest(pin_hash, expected):
            key.pin_retries -= 1
            key._pin_failures_since_power_up += 1
            if key.pin_retries == 0:
                return _ERR_PIN_BLOCKED
            if key._pin_failures_since_power_up >= _PIN_TRIES_PER_POWER_UP:
                return _ERR_PIN_AUTH_BLOCKED
            return _ERR_PIN_INVALID
        key.pin_retries = _PIN_RETRIES
        key._pin_failures_since_power_up = 0
        key._pin_token = os.urandom(32)
        return {2: _aes_cbc(shared, key._pin_token, decrypt=False)}

    def _shared_secret(self, peer: Mapping[int, Any]) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec

        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(peer[-2], "big"), int.from_bytes(peer[-3], "big"), ec.SECP256R1()
        ).public_key()
        return hashlib.sha256(self._key_agreement.exchange(ec.ECDH(), public)).digest()

    # -- U2F (CTAP1) ----------------------------------------------------------------------------

    def _apdu(self, data: bytes) -> bytes:
        instruction, p1 = data[1], data[2]
        # Extended-length APDU: CLA INS P1 P2 00 Lc(2) data Le(2)
        length = int.from_bytes(data[5:7], "big") if len(data) >= 7 else 0
        body = data[7 : 7 + length]
        if instruction == 0x03:  # VERSION
            return b"U2F_V2" + _SW_OK.to_bytes(2, "big")
        if instruction != 0x02:  # only AUTHENTICATE is needed for sign-in
            return _SW_INS_NOT_SUPPORTED.to_bytes(2, "big")
        client_param, app_param = body[:32], body[32:64]
        key_handle = body[65 : 65 + body[64]] if len(body) > 64 else b""
        credential = self.key._credentials.get(key_handle)
        if credential is None or hashlib.sha256(credential.rp_id.encode()).digest() != app_param:
            return _SW_WRONG_DATA.to_bytes(2, "big")
        if p1 == 0x07:  # check-only: "yes, that key handle is mine"
            return _SW_CONDITIONS_NOT_SATISFIED.to_bytes(2, "big")
        # U2F keys answer "touch needed" until touched; the client polls.
        if not self._u2f_presence_pending or not self.touch:
            self._u2f_presence_pending = True
            return _SW_CONDITIONS_NOT_SATISFIED.to_bytes(2, "big")
        self._u2f_presence_pending = False
        auth_data, signature = self.key._sign(key_handle, client_param, up=True, uv=False)
        # U2F's answer is authenticatorData without the RP ID hash: presence byte, counter, sig.
        return auth_data[32:] + signature + _SW_OK.to_bytes(2, "big")


def _aes_cbc(key: bytes, data: bytes, *, decrypt: bool) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.CBC(b"\x00" * 16))
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(data) + worker.finalize()
