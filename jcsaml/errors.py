"""Every error jcsaml raises on purpose.

Each class keeps the fields it was raised with (``err.role_arn``, ``err.path`` ...) so callers can
branch on data, and renders them through its ``fmt`` template into one line that says what
happened and what to do. Values that are secrets are never passed in as fields.
"""

from __future__ import annotations

from typing import Any, ClassVar, dataclass_transform

from jcsaml.display import printable


@dataclass_transform(kw_only_default=True, eq_default=False)
class JcsamlError(Exception):
    """Base of every jcsaml error; ``str(err)`` is a complete, user-facing sentence, on one line,
    with control and bidi characters escaped.

    Each subclass declares its fields as annotated class attributes, which the constructor takes
    as keyword arguments and sets on the error, so type checkers know their types and reject a
    misspelled or missing one. A field with a default is one that some subclasses do not use."""

    fmt: ClassVar[str] = "jcsaml failed"
    #: The exit status the ``jcsaml`` command ends with.
    exit_status: ClassVar[int] = 1

    def __init__(self, **fields: Any) -> None:
        _check_fields(type(self), fields)
        self.fields = fields
        for name, value in fields.items():
            setattr(self, name, value)
        # Fields may quote JumpCloud or the assertion: never let their control or bidi
        # characters reach a terminal. The fields themselves keep the raw values.
        super().__init__(printable(self.fmt.format_map(_FieldValues(self))))

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only construction would otherwise break pickling (multiprocessing, pytest-xdist).
        return (_rebuild, (type(self), self.fields))


def _check_fields(cls: type[JcsamlError], given: dict[str, Any]) -> None:
    """Refuse, as a dataclass does, a field the class does not declare or one it needs."""
    has_default: dict[str, bool] = {}
    for klass in reversed(cls.__mro__[: cls.__mro__.index(JcsamlError)]):
        for name in vars(klass).get("__annotations__", {}):
            has_default[name] = name in vars(klass)
    for name in given.keys() - has_default.keys():
        raise TypeError(f"{cls.__name__} has no field {name!r}")
    for name, optional in has_default.items():
        if not optional and name not in given:
            raise TypeError(f"{cls.__name__} needs the field {name!r}")


class _FieldValues:
    """An error's fields for its ``fmt``: those it was given, else its class's defaults."""

    def __init__(self, error: JcsamlError) -> None:
        self.error = error

    def __getitem__(self, name: str) -> Any:
        return getattr(self.error, name)


def _rebuild(cls: type[JcsamlError], fields: dict[str, Any]) -> JcsamlError:
    return cls(**fields)


# --- configuration and user input -------------------------------------------------------------


class ConfigError(JcsamlError, ValueError):
    reason: str = ""
    fmt = "configuration problem: {reason}"


class ConfigFileError(ConfigError):
    """The config file cannot be parsed (``reason`` names the line, never quotes it)."""

    path: str
    reason: str

    fmt = "cannot read config file {path}: {reason}; fix or remove that file"


class ConfigFileReadError(ConfigFileError):
    fmt = (
        "cannot read config file {path}: {reason}; check that it is a file you can read "
        "(ls -l {path})"
    )


class ConfigFileWriteError(ConfigFileError):
    directory: str
    fmt = (
        "cannot write config file {path}: {reason}; make sure you can write to {directory} and "
        "that the disk has free space (the file was left as it was)"
    )


class UnknownAccountError(ConfigError):
    """``known`` lists the file's accounts; ``closest`` is the likeliest typo fix, or ""."""

    account: str
    closest: str
    known: tuple[str, ...]
    listing: str
    path: str
    profiles: tuple[tuple[str, str], ...]
    saml2aws: str
    suggestion: str

    fmt = (
        "no IdP account named {account!r} in {path}{listing}; "
        "{suggestion}create it with: jcsaml configure -a {account} --url URL"
    )

    def __init__(
        self,
        *,
        account: str,
        path: str,
        known: tuple[str, ...] = (),
        profiles: tuple[tuple[str, str], ...] = (),
        saml2aws: str = "",
        **_derived: str,
    ) -> None:
        """``profiles`` pairs each account with the AWS profile it writes (a name typed may be
        a profile's); ``saml2aws`` is a saml2aws config file to import when there is no
        config file."""
        import difflib

        by_profile = {profile: name for name, profile in profiles if profile != name}
        suggestion = ""
        closest = ""
        if account in by_profile:
            closest = by_profile[account]
            suggestion = f"did you mean {closest!r} (it writes AWS profile {account!r})? Otherwise "
        elif close := difflib.get_close_matches(account, known, n=1, cutoff=0.6):
            closest = close[0]
            suggestion = f"did you mean {closest!r}? Otherwise "
        elif close := difflib.get_close_matches(account, list(by_profile), n=1, cutoff=0.6):
            closest = by_profile[close[0]]
            writes = f"it writes AWS profile {close[0]!r}"
            suggestion = f"did you mean {closest!r} ({writes})? Otherwise "
        elif saml2aws and not known:
            suggestion = (
                f"import the accounts of {saml2aws} with: jcsaml configure --import-saml2aws; or "
            )
        JcsamlError.__init__(
            self,
            account=account,
            path=path,
            known=known,
            profiles=profiles,
            saml2aws=saml2aws,
            closest=closest,
            listing=f" (it has: {', '.join(known)})" if known else "",
            suggestion=suggestion,
        )


