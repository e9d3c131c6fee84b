"""WebAuthn sign-in: JumpCloud's challenge, a software security key, python-fido2's real client
over a software CTAP device (CTAP2 and U2F), and the relying party's verification."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from jcsaml import errors
from jcsaml.prompter import NonInteractivePrompter
from jcsaml.testing.authenticator import SoftwareAuthenticator
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.webauthn_verify import WebAuthnVerificationError, verify_assertion
from jcsaml.webauthn import (
    AssertionRequest,
    AssertionResult,
    Fido2Device,
    answer_challenge,
    b64url_encode,
    credential_body,
    origin_of,
    parse_challenge,
    rp_id_allowed,
)

CONSOLE = "https://console.jumpcloud.com"
RP_ID = "jumpcloud.com"
PIN = "482916"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def challenge_body(*credential_ids: bytes, **options: Any) -> dict[str, Any]:
    """JumpCloud's answer to GET /userconsole/auth/webauthn."""
    public_key = {
        "challenge": b64(os.urandom(32)),
        "rpId": RP_ID,
        "allowCredentials": [{"type": "public-key", "id": b64(c)} for c in credential_ids],
        "timeout": 60000,
        **options,
    }
    return {"publicKey": public_key, "token": "jc-token-1"}


def request_for(*credential_ids: bytes, **fields: Any) -> AssertionRequest:
    values: dict[str, Any] = {
        "rp_id": RP_ID,
        "challenge": os.urandom(32),
        "allow_credentials": list(credential_ids),
        "origin": CONSOLE,
        **fields,
    }
    return AssertionRequest(**values)


def verify(
    result: AssertionResult, request: AssertionRequest, keys: dict[bytes, bytes], **kw: Any
) -> bytes:
    return verify_assertion(
        credential_body=credential_body(result, "jc-token-1"),
        expected_challenge=request.challenge,
        expected_origin=CONSOLE,
        rp_id=RP_ID,
        public_keys=keys,
        **kw,
    )


@pytest.fixture
def key() -> tuple[SoftwareAuthenticator, bytes, bytes]:
    authenticator = SoftwareAuthenticator(pin=PIN, name="Key A")
    credential_id, public_key = authenticator.register(RP_ID)
    return authenticator, credential_id, public_key


# --- software authenticator and the relying party's checks --------------------------------------


def test_software_key_assertion_verifies_like_jumpcloud_would(key):
    authenticator, credential_id, public_key = key
    request = request_for(credential_id)

    result = authenticator.get_assertion(request)

    assert verify(result, request, {credential_id: public_key}) == credential_id
    client_data = json.loads(result.client_data_json)
    assert client_data == {
        "type": "webauthn.get",
        "challenge": b64(request.challenge),
        "origin": CONSOLE,
        "crossOrigin": False,
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"expected_origin": "https://evil.example"}, "origin"),
        ({"expected_challenge": b"another challenge"}, "challenge mismatch"),
        ({"rp_id": "evil.example"}, "rpIdHash"),
        ({"public_keys": "other"}, "unknown credential"),
        ({"require_user_verification": True}, "user verification"),
    ],
)
def test_verification_rejects_assertions_for_something_else(key, change, reason):
    authenticator, credential_id, public_key = key
    request = request_for(credential_id)
    result = authenticator.get_assertion(request)
    other_key = SoftwareAuthenticator()
    other_id, other_pem = other_key.register(RP_ID)
    kwargs: dict[str, Any] = {
        "credential_body": credential_body(result, "t"),
        "expected_challenge": request.challenge,
        "expected_origin": CONSOLE,
        "rp_id": RP_ID,
        "public_keys": {credential_id: public_key},
        **change,
    }
    if change.get("public_keys") == "other":
        kwargs["public_keys"] = {other_id: other_pem}

    with pytest.raises(WebAuthnVerificationError, match=reason):
        verify_assertion(**kwargs)


