"""A fake JumpCloud tenant: its users and applications, and the state of their sign-ins.

:class:`FakeUser`, :class:`FakeApp` and :class:`FakeFactor` describe what an administrator set
up; :class:`FakeTenant` holds what signing in changes (xsrf tokens, half-done MFA, console
sessions, pushes, WebAuthn challenges, spent TOTP codes) under one lock, and lets tests act as
the user's phone or authenticator app. :class:`~jcsaml.testing.jumpcloud.FakeJumpCloud` is a
tenant served over HTTP with JumpCloud's protocol.

pyotp is imported only when a TOTP code is made or checked.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

FactorType = Literal["totp", "push", "webauthn", "duo"]
FactorStatus = Literal["available", "unavailable"]
PushStatus = Literal["pending", "accepted", "denied", "expired"]
PushOutcome = Literal["accepted", "denied", "expired"]
SignWhat = Literal["assertion", "response", "both", "none"]
FailureKey = Literal["message", "error"]

# Where the auto-post form sends the browser, per AWS partition.
SIGNIN_URLS = {
    "aws": "https://signin.aws.amazon.com/saml",
    "aws-cn": "https://signin.amazonaws.cn/saml",
    "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
}


@dataclass(frozen=True)
class FakeFactor:
    """One MFA factor as JumpCloud lists it in its "MFA required." answer."""

    type: FactorType
    status: FactorStatus = "available"


@dataclass
class FakeUser:
    """A JumpCloud user of the fake.

    ``totp_secret`` is base32 (``pyotp.random_base32()``); ``factors`` defaults to one available
    ``totp`` factor when a secret is given and to none (no MFA) otherwise; entries may be factor
    names or :class:`FakeFactor` objects. ``apps`` are the slugs of the SAML apps the user is
    bound to.

    ``webauthn_keys`` maps the credential ids of the user's security keys to their EC P-256
    public keys, as PEM bytes (what ``SoftwareAuthenticator.register`` returns) or ``cryptography``
    key objects (see :meth:`FakeJumpCloud.register_webauthn`); while it holds any, an available
    ``webauthn`` factor is listed too unless ``factors`` names ``webauthn`` itself.

    ``auth_failure_key`` picks the key of a wrong password's 401 body for this user
    (``{"message": ...}`` or ``{"error": ...}``, both seen from JumpCloud; None: the fake's
    choice) and ``auth_failure_message`` its text (default: JumpCloud's "Authentication
    failed."). ``device_trust_denied`` makes the right password answer 403, as a conditional
    access policy that admits only trusted devices does at sign-in. ``name_id`` is the Subject
    NameID of the user's assertions (default: ``email``), for tenants that map it elsewhere.
    """

    email: str
    password: str = field(repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    factors: Sequence[FakeFactor | FactorType] = ()
    apps: Sequence[str] = ()
    webauthn_keys: dict[bytes, bytes | EllipticCurvePublicKey] = field(
        default_factory=dict, repr=False
    )
    auth_failure_key: FailureKey | None = None
    auth_failure_message: str | None = None
    device_trust_denied: bool = False
    name_id: str | None = None

    def mfa_factors(self) -> list[FakeFactor]:
        """The factors as the fake reports them, defaults applied."""
        if not self.factors:
            listed = [FakeFactor("totp")] if self.totp_secret else []
        else:
            listed = [f if isinstance(f, FakeFactor) else FakeFactor(f) for f in self.factors]
        if self.webauthn_keys and not any(f.type == "webauthn" for f in listed):
            listed.append(FakeFactor("webauthn"))
        return listed

    def has_factor(self, factor: FactorType) -> bool:
        return any(f.type == factor and f.status == "available" for f in self.mfa_factors())

    @property
    def requires_mfa(self) -> bool:
        return any(f.status == "available" for f in self.mfa_factors())


@dataclass
class FakeApp:
    """A JumpCloud SAML application for AWS, served at ``/saml2/<slug>``.

    ``roles`` are ``(role_arn, principal_arn)`` pairs; the first role's partition picks the AWS
    sign-in URL the page posts to (and the assertion's Destination). ``sign`` says what the IdP
    key signs (``none``: nothing, an unsigned response); ``embed_certificate=False`` leaves the
    certificate out of the signature's KeyInfo. ``conditional_access_denied`` makes the page
    refuse every user, as a JumpCloud conditional-access policy does.

    Not every application is for AWS: ``catalog_name`` is JumpCloud's catalog name listed by
    ``/userconsole/api/applications`` (``aws``, ``github-com`` ...); an application with no
    ``roles`` sends no Role attribute, to ``acs_url`` and ``audience`` when given (e.g. GitHub's);
    ``kind="bookmark"`` is a plain link to ``bookmark_url``, listed but with no SAML page.
    ``listed_sso_url`` replaces the SAML page's address in the application list (a list that
    points somewhere else than the page).
    """

    slug: str
    roles: Sequence[tuple[str, str]]
    session_duration: int | None = 3600
    sign: SignWhat = "assertion"
    embed_certificate: bool = True
    principal_first: bool = False
    conditional_access_denied: bool = False
    display_label: str | None = None
    relay_state: str = ""
    catalog_name: str = "aws"
    kind: Literal["saml", "bookmark"] = "saml"
    acs_url: str | None = None
    audience: str | None = None
    bookmark_url: str = ""
    listed_sso_url: str = ""

    @property
    def signin_url(self) -> str:
        if self.acs_url:
            return self.acs_url
        partition = self.roles[0][0].split(":")[1] if self.roles else "aws"
        return SIGNIN_URLS.get(partition, SIGNIN_URLS["aws"])


@dataclass
class PendingMfa:
    """A client (known by its xsrf token) whose password was right and who still owes MFA."""

    email: str
    redirect_to: str


@dataclass
class ConsoleSession:
    email: str
    expires_at: float


@dataclass
class Push:
    id: str
    email: str
    xsrf: str
    initiated_at: float
    expires_at: float
    status: PushStatus = "pending"
    polls: int = 0
    logged_in: bool = False


@dataclass
class PushScript:
    outcome: PushOutcome
    after_polls: int


@dataclass(frozen=True)
class WebAuthnChallenge:
    """A challenge handed out by ``GET /userconsole/auth/webauthn``, redeemable once by the same
    client (xsrf token) before ``expires_at``."""

    challenge: bytes
    email: str
    xsrf: str
    expires_at: float


class FakeTenant:
    """The users and applications of a tenant, and the state their sign-ins leave.

    ``clock`` (seconds since the epoch) drives TOTP windows, console session expiry
    (``session_lifetime`` seconds) and push expiry (``push_lifetime``).
    """

    def __init__(
        self,
        *,
        users: Sequence[FakeUser],
        apps: Sequence[FakeApp],
        clock: Callable[[], float],
        session_lifetime: float,
        push_lifetime: float,
    ) -> None:
        self._users = {user.email.lower(): user for user in users}
        self._apps = {app.slug: app for app in apps}
        self._clock = clock
        self.session_lifetime = session_lifetime
        self.push_lifetime = push_lifetime
        # One re-entrant lock guards all state; the condition wakes wait_for_push().
        self._state = threading.Condition()
        self._xsrf_tokens: set[str] = set()
        self._pending: dict[str, PendingMfa] = {}
        self._sessions: dict[str, ConsoleSession] = {}
        self._used_totp_steps: set[tuple[str, int]] = set()
        self._pushes: dict[str, Push] = {}
        self._push_scripts: dict[str, PushScript] = {}
        self._webauthn_challenges: dict[str, WebAuthnChallenge] = {}  # by token
        self._webauthn_failures: list[str] = []
        self._webauthn_sign_counts: dict[bytes, int] = {}  # by credential id

    def totp_code(self, email: str, *, steps: int = 0) -> str:
        """The user's TOTP code at the fake's current time, ``steps`` 30-second windows away."""
        from jcsaml.testing import require

        require("pyotp", needed_by="FakeJumpCloud's TOTP")
        import pyotp

        user = self._users[email.lower()]
        if user.totp_secret is None:
            raise ValueError(f"{email} has no TOTP secret")
        totp = pyotp.TOTP(user.totp_secret)
        return totp.generate_otp(self._totp_step(totp) + steps)

    def script_push(self, email: str, outcome: PushOutcome | None, *, after_polls: int = 0) -> None:
        """Answer every later push for ``email`` with ``outcome`` once it has been polled
        ``after_polls`` times while pending (0: the first poll already sees the outcome).
        ``None`` removes the script: pushes then wait for :meth:`push_respond` or expiry."""
        with self._state:
            if outcome is None:
                self._push_scripts.pop(email.lower(), None)
            else:
                self._push_scripts[email.lower()] = PushScript(outcome, after_polls)

    def push_respond(self, email: str, outcome: PushOutcome) -> str:
        """Approve, deny or expire ``email``'s newest pending push, as the phone would.

        Returns the push id; raises LookupError when no push is pending for that user.
        """
        with self._state:
            push = self._newest_pending_push(email)
            if push is None:
                raise LookupError(f"no pending push for {email}")
            push.status = outcome
            self._state.notify_all()
            return push.id

    def wait_for_push(self, email: str, *, timeout: float = 10) -> str:
        """Block until ``email`` has a pending push and return its id (TimeoutError otherwise)."""
        with self._state:
            found = self._state.wait_for(lambda: self._newest_pending_push(email), timeout)
            if found is None:
                raise TimeoutError(f"no push for {email} within {timeout} s")
            return found.id

    def push_status(self, push_id: str) -> PushStatus:
        with self._state:
            return self._pushes[push_id].status

    def register_webauthn(
        self, email: str, credential_id: bytes, public_key: bytes | EllipticCurvePublicKey
    ) -> None:
        """Register a security key for ``email``: its credential id and EC P-256 public key (PEM
        bytes or a key object), as ``SoftwareAuthenticator().register(fake.webauthn_rp_id)``
        returns them. The user is then offered the ``webauthn`` factor."""
        with self._state:
            self._users[email.lower()].webauthn_keys[bytes(credential_id)] = public_key

    @property
    def webauthn_failures(self) -> list[str]:
        """Why each refused WebAuthn sign-in was refused, oldest first (for test diagnostics)."""
        with self._state:
            return list(self._webauthn_failures)

    def expire_sessions(self, email: str | None = None) -> None:
        """End the console sessions of ``email`` (everyone's when None): a server-side logout."""
        with self._state:
            for token, session in list(self._sessions.items()):
                if email is None or session.email == email.lower():
                    del self._sessions[token]

    def live_sessions(self, email: str | None = None) -> int:
        """How many unexpired console sessions ``email`` (anyone when None) holds."""
        now = self._clock()
        with self._state:
            return sum(
                1
                for s in self._sessions.values()
                if s.expires_at > now and (email is None or s.email == email.lower())
            )

    # --- what signing in changes ---

    def _new_xsrf_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._state:
            self._xsrf_tokens.add(token)
        return token

    def _issued_xsrf_token(self, token: str) -> bool:
        with self._state:
            return token in self._xsrf_tokens

    def _open_session(self, email: str, xsrf: str) -> str:
        """A new console session for ``email``, ending the MFA the client (``xsrf``) owed."""
        token = secrets.token_urlsafe(32)
        with self._state:
            self._sessions[token] = ConsoleSession(
                email.lower(), self._clock() + self.session_lifetime
            )
            self._pending.pop(xsrf, None)
        return token

    def _live_session(self, token: str) -> ConsoleSession | None:
        """The unexpired session of ``token`` (an expired one is forgotten)."""
        with self._state:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[token]
                return None
            return session

    def _totp_step(self, totp: Any) -> int:
        return int(self._clock() // totp.interval)

    def _accept_totp(self, user: FakeUser, code: Any) -> bool:
        """Whether ``code`` is the user's TOTP for the current window or a neighbour (as pyotp's
        ``valid_window=1``) and has not been used before: each window's code signs in once."""
        import pyotp

        if not isinstance(code, str) or user.totp_secret is None or not user.has_factor("totp"):
            return False
        totp = pyotp.TOTP(user.totp_secret)
        step = self._totp_step(totp)
        for candidate in (step, step - 1, step + 1):
            if hmac.compare_digest(totp.generate_otp(candidate).encode(), code.encode()):
                key = (user.email.lower(), candidate)
                with self._state:
                    if key in self._used_totp_steps:
                        return False
                    self._used_totp_steps.add(key)
                return True
        return False

    def _newest_pending_push(self, email: str) -> Push | None:
        pushes = [
            p for p in self._pushes.values() if p.email == email.lower() and p.status == "pending"
        ]
        return max(pushes, key=lambda p: p.initiated_at, default=None)