class InvalidSettingError(ConfigError):
    reason: str
    setting: str
    fmt = "invalid {setting}: {reason}"


class InputRequiredError(JcsamlError, ValueError):
    """A question could not be asked (``--skip-prompt`` or no terminal)."""

    how: str
    what: str

    fmt = "{what} is required and prompting is off; {how}"


class PromptAbortedError(JcsamlError):
    what: str = ""
    fmt = "cancelled at the {what} prompt"


class NothingTypedError(PromptAbortedError):
    what: str
    fmt = (
        "no {what} was typed (three empty answers), so nothing was sent to JumpCloud; "
        "run the command again and type it"
    )


class SecretCommandError(JcsamlError):
    """A ``password_command`` or ``mfa_command`` failed; ``setting`` is the key or variable
    that names it. Its stdout is never quoted."""

    reason: str
    setting: str

    fmt = "{setting} {reason}; fix the command (run it yourself to check) or unset {setting}"


class RecordingFileError(JcsamlError):
    path: str
    reason: str
    fmt = (
        "cannot write the recording {path}: {reason}; give --record a file in a directory you "
        "can write to"
    )


class MfaCodeNotTypedError(PromptAbortedError):
    tries: int
    fmt = (
        "no 6-digit MFA code was typed ({tries} answers of another form), so none was sent to "
        "JumpCloud; run the command again and type the 6 digits your authenticator app shows"
    )


# --- JumpCloud sign-in ------------------------------------------------------------------------


class IdpError(JcsamlError):
    reason: str = ""
    fmt = "JumpCloud sign-in failed: {reason}"


class IdpUnavailableError(IdpError):
    url: str
    fmt = (
        "cannot reach JumpCloud at {url}: {reason}; check the network and try again, or run "
        "jcsaml doctor"
    )


class IdpHostNotFoundError(IdpUnavailableError):
    """``setting`` is the account setting that holds the host: ``url`` or ``console_url``."""

    host: str
    setting: str

    fmt = (
        "cannot resolve the host name {host} (from the account's {setting} setting); "
        "check {setting} and your DNS or VPN (jcsaml doctor tests both)"
    )


class ConsoleUrlNotFoundError(IdpError):
    console_url: str
    url: str
    fmt = (
        "the JumpCloud console URL {console_url} answered HTTP 404 for {url}; "
        "check the account's console_url setting (https://console.jumpcloud.com unless your "
        "JumpCloud organization is hosted in another region)"
    )


class IdpServerError(IdpError):
    status: int
    url: str
    fmt = (
        "JumpCloud answered HTTP {status} for {url}; "
        "it may be having trouble, try again in a few minutes"
    )


class SessionKeptError(IdpError):
    """JumpCloud failed (429, 5xx after the retries) while the saved console session was being
    reused: the session is not known to have ended, so it is kept and the next try reuses it."""

    path: str
    status: int

    fmt = "JumpCloud is unavailable (HTTP {status} at {path}); the saved session is kept; try again"


class IdpRateLimitedError(IdpError):
    url: str
    fmt = (
        "JumpCloud is limiting the rate of requests (HTTP 429 for {url}); "
        "wait a minute and try again"
    )


class IdpProtocolError(IdpError):
    url: str = ""
    fmt = (
        "unexpected answer from JumpCloud at {url}: {reason}; "
        "JumpCloud's sign-in flow may have changed, run with --debug and report it"
    )


class JumpCloudChangedError(IdpProtocolError):
    """An answer without the shape its step expects. ``got`` describes it by status, content
    type, top-level JSON keys or page title: never by values."""

    expected: str
    got: str
    step: str

    fmt = (
        "unexpected answer from JumpCloud at {step}: expected {expected}, got {got}; JumpCloud "
        "may have changed its sign-in; run the same command with `--record FILE` and attach "
        "FILE to a bug report"
    )


class IdpAnswerTooLargeError(IdpError):
    limit: str
    url: str
    fmt = (
        "JumpCloud's answer from {url} is larger than {limit} once decompressed; jcsaml stopped "
        "reading it. Something other than JumpCloud (a proxy, a captive portal) may be answering: "
        "check url and console_url, or run with --debug and report it"
    )