def test_verification_rejects_a_tampered_signature_and_a_foreign_key(key):
    authenticator, credential_id, public_key = key
    request = request_for(credential_id)
    result = authenticator.get_assertion(request)
    flipped = bytearray(result.signature)
    flipped[-1] ^= 0x01
    tampered = AssertionResult(
        credential_id=result.credential_id,
        client_data_json=result.client_data_json,
        authenticator_data=result.authenticator_data,
        signature=bytes(flipped),
    )
    with pytest.raises(WebAuthnVerificationError, match="signature"):
        verify(tampered, request, {credential_id: public_key})

    # The right credential id registered with someone else's public key.
    _, stranger_pem = SoftwareAuthenticator().register(RP_ID)
    with pytest.raises(WebAuthnVerificationError, match="bad signature"):
        verify(result, request, {credential_id: stranger_pem})


def test_verification_rejects_a_replayed_counter(key):
    authenticator, credential_id, public_key = key
    counts: dict[bytes, int] = {}
    request = request_for(credential_id)
    first = authenticator.get_assertion(request)
    second = authenticator.get_assertion(request)

    verify(second, request, {credential_id: public_key}, sign_counts=counts)
    assert counts[credential_id] == 2
    with pytest.raises(WebAuthnVerificationError, match="cloned"):
        verify(first, request, {credential_id: public_key}, sign_counts=counts)


def test_software_key_refuses_credentials_it_does_not_hold(key):
    authenticator, _, _ = key
    with pytest.raises(errors.SecurityKeyNotRegisteredError, match="hold none of the 1 credential"):
        authenticator.get_assertion(request_for(os.urandom(32)))


# --- JumpCloud's messages ---------------------------------------------------------------------


def test_credential_body_is_what_a_browser_posts():
    result = AssertionResult(
        credential_id=bytes([0xFB, 0xFF, 0xBF]) * 5 + b"\xfe",  # - and _, would need "=="
        client_data_json=b'{"type":"webauthn.get"}',
        authenticator_data=b"\x01" * 37,
        signature=b"\x30\x44sig",
    )

    body = credential_body(result, "jc-token-1")

    credential = body["publicKeyCredential"]
    assert body["token"] == "jc-token-1"
    assert set(credential) == {"id", "rawId", "type", "response"}
    assert credential["type"] == "public-key"
    assert credential["id"] == credential["rawId"] == "-_-_" * 5 + "_g"
    assert credential["response"]["userHandle"] is None
    for value in (credential["id"], *[v for v in credential["response"].values() if v]):
        assert "=" not in value and "+" not in value and "/" not in value
    assert base64.urlsafe_b64decode(credential["response"]["signature"] + "==") == b"\x30\x44sig"
    json.dumps(body)  # goes on the wire as JSON


def test_parse_challenge_reads_jumpcloud_answer():
    ids = [os.urandom(64), os.urandom(32)]
    body = challenge_body(*ids, timeout=30000, userVerification="discouraged")

    request, token = parse_challenge(body, origin=CONSOLE)

    assert token == "jc-token-1"
    assert request.rp_id == RP_ID
    assert request.origin == CONSOLE
    assert request.allow_credentials == ids
    assert b64(request.challenge) == body["publicKey"]["challenge"]
    assert request.timeout_s == 30
    assert request.user_verification == "discouraged"


def test_parse_challenge_defaults():
    body = challenge_body(b"cred")
    del body["publicKey"]["timeout"]

    request, _ = parse_challenge(body, origin=CONSOLE)

    assert request.timeout_s == 60
    assert request.user_verification == "preferred"  # WebAuthn's default


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda b: b.pop("publicKey"), "no publicKey"),
        (lambda b: b.pop("token"), "no token"),
        (lambda b: b["publicKey"].pop("challenge"), "challenge"),
        (lambda b: b["publicKey"].update(challenge="not base64!"), "challenge"),
        (lambda b: b["publicKey"].update(allowCredentials="x"), "allowCredentials"),
        (lambda b: b["publicKey"].update(allowCredentials=[{"id": "#"}]), "allowCredentials id"),
        (lambda b: b["publicKey"].update(timeout="soon"), "timeout"),
    ],
)
def test_parse_challenge_rejects_malformed_answers(mangle, reason):
    body = challenge_body(b"cred")
    mangle(body)
    url = CONSOLE + "/userconsole/auth/webauthn"

    with pytest.raises(errors.IdpProtocolError, match=reason) as caught:
        parse_challenge(body, origin=CONSOLE, url=url)

    assert caught.value.url == url
    assert "JumpCloud's sign-in flow may have changed" in str(caught.value)


