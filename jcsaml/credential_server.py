"""A local credentials endpoint in the AWS container credentials format.

The AWS SDKs and the AWS CLI read ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and send
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` as the ``Authorization`` header; the answer is
``{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}``. They ask again when fewer than 15
minutes remain, so :class:`CredentialServer` renews the credentials ahead of that, in a background
thread, through a :class:`~jcsaml.credential_source.CredentialSource`.

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
from jcsaml.errors import JcsamlError

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

    def get(self, *, margin: float | None = None, ask: bool = True) -> AwsCredentials: ...

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
        self._failing = False
        self._failing_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Httpd | None = None
        self._threads: list[threading.Thread] = []

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
        """The status and JSON body for an authorized request."""
        try:
            credentials = self.source.get()
        except JcsamlError as exc:
            self._failed(exc)
            return 500, {"Code": "JcsamlError", "Message": f"jcsaml: {exc}"}
        except Exception as exc:  # a bug must not end the endpoint: the SDK reports it
            log.debug("renewal failed", exc_info=True)
            return 500, {
                "Code": "JcsamlError",
                "Message": f"jcsaml: unexpected {type(exc).__name__}",
            }
        with self._failing_lock:
            self._failing = False
        return 200, container_answer(credentials)

    def _failed(self, error: JcsamlError) -> None:
        with self._failing_lock:
            first, self._failing = not self._failing, True
        if first and self._report is not None:
            self._report(error)

    # --- background renewal ------------------------------------------------------------------

    def _renew_loop(self) -> None:
        ahead = self.source.margin + self._renew_ahead
        wait = self._seconds_until_due(ahead)
        while not self._stopping.wait(wait):
            try:
                # Nobody is asked from here: a request from an SDK does that, when it needs to.
                self.source.get(margin=ahead, ask=False)
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