class UnsafeRedirectError(IdpError):
    target: str
    url: str
    fmt = (
        "{url} redirected to {target}, which is not an https URL on the configured JumpCloud "
        "hosts; jcsaml did not follow it (the session cookie and the SAML response stay with "
        "JumpCloud). Check the account's url and console_url"
    )


class AuthenticationFailedError(IdpError):
    message: str
    fmt = "JumpCloud rejected the sign-in: {message}; check the username and password"


class SavedPasswordRejectedError(AuthenticationFailedError):
    username: str
    fmt = (
        "JumpCloud rejected the password saved in the OS keyring for {username}: {message}; "
        "forget it with: jcsaml logout -a NAME --forget-password, then sign in again"
    )


class MfaError(IdpError):
    message: str = ""
    fmt = "multi-factor authentication failed: {message}"


class MfaCodeRejectedError(MfaError):
    message: str
    fmt = (
        "JumpCloud rejected the TOTP MFA code: {message}; no tries are left for this sign-in: "
        "wait for a new code and try again"
    )


class MfaFactorUnavailableError(MfaError):
    available: str
    factor: str
    fmt = (
        "the MFA factor {factor} is not available for this user (available: {available}); "
        "set another with: jcsaml configure -a NAME --mfa FACTOR"
    )


class MfaNotSupportedError(MfaError):
    factor: str
    hint: str
    fmt = "the MFA factor {factor} is not supported yet{hint}"


class WebAuthnError(MfaError):
    """Signing JumpCloud's WebAuthn challenge with a security key failed."""

    fmt = "security key sign-in failed: {reason}"


class WebAuthnRpIdError(WebAuthnError):
    origin: str
    rp_id: str
    fmt = (
        "JumpCloud asked for a security-key signature for {rp_id!r}, which a page at {origin} "
        "may not request; check the account's console_url"
    )


class NoRegisteredSecurityKeyError(WebAuthnError):
    fmt = (
        "JumpCloud lists no security key for this user; register one in the JumpCloud user "
        "console, or choose another factor with: jcsaml configure -a NAME --mfa FACTOR"
    )


class NoSecurityKeyError(WebAuthnError):
    fmt = (
        "no security key found; plug it in and try again (on Linux your user also needs access "
        "to /dev/hidraw*: see the udev note in jcsaml help mfa-webauthn)"
    )


class SecurityKeyAccessError(WebAuthnError):
    reason: str
    fmt = (
        "cannot open the security key ({reason}); on Linux your user needs read and write "
        "access to /dev/hidraw*: see the udev note in jcsaml help mfa-webauthn"
    )


class SecurityKeyNotRegisteredError(WebAuthnError):
    count: int
    keys: str
    rp_id: str
    fmt = (
        "the plugged-in security key(s) ({keys}) hold none of the {count} credential(s) "
        "JumpCloud accepts for {rp_id}; plug in a key registered with your JumpCloud account"
    )


class SecurityKeyTimeoutError(WebAuthnError):
    timeout: float
    fmt = (
        "the security key was not touched within {timeout:g} s; run the login again and touch "
        "the key when it blinks"
    )


class SecurityKeyUserVerificationError(WebAuthnError):
    key: str
    fmt = (
        "JumpCloud requires user verification, which the security key ({key}) cannot do (a "
        "U2F-only key, or no PIN set); set a PIN with the key maker's tool (for a YubiKey: "
        "ykman fido access change-pin) or use a FIDO2 key"
    )


class SecurityKeyPinError(WebAuthnError):
    """``retries_left`` is None when the key did not say; ``retries`` is the same, in words."""

    retries: str
    retries_left: int | None

    fmt = (
        "the security key rejected the PIN ({retries}); type the key's own PIN, not the "
        "JumpCloud password"
    )


class SecurityKeyPinLockedError(WebAuthnError):
    fmt = (
        "the security key's PIN is blocked after too many wrong tries; only a reset of the key, "
        "which erases every credential on it, unblocks it: use another key or MFA factor"
    )


class WebAuthnRejectedError(WebAuthnError):
    """JumpCloud refused the signed assertion; ``message`` is JumpCloud's own."""

    message: str

    fmt = (
        "JumpCloud did not accept the security key's signature: {message}; check the account's "
        "console_url and that the key is registered to this JumpCloud user"
    )


class SecurityKeyReplugError(WebAuthnError):
    fmt = (
        "the security key refuses PINs after three wrong ones in a row; unplug it, plug it "
        "back in and try again"
    )


class PushDeniedError(MfaError):
    fmt = "the sign-in request was denied in JumpCloud Protect; run the login again to retry"


class PushExpiredError(MfaError):
    fmt = (
        "the sign-in request in JumpCloud Protect expired before it was approved; "
        "run the login again and approve it on your phone"
    )