def test_parse_challenge_without_registered_keys_says_so():
    with pytest.raises(errors.NoRegisteredSecurityKeyError, match="register one"):
        parse_challenge(challenge_body(), origin=CONSOLE)


def test_parse_challenge_refuses_an_rp_id_the_console_may_not_use():
    body = challenge_body(b"cred", rpId="evil.example")
    with pytest.raises(errors.WebAuthnRpIdError, match="console_url"):
        parse_challenge(body, origin=CONSOLE)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://console.jumpcloud.com", "https://console.jumpcloud.com"),
        ("https://Console.JumpCloud.com:443/userconsole/", "https://console.jumpcloud.com"),
        ("https://console.eu.jumpcloud.com/", "https://console.eu.jumpcloud.com"),
        ("http://127.0.0.1:8123/x", "http://127.0.0.1:8123"),
    ],
)
def test_origin_of_console_url(url, origin):
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("rp_id", "origin", "allowed"),
    [
        ("jumpcloud.com", "https://console.jumpcloud.com", True),
        ("console.jumpcloud.com", "https://console.jumpcloud.com", True),
        ("jumpcloud.com", "https://console.eu.jumpcloud.com", True),
        ("com", "https://console.jumpcloud.com", False),
        ("jumpcloud.com", "https://jumpcloud.com.evil.example", False),
        ("jumpcloud.com", "http://console.jumpcloud.com", False),
        ("127.0.0.1", "http://127.0.0.1:8123", True),
        ("jumpcloud.com", "http://127.0.0.1:8123", False),
    ],
)
def test_rp_id_must_belong_to_the_console_origin(rp_id, origin, allowed):
    assert rp_id_allowed(rp_id, origin) is allowed


def test_any_allowed_credential_works_not_only_the_first():
    first, second = SoftwareAuthenticator(name="A"), SoftwareAuthenticator(name="B")
    first_id, first_pem = first.register(RP_ID)
    second_id, second_pem = second.register(RP_ID)
    body = challenge_body(first_id, second_id)
    challenge = base64.urlsafe_b64decode(body["publicKey"]["challenge"] + "==")

    # Only the second key is plugged in.
    posted = answer_challenge(body, device=second, console_url=CONSOLE + "/")

    assert posted["publicKeyCredential"]["rawId"] == b64(second_id)
    used = verify_assertion(
        credential_body=posted,
        expected_challenge=challenge,
        expected_origin=CONSOLE,
        rp_id=RP_ID,
        public_keys={first_id: first_pem, second_id: second_pem},
    )
    assert used == second_id
    assert (first.touched, second.touched) == (0, 1)


# --- Fido2Device: python-fido2's client against software CTAP devices ---------------------------


def test_no_security_key_plugged_in():
    device = Fido2Device(prompter=ScriptedPrompter(), find_devices=list)

    with pytest.raises(errors.NoSecurityKeyError, match="no security key found; plug it in"):
        device.get_assertion(request_for(b"cred"))


def test_missing_fido2_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fido2.client", None)  # what Python does when it is absent

    with pytest.raises(errors.WebAuthnError, match=r"pip install 'fido2>=2.0'"):
        Fido2Device(prompter=ScriptedPrompter(), find_devices=list).get_assertion(
            request_for(b"cred")
        )


def test_security_key_without_permission_names_udev():
    def denied() -> list[Any]:
        raise PermissionError(13, "Permission denied", "/dev/hidraw0")

    with pytest.raises(errors.SecurityKeyAccessError, match=r"Permission denied.*/dev/hidraw"):
        Fido2Device(prompter=ScriptedPrompter(), find_devices=denied).get_assertion(
            request_for(b"cred")
        )


@pytest.mark.parametrize("u2f_only", [False, True], ids=["ctap2", "u2f"])
def test_fido2_signs_with_a_touch(key, u2f_only):
    authenticator, credential_id, public_key = key
    ctap = authenticator.ctap_device(u2f_only=u2f_only)
    prompter = ScriptedPrompter()  # no answers: a PIN question would fail the test
    request = request_for(os.urandom(32), credential_id)

    result = Fido2Device(prompter=prompter, find_devices=lambda: [ctap]).get_assertion(request)

    assert verify(result, request, {credential_id: public_key}) == credential_id
    assert prompter.notices == ["Touch your security key"]
    assert ctap.closed


