"""A local credentials endpoint in the AWS container credentials format.

The AWS SDKs and the AWS CLI read ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and send
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` as the ``Authorization`` header; the answer is
``{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}``. They ask again when fewer than 15
minutes remain, so :class:`CredentialServer` renews the credentials ahead of that, in a background
thread, through a :class:`~jcsaml.credential_source.CredentialSource`.

A request never waits for a person (the SDKs give up after 2 seconds): when a sign-in needs one,
the source's prompter is asked in a thread of its own while the held credentials are handed out
as long as they are valid. Without a prompter the error is answered, and ``report`` hears of it
once.

The server listens on 127.0.0.1 only, answers only requests carrying the exact token (others get
a JSON 403) and never logs a request. Standard library only.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import urlsplit

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.errors import (
    JcsamlError,
    PromptAbortedError,
    RenewalPendingError,
    SignInPendingError,
    SignInRequiredError,
)
from jcsaml.loopback import LOOPBACK, LoopbackHandler, LoopbackServer

__all__ = ["LOOPBACK", "RENEW_AHEAD", "CredentialServer", "new_token"]

log = logging.getLogger(__name__)

#: The background renewal starts this long before the SDKs' window opens, so an SDK that asks
#: finds new credentials waiting instead of waiting for a sign-in.
RENEW_AHEAD = 5 * 60
#: After a failed background renewal, wait this long before the next attempt.
RETRY_AFTER = 60.0
#: The waits between failed renewals: JumpCloud back after a short outage is noticed soon,
#: and a long one is not hammered (the last delay repeats).
RETRY_DELAYS = (5.0, 10.0, 20.0, 40.0, RETRY_AFTER)
#: The background thread looks at the clock at least this often.
LONGEST_SLEEP = 300.0
#: A request that finds nothing valid waits this long for a renewal attempt to end.
EXPIRED_WAIT = 1.5
#: Connections waiting to be accepted (the SDKs of a parallel build ask all at once).
BACKLOG = 128
#: Connections served at once; more are closed at once rather than queued behind slow ones.
MAX_CONNECTIONS = 128
#: A client gets this long to send its request: a slow or idle one does not hold a slot.
CLIENT_SECONDS = 5.0


class Source(Protocol):
    """What the server needs of a CredentialSource."""

    margin: float

    @property
    def prompter(self) -> Any: ...

    @property
    def held(self) -> AwsCredentials | None: ...

    def get(
        self, *, margin: float | None = None, ask: bool = True, wait_for_person: bool = True
    ) -> AwsCredentials: ...

    def renew_at(self, margin: float | None = None) -> datetime | None: ...


def new_token() -> str:
    """A random token for ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` (URL-safe: no CR or LF)."""
    return secrets.token_urlsafe(32)


def container_answer(credentials: AwsCredentials) -> dict[str, str]:
    return {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "Token": credentials.session_token,
        "Expiration": credentials.expiration_rfc3339(),
    }


DENIED = {"Code": "AccessDenied", "Message": "missing or wrong token"}


def _error_body(error: JcsamlError) -> dict[str, str]:
    return {"Code": type(error).__name__, "Message": f"jcsaml: {error}"}


class _Handler(LoopbackHandler["CredentialServer"]):
    server_version = "jcsaml"
    sys_version = ""
    timeout = CLIENT_SECONDS  # a client that sends nothing gives its slot back

    def do_GET(self) -> None:
        if not self._has_token():
            self._send(403, DENIED)
            return
        if urlsplit(self.path).path != "/":
            self._send(404, {"Code": "NotFound", "Message": "credentials are served at /"})
            return
        self._send(*self.owner.answer())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server answers what it does not handle (any method but GET, a malformed request)
        # with an HTML page: here every answer is JSON, and one without the token is a 403.
        if not self._has_token():
            self._send(403, DENIED)
        elif code == HTTPStatus.NOT_IMPLEMENTED:
            self._send(405, {"Code": "MethodNotAllowed", "Message": "only GET is served"})
        else:
            self._send(code, {"Code": "BadRequest", "Message": message or HTTPStatus(code).phrase})

    def _has_token(self) -> bool:
        headers = getattr(self, "headers", None)  # absent when the request line was malformed
        return headers is not None and self.owner.authorized(headers.get("Authorization"))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            headers.append(("Allow", "GET"))
        self.send_answer(status, headers, json.dumps(body).encode())


class CredentialServer(LoopbackServer):
    """Serves ``source``'s credentials on ``http://127.0.0.1:<free port>/``.

    ``report`` is called once when handing out credentials starts failing (with the error; again
    only after a success). ``clock`` tells the renewal when the held credentials are due (tests
    pass a fake clock); ``renew_ahead`` is how long before their end it renews them, and
    ``retry_delays`` the waits between failed renewals.
    """

    handler = _Handler
    thread_name = "jcsaml-credentials-endpoint"
    url_path = "/"
    backlog = BACKLOG
    max_connections = MAX_CONNECTIONS
    # A renewal that is signing in finishes on its own (a daemon thread, not waited for).
    join_timeout = 1.0
    poll_interval = 0.1

    def __init__(
        self,
        source: Source,
        *,
        token: str | None = None,
        report: Callable[[JcsamlError], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        renew_ahead: float = RENEW_AHEAD,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        super().__init__()
        self.source = source
        self.token = token or new_token()
        if "\r" in self.token or "\n" in self.token:
            raise ValueError("the token must not contain CR or LF")
        self._report = report
        self._clock = clock
        self._renew_ahead = renew_ahead
        self._retry_delays = tuple(retry_delays) or (RETRY_AFTER,)
        # The credentials held when a failure was reported: it is reported again only after
        # new ones were obtained (one line per ended JumpCloud session, not one per request).
        self._failed_with: str | None = None
        self._failing_lock = threading.Lock()
        # Set by a request that finds the held credentials due: the renewal starts now.
        self._wake = threading.Event()
        self._backing_off = False
        self._attempts = 0
        self._attempted = threading.Condition()
        #: Why the last renewal failed (None after a success): answered once nothing valid is held.
        self.last_error: JcsamlError | None = None
        self._asker: threading.Thread | None = None
        self._asker_lock = threading.Lock()
        self._may_ask = True  # until the person cancels a prompt

    # --- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving, close the port and join the threads (a sign-in asking the person too)."""
        super().stop()
        with self._asker_lock:
            asker = self._asker
        if asker is not None:
            asker.join(timeout=self.join_timeout)

    def _threads_to_start(self) -> list[threading.Thread]:
        return [threading.Thread(target=self._renew_loop, name="jcsaml-renewal", daemon=True)]

    def _wake_on_stop(self) -> None:
        self._wake.set()

    def environment(self) -> dict[str, str]:
        """The variables that point the AWS SDKs at this endpoint."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token,
        }

    # --- answers -----------------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        given = (header or "").encode("latin-1", "replace")
        return hmac.compare_digest(given, self.token.encode("ascii"))

    def answer(self) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for an authorized request, at once.

        A request never waits for a renewal (the SDKs give up after 2 seconds): renewal runs in
        the background, and while it runs, or after it failed, the held credentials are handed
        out as long as they are valid. Only when they have expired is the renewal's error
        answered, which says what failed and what to run.
        """
        held = self.source.held
        if held is None:  # nothing obtained yet (a source the caller has not primed)
            return self._answer_now()
        now = self._clock()
        due = self.source.renew_at(self.source.margin)
        if due is not None and now >= due and not self._backing_off:
            self._wake.set()  # the SDK wants new ones: renew now rather than at the loop's time
        if not held.expires_within(0, now=now):
            return 200, container_answer(held)
        # Nothing valid to hand out: a moment's wait for a renewal costs nothing now.
        with self._attempted:
            seen = self._attempts
            self._wake.set()
            self._attempted.wait_for(lambda: self._attempts > seen, timeout=EXPIRED_WAIT)
        held = self.source.held
        if held is not None and not held.expires_within(0, now=self._clock()):
            return 200, container_answer(held)
        error = self.last_error
        if error is None or self._asking():
            account = getattr(self.source, "account", "?")
            pending = SignInPendingError if self._asking() else RenewalPendingError
            return 503, _error_body(pending(account=account))
        self._failed(error)
        return 500, _error_body(error)

    def _answer_now(self) -> tuple[int, dict[str, Any]]:
        try:
            credentials = self.source.get(ask=False, wait_for_person=False)
        except SignInPendingError as exc:
            return 503, _error_body(exc)
        except SignInRequiredError as exc:
            if self.source.prompter is not None and self._may_ask:
                self._ask_in_background()
                return 503, _error_body(SignInPendingError(account=exc.account))
            self._failed(exc)
            return 500, _error_body(exc)
        except JcsamlError as exc:
            self._failed(exc)
            return 500, _error_body(exc)
        except Exception as exc:  # a bug must not end the endpoint: the SDK reports it
            log.debug("renewal failed", exc_info=True)
            return 500, {
                "Code": "JcsamlError",
                "Message": f"jcsaml: unexpected {type(exc).__name__}",
            }
        self._succeeded()
        return 200, container_answer(credentials)

    def _asking(self) -> bool:
        """Whether the person is being asked to sign in, on jcsaml's terminal."""
        asker = self._asker
        return asker is not None and asker.is_alive()

    def _ask_in_background(self) -> None:
        """Sign in with the person, once at a time, in a thread of its own."""
        with self._asker_lock:
            if self._asker is not None and self._asker.is_alive():
                return
            self._asker = threading.Thread(target=self._ask, name="jcsaml-sign-in", daemon=True)
            self._asker.start()

    def _ask(self) -> None:
        try:
            self.source.get(margin=self.source.margin + self._renew_ahead)
        except PromptAbortedError as exc:
            self._may_ask = False  # cancelled: the endpoint now says what to run instead
            self._failed(exc)
        except JcsamlError as exc:
            self._failed(exc)
        except Exception:
            log.debug("sign-in failed", exc_info=True)
        else:
            self._succeeded()

    def _succeeded(self) -> None:
        held = self.source.held
        with self._failing_lock:
            if held is not None and held.access_key_id != self._failed_with:
                self._failed_with = None

    def _failed(self, error: JcsamlError) -> None:
        held = self.source.held
        with self._failing_lock:
            first = self._failed_with is None
            if first:
                self._failed_with = held.access_key_id if held is not None else ""
        if first and self._report is not None:
            self._report(error)

    # --- background renewal ------------------------------------------------------------------

    def _renew_loop(self) -> None:
        """Renew ahead of the SDKs' window; after a failure, retry with backoff
        (:data:`RETRY_DELAYS`) until a renewal succeeds, whether or not the held credentials
        have expired meanwhile (JumpCloud may come back)."""
        ahead = self.source.margin + self._renew_ahead
        wait = self._seconds_until_due(ahead)
        failures = 0
        while True:
            self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                return
            due = self.source.renew_at(ahead)
            if failures == 0 and due is not None and self._clock() < due:
                wait = self._seconds_until_due(ahead)
                continue
            error = self._renew_once(ahead)
            with self._attempted:
                self._attempts += 1
                self._attempted.notify_all()
            if error is None:
                failures = 0
                self._backing_off = False
                wait = self._seconds_until_due(ahead)
                continue
            self.last_error = error
            self._backing_off = True
            wait = self._retry_delays[min(failures, len(self._retry_delays) - 1)]
            failures += 1

    def _renew_once(self, ahead: float) -> JcsamlError | None:
        """One renewal attempt; the error that stopped it, or None."""
        try:
            self.source.get(margin=ahead, ask=False)
        except SignInRequiredError as exc:
            # Ahead of the SDKs' window: the person has time to answer, or to run the
            # command the line says, before the command needs new credentials.
            if self.source.prompter is not None and self._may_ask:
                self._ask_in_background()
            else:
                self._failed(exc)
            return exc
        except JcsamlError as exc:  # reported once the held credentials run out, if they do
            log.debug("background renewal: %s", exc)
            return exc
        except Exception:
            log.debug("background renewal failed", exc_info=True)
            from jcsaml.errors import IdpError

            return IdpError(reason="an unexpected error; run with --debug")
        self.last_error = None
        self._succeeded()
        return None

    def _seconds_until_due(self, margin: float) -> float:
        due = self.source.renew_at(margin)
        if due is None:
            return LONGEST_SLEEP
        seconds = (due - self._clock()).total_seconds()
        return min(max(seconds, 1.0), LONGEST_SLEEP)