class PushTimeoutError(MfaError):
    seconds: float
    fmt = (
        "gave up waiting for approval in JumpCloud Protect after {seconds} s; "
        "run the login again (the account's push_timeout sets how long to wait)"
    )


class ConditionalAccessError(IdpError):
    message: str
    fmt = (
        "JumpCloud refused access ({message}); a JumpCloud conditional-access policy may require "
        "a trusted device or network, or the user is not bound to the application: "
        "ask the JumpCloud administrator (if no policy applies, run the same command with "
        "`--record FILE` and attach FILE to a bug report)"
    )


class NoSamlResponseError(IdpError):
    url: str
    fmt = (
        "JumpCloud's page at {url} holds no SAML response; a JumpCloud conditional-access "
        "policy may have refused this device, or the user is not bound to that application: "
        "ask the JumpCloud administrator"
    )


# --- SAML -------------------------------------------------------------------------------------


class SamlError(JcsamlError, ValueError):
    reason: str = ""
    fmt = "invalid SAML response: {reason}"


class SamlDecodeError(SamlError):
    fmt = "the SAML response cannot be decoded: {reason}"


class SamlForbiddenXmlError(SamlError):
    reason: str
    fmt = "the SAML response was refused: {reason} (DTDs and entities are never accepted)"


class SamlContentError(SamlError):
    fmt = "the SAML response is not usable for AWS: {reason}"


class SamlTooLargeError(SamlDecodeError):
    limit: int
    size: int
    fmt = (
        "the SAML response is {size} bytes, more than the {limit} bytes jcsaml accepts; "
        "it was refused unread"
    )


class SamlBase64Error(SamlDecodeError):
    reason: str
    fmt = "the SAML response is not valid base64 ({reason}); it was damaged on the way"


class SamlEmptyError(SamlDecodeError):
    fmt = "the SAML response is empty; JumpCloud sent no assertion, sign in again"


class SamlNotXmlError(SamlDecodeError):
    reason: str
    fmt = "the SAML response is not well-formed XML ({reason}); it was damaged on the way"


class SamlNotAResponseError(SamlContentError):
    element: str
    fmt = (
        "the SAML document is a {element}, not a SAML 2.0 samlp:Response; "
        "check that the account's url is the JumpCloud AWS application"
    )


class SamlStatusError(SamlContentError):
    status: str
    fmt = (
        "JumpCloud answered with SAML status {status} instead of Success; "
        "ask the JumpCloud administrator to check the AWS application"
    )


class SamlNoAssertionError(SamlContentError):
    fmt = (
        "the SAML response holds no assertion; "
        "ask the JumpCloud administrator to check the AWS application"
    )


class SamlMultipleAssertionsError(SamlContentError):
    count: int
    fmt = (
        "the SAML response holds {count} assertions where exactly one, directly inside the "
        "Response, is allowed; refused, since extra assertions are how forged content is "
        "slipped past a signature"
    )


class SamlEncryptedAssertionError(SamlContentError):
    fmt = (
        "the SAML assertion is encrypted and cannot be read; turn off assertion encryption "
        "for the AWS application in the JumpCloud admin console"
    )


class SamlNoRolesError(SamlContentError):
    fmt = (
        "the SAML assertion offers no AWS role: the JumpCloud AWS application sends no Role "
        "attribute (https://aws.amazon.com/SAML/Attributes/Role) for this user; ask the "
        "JumpCloud administrator to add one"
    )


class SamlRoleValueError(SamlContentError):
    count: int
    value: str
    fmt = (
        "{count} value(s) of the AWS Role attribute are not a 'role ARN,SAML provider ARN' pair "
        "(first: {value!r}); fix the Role attribute of the JumpCloud AWS application"
    )


class SamlTooManyRolesError(SamlContentError):
    count: int
    limit: int
    fmt = (
        "the SAML assertion's AWS Role attribute has {count} values, more than the {limit} "
        "jcsaml accepts; ask the JumpCloud administrator to bind fewer roles to this user"
    )


class SamlSessionDurationError(SamlContentError):
    value: str
    fmt = (
        "the SessionDuration attribute {value!r} is not a whole number of seconds from 900 to "
        "43200; fix it in the JumpCloud AWS application"
    )


class SamlTimestampError(SamlContentError):
    attribute: str
    value: str
    fmt = "the SAML assertion's {attribute} {value!r} is not a valid date and time"


class SamlAudienceError(SamlError):
    audience: str
    fmt = (
        "the SAML assertion is meant for {audience}, not AWS; set the JumpCloud AWS "
        "application's SP Entity ID (audience) to urn:amazon:webservices"
    )


class SamlNotYetValidError(SamlError):
    not_before: str
    now: str
    fmt = (
        "the SAML assertion is not valid before {not_before}, but this computer's clock says "
        "{now}; check the computer's clock and time zone"
    )