def test_fido2_asks_no_pin_when_jumpcloud_only_prefers_verification(key):
    authenticator, credential_id, public_key = key
    prompter = ScriptedPrompter()
    request = request_for(credential_id, user_verification="preferred")

    result = Fido2Device(
        prompter=prompter, find_devices=lambda: [authenticator.ctap_device()]
    ).get_assertion(request)

    assert verify(result, request, {credential_id: public_key}) == credential_id
    assert prompter.asked == []


def test_fido2_refuses_to_sign_for_another_site_before_touching_a_key(key):
    authenticator, credential_id, _ = key
    ctap = authenticator.ctap_device()
    request = request_for(credential_id, rp_id="evil.example")

    with pytest.raises(errors.WebAuthnRpIdError):
        Fido2Device(prompter=ScriptedPrompter(), find_devices=lambda: [ctap]).get_assertion(request)
    assert authenticator.counter == 0


def test_fido2_tries_each_plugged_in_key():
    stranger, mine = SoftwareAuthenticator(name="Old Key"), SoftwareAuthenticator(name="My Key")
    stranger.register(RP_ID)
    credential_id, public_key = mine.register(RP_ID)
    devices = [stranger.ctap_device(), mine.ctap_device(u2f_only=True)]
    prompter = ScriptedPrompter()
    request = request_for(credential_id)

    result = Fido2Device(prompter=prompter, find_devices=lambda: devices).get_assertion(request)

    assert verify(result, request, {credential_id: public_key}) == credential_id
    assert (stranger.touched, mine.touched) == (0, 1)
    assert "Touch your security key (My Key)" in prompter.notices
    assert all(d.closed for d in devices)


def test_fido2_no_plugged_in_key_holds_a_credential(key):
    authenticator, _, _ = key
    with pytest.raises(errors.SecurityKeyNotRegisteredError, match=r"\(Key A\) hold none of the 2"):
        Fido2Device(
            prompter=ScriptedPrompter(), find_devices=lambda: [authenticator.ctap_device()]
        ).get_assertion(request_for(os.urandom(32), os.urandom(32)))


def test_fido2_pin_when_verification_is_required_with_a_retry(key):
    authenticator, credential_id, public_key = key
    prompter = ScriptedPrompter(["000000", PIN])
    request = request_for(credential_id, user_verification="required")

    result = Fido2Device(
        prompter=prompter, find_devices=lambda: [authenticator.ctap_device()]
    ).get_assertion(request)

    assert verify(result, request, {credential_id: public_key}, require_user_verification=True)
    assert prompter.asked == ["Security key PIN", "Security key PIN"]
    assert "Wrong PIN (7 tries left before the key locks)." in prompter.notices
    assert not any(PIN in notice or "000000" in notice for notice in prompter.notices)


def test_fido2_wrong_pin_says_how_many_tries_are_left(key):
    authenticator, credential_id, _ = key
    prompter = ScriptedPrompter(["111111", "222222"])
    device = Fido2Device(
        prompter=prompter, find_devices=lambda: [authenticator.ctap_device()], pin_attempts=2
    )

    with pytest.raises(errors.SecurityKeyPinError, match="6 tries left") as caught:
        device.get_assertion(request_for(credential_id, user_verification="required"))

    assert caught.value.retries_left == 6
    assert "111111" not in str(caught.value) and "222222" not in str(caught.value)


def test_fido2_three_wrong_pins_in_a_row_ask_for_a_replug(key):
    authenticator, credential_id, _ = key
    device = Fido2Device(
        prompter=ScriptedPrompter(["1", "2", "3"]),
        find_devices=lambda: [authenticator.ctap_device()],
    )
    with pytest.raises(errors.SecurityKeyReplugError, match="unplug it, plug it back in"):
        device.get_assertion(request_for(credential_id, user_verification="required"))


def test_fido2_blocked_pin(key):
    authenticator, credential_id, _ = key
    authenticator.pin_retries = 1
    device = Fido2Device(
        prompter=ScriptedPrompter(["1"]), find_devices=lambda: [authenticator.ctap_device()]
    )
    with pytest.raises(errors.SecurityKeyPinLockedError, match="reset of the key"):
        device.get_assertion(request_for(credential_id, user_verification="required"))


