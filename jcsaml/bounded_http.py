"""HTTP answers bounded in time and in size, for the JumpCloud client.

requests' timeouts bound each socket read, so a server that sends one byte a second never times
out. Here a watchdog bounds the whole answer (connect, headers and body): at the deadline it shuts
down the socket of the request in flight, which ends any read at once. Bodies are read in chunks
and decompressed as they arrive, so an answer is refused as soon as its decoded size passes the
cap, however small it was on the wire.

This module imports requests and urllib3: import it only where a request is made.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import socket
import threading
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager

from jcsaml import recording

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # JumpCloud's largest page is tens of KiB
CHUNK_BYTES = 64 * 1024
_SHUTDOWN_POLL = 0.05  # how often an expired watch looks for a socket to shut

_WATCH: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar("watch", default=None)


class DeadlinePassed(Exception):
    """The whole answer did not arrive within ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds


class AnswerTooLarge(Exception):
    """The decoded body passed ``limit`` bytes; reading stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


@dataclasses.dataclass(frozen=True)
class Answer:
    """A complete HTTP answer: status, final URL, headers and the decoded body."""

    status: int
    url: str
    headers: Mapping[str, str] = dataclasses.field(repr=False)
    body: bytes = dataclasses.field(repr=False)
    encoding: str | None = None

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding or "utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)


class _Watch:
    """Shuts down the socket of the connection in use once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.connection: HTTPConnection | None = None
        self.expired = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jcsaml-http-deadline", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired.set()
        # The connection may still be connecting (no socket yet): keep trying until it ends.
        while not self._done.is_set():
            sock = getattr(self.connection, "sock", None)
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):  # already closed by the other side
                    # The plain socket's shutdown, also for TLS: it ends a read blocked in
                    # another thread without touching the TLS object that thread is using.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            self._done.wait(_SHUTDOWN_POLL)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _watched(conn: HTTPConnection) -> HTTPConnection:
    watch = _WATCH.get()
    if watch is not None:
        watch.connection = conn
    return conn


class _WatchedHTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        return _watched(super()._get_conn(timeout))  # type: ignore[arg-type]


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        return _watched(super()._get_conn(timeout))  # type: ignore[arg-type]


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connection pools that tell the current watch which connection a
    request uses."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # not SOCKS: those pools are SOCKS pools
            manager.pool_classes_by_scheme = _POOLS
        return manager


def bounded_session(session: requests.Session | None = None) -> requests.Session:
    """``session`` (a new one when None) with adapters that let :func:`fetch` bound answers."""
    chosen = session if session is not None else requests.Session()
    adapter = _WatchedAdapter()
    chosen.mount("https://", adapter)
    chosen.mount("http://", adapter)
    return chosen


def fetch(
    session: requests.Session,
    method: str,
    url: str,
    *,
    seconds: float,
    connect_seconds: float,
    limit: int = MAX_ANSWER_BYTES,
    **kwargs: Any,
) -> Answer:
    """One request, never following redirects, whose whole answer must arrive within
    ``seconds`` and decode to at most ``limit`` bytes.

    Raises DeadlinePassed, AnswerTooLarge, and requests' own exceptions for everything else
    (ConnectionError, ChunkedEncodingError for a body cut short, ContentDecodingError ...).
    """
    watch = _Watch(seconds)
    token = _WATCH.set(watch)
    try:
        try:
            response = session.request(
                method,
                url,
                timeout=(connect_seconds, seconds),
                stream=True,
                allow_redirects=False,
                **kwargs,
            )
            try:
                body = _read_capped(response, limit)
            finally:
                response.close()
        except Exception:  # whatever a socket shut mid-answer raised, the deadline explains it
            if watch.expired.is_set():
                raise DeadlinePassed(seconds) from None
            raise
    finally:
        _WATCH.reset(token)
        watch.stop()
    if watch.expired.is_set():
        # A socket shut mid-headers can look like a short but complete answer: never trust it.
        raise DeadlinePassed(seconds)
    if recording.active() is not None:  # --record: the one place every exchange passes
        headers = getattr(response.raw, "headers", None) or response.headers
        recording.record_http(
            method, url, kwargs, response.status_code, list(headers.items()), body
        )
    return Answer(
        status=response.status_code,
        url=response.url,
        headers=response.headers,
        body=body,
        encoding=response.encoding,
    )


def _read_capped(response: requests.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    # iter_content decompresses chunk by chunk, each at most CHUNK_BYTES once decoded.
    for chunk in response.iter_content(CHUNK_BYTES):
        total += len(chunk)
        if total > limit:
            raise AnswerTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)