class SamlExpiredError(SamlError):
    not_on_or_after: str
    now: str
    fmt = (
        "the SAML assertion expired at {not_on_or_after} (this computer's clock says {now}); "
        "sign in again, and if this repeats check the computer's clock"
    )


class SamlDestinationError(SamlError):
    destination: str
    expected: str
    partition: str
    fmt = (
        "the SAML response is addressed to {destination}, but its roles are in the AWS "
        "partition {partition}; set the JumpCloud AWS application's ACS URL to {expected}"
    )


class SamlNameIdError(SamlError):
    name_id: str
    username: str
    fmt = (
        "the SAML assertion was issued to {name_id}, not to {username} who signed in, so it "
        "was refused; if JumpCloud names this user {name_id} on purpose, accept it with: "
        "jcsaml configure -a NAME --saml-nameid {name_id}"
    )


class SamlSignatureError(SamlError):
    fmt = "the SAML response's signature cannot be trusted: {reason}"


class SamlSignatureMissingError(SamlSignatureError):
    fmt = (
        "the SAML response is not signed, but this account trusts only responses signed by "
        "JumpCloud's IdP certificate (idp_cert or idp_cert_sha256); make sure the JumpCloud AWS "
        "application signs the assertion or the response"
    )


class SamlUnsignedError(SamlSignatureError):
    """An unsigned response, on any sign-in (the first one included): nothing in it can be
    checked, so nothing in it is trusted."""

    account: str

    fmt = (
        "the SAML response for account {account!r} is not signed (or its signature carries no "
        "certificate), so jcsaml cannot check that it comes from JumpCloud and refused it; "
        "have the JumpCloud AWS application sign the assertion or the response (see: jcsaml "
        "help saml-verification), or, for an IdP that cannot sign, set allow_unsigned = true "
        "in the account's section"
    )


class SamlCertificateChangedError(SamlSignatureError):
    """Like SSH's "remote host identification has changed": the pinned certificate is not the
    one that signed. ``pinned`` and ``signer`` are SHA-256 fingerprints."""

    pinned: str
    signer: str

    fmt = (
        "JUMPCLOUD'S SIGNING CERTIFICATE HAS CHANGED: the SAML response is signed by a "
        "certificate with SHA-256 {signer}, but this account trusts only SHA-256 {pinned}; "
        "someone may be forging sign-ins (an attack), or JumpCloud's IdP certificate was renewed. "
        "Compare with the IdP certificate of the AWS application in the JumpCloud admin console; "
        "only if it is the new one, accept it with: jcsaml login -a NAME --trust-new-cert "
        "(or: jcsaml configure -a NAME --idp-cert NEW.pem)"
    )


class SamlNoCertificateError(SamlSignatureError):
    pinned: str
    fmt = (
        "the SAML response's signature carries no certificate, so it cannot be checked against "
        "the trusted IdP certificate (SHA-256 {pinned}); download JumpCloud's IdP certificate "
        "and run: jcsaml configure -a NAME --idp-cert PATH"
    )


class SamlSignatureInvalidError(SamlSignatureError):
    reason: str
    fmt = (
        "the SAML response's signature is invalid ({reason}); the response was altered or "
        "damaged after JumpCloud signed it, so it was refused"
    )


class SamlSignatureWrappingError(SamlSignatureError):
    reason: str
    fmt = (
        "the SAML response was refused: {reason}; its signature does not cover exactly the "
        "assertion AWS would use"
    )


class SamlWrongCertificateError(SamlSignatureError):
    configured: str
    signer: str
    fmt = (
        "the SAML response was signed by a certificate (SHA-256 {signer}) other than the "
        "configured IdP certificate (SHA-256 {configured}); if JumpCloud's certificate was "
        "renewed, download the new one and run: jcsaml configure -a NAME --idp-cert PATH"
    )


class SamlWeakAlgorithmError(SamlSignatureError):
    algorithm: str
    fmt = (
        "the SAML response is signed with {algorithm}, which is too weak to trust; have the "
        "JumpCloud AWS application sign with SHA-256, or accept SHA-1 for this account with "
        "allow_sha1 = true"
    )


class IdpCertificateError(SamlError):
    fmt = (
        "cannot use the IdP certificate: {reason}; give jcsaml configure -a NAME --idp-cert "
        "the PEM certificate or the metadata XML exported from the JumpCloud AWS application"
    )


class IdpCertificateChangedError(IdpCertificateError):
    configured: str
    found: str
    path: str
    fmt = (
        "the IdP certificate file {path} has changed since it was configured (SHA-256 "
        "{configured} then, {found} now), so it is not trusted; if JumpCloud's certificate was "
        "renewed and that file is the new one, run: jcsaml configure -a NAME --idp-cert {path}"
    )


class IdpCertificateWritableError(IdpCertificateError):
    path: str
    who: str
    fmt = (
        "the IdP certificate file {path} can be changed by other users ({who}-writable), so "
        "it is not trusted; run: chmod go-w {path}"
    )


