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

import contextlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

from jcsaml.credentials import AwsCredentials
from jcsaml.errors import (
    JcsamlError,
    PromptAbortedError,
    SignInPendingError,
    SignInRequiredError,
)

__all__ = ["LOOPBACK", "RENEW_AHEAD", "CredentialServer", "new_token"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
#: The background renewal starts this long before the SDKs' window opens, so an SDK that asks
#: finds new credentials waiting instead of waiting for a sign-in.
RENEW_AHEAD = 5 * 60
#: After a failed background renewal, wait this long before the next attempt.
RETRY_AFTER = 60.0
#: The background thread looks at the clock at least this often.
LONGEST_SLEEP = 300.0


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


class CredentialServer:
    """Serves ``source``'s credentials on ``http://127.0.0.1:<free port>/``.

    ``report`` is called once when handing out credentials starts failing (with the error; again
    only after a success). ``clock`` and ``sleep_until`` drive the background renewal (tests pass
    a fake clock).
    """

    def __init__(
        self,
        source: Source,
        *,
        token: str | None = None,
        report: Callable[[JcsamlError], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        renew_ahead: float = RENEW_AHEAD,
    ) -> None:
        self.source = source
        self.token = token or new_token()
        if "\r" in self.token or "\n" in self.token:
            raise ValueError("the token must not contain CR or LF")
        self._report = report
        self._clock = clock
        self._renew_ahead = renew_ahead
        # The credentials held when a failure was reported: it is reported again only after
        # new ones were obtained (one line per ended JumpCloud session, not one per request).
        self._failed_with: str | None = None
        self._failing_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Httpd | None = None
        self._threads: list[threading.Thread] = []
        self._asker: threading.Thread | None = None
        self._asker_lock = threading.Lock()
        self._may_ask = True  # until the person cancels a prompt

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Httpd((LOOPBACK, 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._threads = [
            threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="jcsaml-credentials-endpoint",
                daemon=True,
            ),
            threading.Thread(target=self._renew_loop, name="jcsaml-renewal", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        for thread in self._threads:
            # A renewal that is signing in finishes on its own (a daemon thread, not waited for).
            thread.join(timeout=1)
        self._threads = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("the credentials endpoint is not running")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/"

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
        """The status and JSON body for an authorized request.

        Renewal never makes a request wait for a person (the SDKs give up after 2 seconds):
        when one must sign in, jcsaml asks on its terminal in the background and meanwhile
        hands out the credentials it holds while they last.
        """
        try:
            credentials = self.source.get(ask=False, wait_for_person=False)
        except SignInPendingError as exc:
            return 503, _error_body(exc)
        except SignInRequiredError as exc:
            if self.source.prompter is None or not self._may_ask:
                self._failed(exc)
                return 500, _error_body(exc)
            self._ask_in_background()
            held = self.source.held
            if held is not None and not held.expires_within(0, now=self._clock()):
                credentials = held
            else:
                return 503, _error_body(SignInPendingError(account=exc.account))
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
        ahead = self.source.margin + self._renew_ahead
        wait = self._seconds_until_due(ahead)
        while not self._stopping.wait(wait):
            try:
                self.source.get(margin=ahead, ask=False)
            except SignInRequiredError as exc:
                # Ahead of the SDKs' window: the person has time to answer, or to run the
                # command the line says, before the command needs new credentials.
                if self.source.prompter is not None and self._may_ask:
                    self._ask_in_background()
                else:
                    self._failed(exc)
                wait = RETRY_AFTER
                continue
            except JcsamlError as exc:
                log.debug("background renewal: %s", exc)
                wait = RETRY_AFTER
                continue
            except Exception:
                log.debug("background renewal failed", exc_info=True)
                wait = RETRY_AFTER
                continue
            wait = self._seconds_until_due(ahead)

    def _seconds_until_due(self, margin: float) -> float:
        due = self.source.renew_at(margin)
        if due is None:
            return LONGEST_SLEEP
        seconds = (due - self._clock()).total_seconds()
        return min(max(seconds, 1.0), LONGEST_SLEEP)


def _error_body(error: JcsamlError) -> dict[str, str]:
    return {"Code": type(error).__name__, "Message": f"jcsaml: {error}"}


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    owner: CredentialServer


class _Handler(BaseHTTPRequestHandler):
    server: _Httpd
    server_version = "jcsaml"
    sys_version = ""

    def do_GET(self) -> None:
        owner = self.server.owner
        if not owner.authorized(self.headers.get("Authorization")):
            self._send(403, {"Code": "AccessDenied", "Message": "missing or wrong token"})
            return
        if urlsplit(self.path).path != "/":
            self._send(404, {"Code": "NotFound", "Message": "credentials are served at /"})
            return
        self._send(*owner.answer())

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        with contextlib.suppress(OSError):  # the SDK may have given up waiting
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # http.server names it format
        return None  # requests are never logged: nothing of them belongs on the command's stderr