def test_fido2_pin_cannot_be_typed_without_prompting(key):
    authenticator, credential_id, _ = key
    device = Fido2Device(
        prompter=NonInteractivePrompter(), find_devices=lambda: [authenticator.ctap_device()]
    )
    with pytest.raises(errors.InputRequiredError, match="a PIN can only be typed interactively"):
        device.get_assertion(request_for(credential_id, user_verification="required"))


@pytest.mark.parametrize("u2f_only", [False, True], ids=["ctap2-no-pin", "u2f"])
def test_fido2_required_verification_on_a_key_that_cannot(u2f_only):
    authenticator = SoftwareAuthenticator(name="Basic Key")  # no PIN set
    credential_id, _ = authenticator.register(RP_ID)
    device = Fido2Device(
        prompter=ScriptedPrompter(),
        find_devices=lambda: [authenticator.ctap_device(u2f_only=u2f_only)],
    )
    with pytest.raises(errors.SecurityKeyUserVerificationError, match=r"\(Basic Key\) cannot do"):
        device.get_assertion(request_for(credential_id, user_verification="required"))


@pytest.mark.parametrize("u2f_only", [False, True], ids=["ctap2", "u2f"])
def test_fido2_untouched_key_times_out(key, u2f_only):
    authenticator, credential_id, _ = key
    prompter = ScriptedPrompter()
    device = Fido2Device(
        prompter=prompter,
        find_devices=lambda: [authenticator.ctap_device(u2f_only=u2f_only, touch=False)],
    )
    with pytest.raises(errors.SecurityKeyTimeoutError, match=r"not touched within 0\.3 s"):
        device.get_assertion(request_for(credential_id, timeout_s=0.3))
    assert prompter.notices == ["Touch your security key"]


def test_answer_challenge_through_fido2_end_to_end(key):
    authenticator, credential_id, public_key = key
    body = challenge_body(os.urandom(16), credential_id, userVerification="required")
    challenge = base64.urlsafe_b64decode(body["publicKey"]["challenge"] + "==")
    device = Fido2Device(
        prompter=ScriptedPrompter([PIN]), find_devices=lambda: [authenticator.ctap_device()]
    )

    posted = answer_challenge(body, device=device, console_url=CONSOLE)

    assert posted["token"] == "jc-token-1"
    assert b64url_encode(credential_id) == posted["publicKeyCredential"]["id"]
    verify_assertion(
        credential_body=posted,
        expected_challenge=challenge,
        expected_origin=CONSOLE,
        rp_id=RP_ID,
        public_keys={credential_id: public_key},
        require_user_verification=True,
    )


def test_importing_webauthn_stays_cheap():
    code = (
        "import sys, jcsaml.webauthn; "
        "print(sorted(m for m in ('fido2', 'cryptography') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_jumpcloud_sign_in_with_a_security_key_through_fido2():
    from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
    from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser

    role = ("arn:aws:iam::012345678987:role/ReadOnly", "arn:aws:iam::012345678987:saml-provider/JC")
    user = FakeUser(email="frank@acme.example", password="pw", apps=["aws"])
    spare, daily = SoftwareAuthenticator(name="Spare"), SoftwareAuthenticator(pin=PIN, name="Daily")
    app = FakeApp(slug="aws", roles=[role])
    with FakeJumpCloud(users=[user], apps=[app], webauthn_user_verification="required") as fake:
        for authenticator in (spare, daily):
            fake.register_webauthn(user.email, *authenticator.register(fake.webauthn_rp_id))
        prompter = ScriptedPrompter([PIN])
        # Only the daily key is plugged in; JumpCloud lists the spare one first.
        device = Fido2Device(prompter=prompter, find_devices=lambda: [daily.ctap_device()])
        signin = JumpCloudAuthenticator(
            app_url=fake.app_url("aws"),
            console_url=fake.url,
            prompter=prompter,
            webauthn_device=device,
        )

        page = signin.authenticate(PasswordCredentials(user.email, "pw", mfa="WEBAUTHN"))

        assert page.saml_response
        assert fake.webauthn_failures == []
    assert prompter.asked == ["Security key PIN"]
    assert "Touch your security key" in prompter.notices
    assert (spare.touched, daily.touched) == (0, 1)