class TrustNewCertificateError(IdpCertificateError):
    path: str
    fmt = (
        "--trust-new-cert only replaces a certificate pinned on first use, but this account "
        "verifies with the file {path} (idp_cert); if JumpCloud's certificate was renewed, run: "
        "jcsaml configure -a NAME --idp-cert NEW.pem"
    )


class IdpCertificateExpiredError(IdpCertificateError):
    expired_on: str
    fmt = (
        "JumpCloud's IdP certificate expired on {expired_on}; download the new one from the "
        "JumpCloud admin console (SSO, the AWS application, IdP Certificate) and run: "
        "jcsaml configure -a NAME --idp-cert PATH"
    )


class IdpCertificateNotYetValidError(IdpCertificateError):
    valid_from: str
    fmt = (
        "the configured IdP certificate is not valid before {valid_from}; check the "
        "computer's clock, or configure the certificate JumpCloud signs with now"
    )


# --- roles and STS ----------------------------------------------------------------------------


class AmbiguousRoleError(JcsamlError, LookupError):
    matches: str
    role: str
    fmt = (
        "the role name {role!r} matches several roles ({matches}); pass role=... with the full ARN"
    )


class UnknownRoleError(JcsamlError, LookupError):
    available: str
    role: str
    fmt = "role {role!r} is not offered by JumpCloud; available roles: {available}"


class NoRoleMatchedError(JcsamlError, LookupError):
    account: str
    available: str
    patterns: str
    fmt = (
        "no role JumpCloud offers for account {account!r} matches {patterns}; available roles: "
        "{available}"
    )


class ProfileCollisionError(JcsamlError, ValueError):
    collisions: str
    fmt = (
        "several roles would be written to the same profile ({collisions}); nothing was "
        "written: name profiles apart with --profile-template or profile_template (e.g. "
        "{{idp_account}}-{{role}}), account_aliases, an aws_profile per account, or --role"
    )


class SomeRolesFailedError(JcsamlError):
    failed: int
    total: int
    written: int
    fmt = (
        "{failed} of {total} role(s) failed (the summary gives each reason); {written} "
        "profile(s) written"
    )


class NoAwsApplicationsError(JcsamlError, LookupError):
    checked: int
    fmt = (
        "none of the {checked} application(s) JumpCloud lists for this user is an AWS SAML "
        "application offering roles; ask the JumpCloud administrator to bind you to the AWS "
        "applications"
    )


class StsError(JcsamlError):
    code: str
    endpoint: str = ""
    hint: str
    message: str
    override: str = ""
    role_arn: str
    fmt = "AWS STS refused AssumeRoleWithSAML for {role_arn}: {code}: {message}{hint}"


class StsClockError(StsError):
    not_before: str
    not_on_or_after: str
    now: str
    fmt = (
        "AWS STS refused the SAML assertion for {role_arn} as outside its validity "
        "({code}: {message}); the assertion is valid from {not_before} to {not_on_or_after}, "
        "and this computer's clock says {now}: if that is off, set the clock right"
    )


class StsTimeoutError(StsError):
    endpoint: str
    override: str
    seconds: float
    fmt = (
        "AWS STS at {endpoint} gave no complete answer within {seconds:g} s; check the network "
        "and the proxy settings, or raise sts_timeout in the account{override}"
    )


class StsBadAnswerError(StsError):
    endpoint: str
    override: str
    status: int | str
    fmt = (
        "STS at {endpoint} answered something that is not an STS response (HTTP {status}); "
        "a proxy, captive portal or wrong endpoint may be answering instead{override}"
    )


class StsGarbledAnswerError(StsError):
    """What came back is not an HTTP answer at all, or stops before its announced end."""

    endpoint: str
    override: str
    what: str

    fmt = (
        "STS at {endpoint} answered something that is not an STS response ({what}); a proxy, "
        "captive portal or wrong endpoint may be answering instead{override}"
    )


class StsUnavailableError(StsError):
    endpoint: str
    override: str
    reason: str
    fmt = (
        "cannot reach AWS STS at {endpoint}: {reason}; check the network and the proxy settings "
        "(HTTPS_PROXY, AWS_CA_BUNDLE), or run jcsaml doctor{override}"
    )


# --- credentials and commands -----------------------------------------------------------------


class ConsoleSigninError(JcsamlError):
    endpoint: str
    status: int | str
    fmt = (
        "the AWS federation endpoint {endpoint} refused the sign-in token request (HTTP "
        "{status}); sign in again with --force, and check federation_url or "
        "JCSAML_FEDERATION_URL if set"
    )


class ConsoleUnavailableError(JcsamlError):
    endpoint: str
    reason: str
    fmt = (
        "cannot reach the AWS federation endpoint {endpoint}: {reason}; check the network and "
        "the proxy settings (HTTPS_PROXY, REQUESTS_CA_BUNDLE)"
    )


