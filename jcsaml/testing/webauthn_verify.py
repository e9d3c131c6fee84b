"""What a WebAuthn relying party checks before it believes an assertion (the fake JumpCloud's side).

:func:`verify_assertion` takes the body a client POSTs to ``/userconsole/auth/webauthn`` and checks
it the way JumpCloud must (WebAuthn Level 2, section 7.2): the credential is one registered for the
user, clientDataJSON is a ``webauthn.get`` for this challenge on this origin, authenticatorData is
for this RP ID with the user-present flag (and user-verified when required), the signature counter
moved forward, and the ECDSA P-256 / SHA-256 signature over authenticatorData ||
SHA-256(clientDataJSON) verifies with the credential's public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import struct
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

FLAG_UP = 0x01
FLAG_UV = 0x04
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class WebAuthnVerificationError(ValueError):
    """The assertion is not acceptable; ``reason`` says which check failed (safe to show)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"WebAuthn assertion rejected: {reason}")


def verify_assertion(
    *,
    credential_body: Mapping[str, Any],
    expected_challenge: bytes,
    expected_origin: str,
    rp_id: str,
    public_keys: Mapping[bytes, bytes | EllipticCurvePublicKey],
    require_user_verification: bool = False,
    sign_counts: MutableMapping[bytes, int] | None = None,
) -> bytes:
    """Check a WebAuthn assertion; return the id of the credential that signed it.

    ``credential_body`` is the POST body (``{"publicKeyCredential": {...}, "token"}``; the token is
    the caller's to check) or its ``publicKeyCredential`` member. ``public_keys`` maps the user's
    registered credential ids to their public keys (PEM bytes as
    ``SoftwareAuthenticator.register`` returns, or ``cryptography`` key objects). With
    ``sign_counts`` (credential id → last counter seen) a counter that did not increase is
    rejected as a sign of a cloned key, and the new counter is stored.

    Raises WebAuthnVerificationError naming the failed check.
    """
    credential = credential_body.get("publicKeyCredential", credential_body)
    if not isinstance(credential, Mapping):
        raise WebAuthnVerificationError("publicKeyCredential is not an object")
    if credential.get("type") != "public-key":
        raise WebAuthnVerificationError("type is not public-key")
    raw_id = _decode(credential, "rawId")
    if credential.get("id") != _encode(raw_id):
        raise WebAuthnVerificationError("id and rawId differ")
    response = credential.get("response")
    if not isinstance(response, Mapping):
        raise WebAuthnVerificationError("response is not an object")
    client_data_json = _decode(response, "clientDataJSON")
    auth_data = _decode(response, "authenticatorData")
    signature = _decode(response, "signature")

    if raw_id not in public_keys:
        raise WebAuthnVerificationError("unknown credential: not registered for this user")

    try:
        client_data = json.loads(client_data_json)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebAuthnVerificationError("clientDataJSON is not JSON") from None
    if not isinstance(client_data, dict):
        raise WebAuthnVerificationError("clientDataJSON is not an object")
    if client_data.get("type") != "webauthn.get":
        raise WebAuthnVerificationError(f"clientData type is {client_data.get('type')!r}")
    challenge = client_data.get("challenge")
    if not isinstance(challenge, str) or not hmac.compare_digest(
        challenge.encode(), _encode(expected_challenge).encode()
    ):
        raise WebAuthnVerificationError("challenge mismatch")
    if client_data.get("origin") != expected_origin:
        raise WebAuthnVerificationError(
            f"origin {client_data.get('origin')!r} is not {expected_origin!r}"
        )
    if client_data.get("crossOrigin") is True:
        raise WebAuthnVerificationError("signed in a cross-origin frame")

    if len(auth_data) < 37:
        raise WebAuthnVerificationError("authenticatorData is too short")
    if not hmac.compare_digest(auth_data[:32], hashlib.sha256(rp_id.encode()).digest()):
        raise WebAuthnVerificationError(f"rpIdHash is not for {rp_id!r}")
    flags = auth_data[32]
    if not flags & FLAG_UP:
        raise WebAuthnVerificationError("user presence flag not set")
    if require_user_verification and not flags & FLAG_UV:
        raise WebAuthnVerificationError("user verification flag not set")

    _verify_signature(
        public_keys[raw_id], signature, auth_data + hashlib.sha256(client_data_json).digest()
    )

    if sign_counts is not None:
        (counter,) = struct.unpack(">I", auth_data[33:37])
        previous = sign_counts.get(raw_id, 0)
        if (counter or previous) and counter <= previous:
            raise WebAuthnVerificationError(
                f"signature counter {counter} did not increase (last {previous}): cloned key?"
            )
        sign_counts[raw_id] = counter
    return raw_id


def _verify_signature(key: bytes | EllipticCurvePublicKey, signature: bytes, data: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public_key = serialization.load_pem_public_key(key) if isinstance(key, bytes) else key
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise WebAuthnVerificationError("the registered key is not EC P-256")
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise WebAuthnVerificationError("bad signature") from None


def _decode(container: Mapping[str, Any], name: str) -> bytes:
    """Strict base64url without padding, as browsers send it."""
    value = container.get(name)
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise WebAuthnVerificationError(f"{name} is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise WebAuthnVerificationError(f"{name} is not unpadded base64url") from None


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