class BrowserNotFoundError(JcsamlError):
    fmt = "no web browser could be opened; run again with --link to print the URL instead"


class Saml2awsFileError(ConfigError):
    path: str
    reason: str
    fmt = "cannot read the saml2aws config file {path}: {reason}; check the path"


class NothingToImportError(ConfigError):
    path: str
    fmt = (
        "{path} holds no JumpCloud account to import (saml2aws sections with provider = JumpCloud)"
    )


class AccountExistsError(ConfigError):
    accounts: str
    path: str
    fmt = (
        "{path} already has the IdP account(s) {accounts}; nothing was imported: run again with "
        "--force to replace them"
    )


class CredentialsFileError(JcsamlError, ValueError):
    path: str
    reason: str
    fmt = "cannot use credentials file {path}: {reason}; fix the file by hand, jcsaml left it as is"


class StaticCredentialsProfileError(CredentialsFileError):
    """The profile holds long-lived access keys; jcsaml never overwrites them."""

    profile: str

    fmt = (
        "profile {profile!r} in {path} holds long-lived access keys, which jcsaml never "
        "overwrites; choose another profile with --profile (or aws_profile in the config)"
    )


class CredentialsFileReadError(CredentialsFileError):
    fmt = (
        "cannot read credentials file {path}: {reason}; check that it is a file you can read "
        "(ls -l {path})"
    )


class CredentialsFileWriteError(CredentialsFileError):
    directory: str
    fmt = (
        "cannot write credentials file {path}: {reason}; make sure you can write to "
        "{directory} and that the disk has free space (the file was left as it was)"
    )


class FileLockedError(JcsamlError, TimeoutError):
    lock_path: str
    path: str
    timeout: float
    fmt = (
        "timed out after {timeout:g} s waiting for the lock {lock_path}: another process "
        "(probably another jcsaml) is updating {path}; try again when it has finished"
    )


class FileBusyError(FileLockedError):
    """Raised at once, before signing in, instead of waiting: nothing was sent yet."""

    fmt = (
        "another process (probably another jcsaml) is updating {path} right now (it holds the "
        "lock {lock_path}); try again when it has finished"
    )


class LockFileError(JcsamlError, OSError):
    lock_dir: str
    lock_path: str
    path: str
    reason: str
    fmt = (
        "cannot use the lock file {lock_path} that guards {path}: {reason}; make sure "
        "{lock_dir} is a directory you own and can write"
    )


class UnsafeFileError(JcsamlError, PermissionError):
    """A file jcsaml would read secrets from or write them to is not the user's alone."""

    path: str
    reason: str = ""

    fmt = "refusing to use {path}: {reason}"


class WritableByOthersError(UnsafeFileError):
    culprit: str
    kind: str
    mode: str
    fmt = (
        "refusing to use {path}: the {kind} {culprit} can be written by other users "
        "(mode {mode}); make it yours alone with: chmod go-w {culprit}"
    )


class DanglingLinkError(UnsafeFileError):
    target: str
    fmt = (
        "{path} is a symbolic link to {target}, which does not exist; jcsaml never creates a "
        "link's target or its directories: create {target} yourself, or replace the link with "
        "a regular file"
    )


class LinkTargetError(UnsafeFileError):
    reason: str
    target: str
    fmt = (
        "{path} is a symbolic link to {target}, which {reason}; point the link at a regular "
        "file of your own, or replace the link with a regular file"
    )


class CommandNotFoundError(JcsamlError, FileNotFoundError):
    command: str
    fmt = "command not found: {command}; check its name and PATH"
    exit_status = 127  # as a shell says it


class CommandNotExecutableError(JcsamlError, PermissionError):
    command: str
    reason: str
    fmt = "cannot run {command}: {reason}"
    exit_status = 126


class NestedExecError(JcsamlError):
    account: str
    variable: str
    fmt = (
        "already running inside jcsaml exec for account {account!r}; run the command directly, "
        "or unset {variable}"
    )


# --- the AWS config file and the credential_process cache ---------------------------------------


class AwsConfigFileError(JcsamlError, ValueError):
    path: str
    reason: str
    fmt = "cannot use AWS config file {path}: {reason}; fix the file by hand, jcsaml left it as is"


class ExecProfileError(ConfigError):
    path: str
    profile: str
    section: str
    fmt = (
        "profile {profile!r} in {path} has no role_arn, so --exec-profile cannot use it; "
        "add role_arn = arn:aws:iam::ACCOUNT:role/NAME to [{section}] or choose another profile"
    )


class AssumeRoleError(StsError):
    profile: str
    source_role: str
    fmt = (
        "AWS STS refused AssumeRole for {role_arn} (profile {profile!r}): {code}: {message}; "
        "check that the role's trust policy lets {source_role} assume it"
    )


class CredentialProcessInputError(JcsamlError):
    """credential-process must sign in, has no terminal, and lacks an answer."""

    account: str
    how: str
    what: str

    fmt = (
        "credential-process must sign in to JumpCloud for account {account!r} but has no terminal "
        "to ask for the {what}; run jcsaml credential-process -a {account} once in a terminal "
        "(the JumpCloud session it saves is then reused), or {how}"
    )


class CacheFileError(JcsamlError):
    path: str
    reason: str
    fmt = "cannot write the credential cache {path}: {reason}; check that directory's permissions"


class UnsafeDirectoryError(JcsamlError):
    """A directory jcsaml keeps credentials or locks in could be changed by another user: it, or
    a directory above it (up to the home directory, or ``/``), belongs to someone else or is
    writable by others (and is not a sticky directory of root's, like ``/tmp``)."""

    directory: str
    purpose: str
    reason: str

    fmt = "refusing to use {directory} ({purpose}): {reason}"


class SignInLockError(JcsamlError):
    lock_dir: str
    lock_path: str
    reason: str
    fmt = (
        "cannot use the sign-in lock {lock_path}: {reason}; make sure {lock_dir} is a directory "
        "you own and can write"
    )


# --- administrator setup (jcsaml setup) -------------------------------------------------------


class OpensslConfigFileError(ConfigError):
    path: str
    reason: str
    fmt = (
        "cannot use {path} as a certificate config: {reason}; see jcsaml help admin for a "
        "complete example"
    )


class OpensslConfigError(ConfigError):
    """One line of the openssl-style config; ``line`` is its number, ``text`` the line itself."""

    line: int
    path: str
    reason: str
    text: str

    fmt = "{path} line {line}: {reason} (the line reads {text!r}); fix or remove that line"


class OutputExistsError(JcsamlError, FileExistsError):
    path: str
    fmt = (
        "{path} already exists, so nothing was written; pass --force to replace it (IAM then "
        "needs the new certificate: run jcsaml setup aws again)"
    )


class OutputWriteError(JcsamlError, OSError):
    path: str
    reason: str
    fmt = "cannot write {path}: {reason}; nothing was replaced, check the directory"


class IdpMetadataError(JcsamlError, ValueError):
    path: str
    reason: str
    what: str
    fmt = (
        "cannot use {path} as the IdP {what}: {reason}; give the PEM certificate jcsaml setup "
        "cert wrote (--idp-cert) or the IdP metadata XML exported from the JumpCloud AWS "
        "application (--metadata)"
    )


class AwsSessionError(JcsamlError):
    reason: str
    fmt = (
        "cannot use AWS credentials: {reason}; run with --profile NAME naming an IAM "
        "administrator's profile (or set AWS_PROFILE)"
    )


class IamError(JcsamlError):
    """AWS refused an administrative call; ``operation`` is e.g. ``iam:CreateRole``."""

    code: str
    hint: str
    message: str
    operation: str

    fmt = "AWS refused {operation}: {code}: {message}{hint}"


class IamUnavailableError(IamError):
    endpoint: str
    override: str
    reason: str
    fmt = (
        "cannot reach AWS for {operation} at {endpoint}: {reason}; check the network and the "
        "proxy settings (HTTPS_PROXY, AWS_CA_BUNDLE){override}"
    )


class ManagedPolicyNotFoundError(IamError):
    partition: str
    policy_arn: str
    fmt = (
        "the managed policy {policy_arn} does not exist; check its name or ARN (shortcuts: "
        "readonly, admin, billing, ec2; AWS managed policy names such as PowerUserAccess; or a "
        "full policy ARN in partition {partition})"
    )


class SetupCheckFailedError(JcsamlError):
    count: int
    fmt = (
        "{count} problem(s) would make AssumeRoleWithSAML fail: see the FAIL lines above; "
        "jcsaml setup aws fixes the provider and the roles it manages"
    )


# --- credentials kept valid (exec --server, the library session) ------------------------------


class SignInRequiredError(JcsamlError):
    """New credentials need a sign-in by the person (the saved JumpCloud session has ended, or
    there is none) and nobody can be asked."""

    account: str

    fmt = (
        "the JumpCloud session for account {account!r} has ended and nobody can be asked to "
        "sign in here; run: jcsaml login -a {account}"
    )


class RenewalPendingError(JcsamlError):
    """The held credentials have expired and a renewal is under way."""

    account: str

    fmt = "jcsaml is renewing the credentials for account {account!r}; try again in a moment"


class SignInPendingError(JcsamlError):
    """New credentials wait for the person to answer jcsaml's questions on its terminal."""

    account: str

    fmt = (
        "new credentials for account {account!r} need a JumpCloud sign-in: answer jcsaml's "
        "questions on its terminal"
    )
