"""HTTP answers bounded in time and in size: JumpCloud, STS (botocore) and the federation
endpoint all go through the one deadline here.

Libraries' timeouts bound each socket read, so a server that sends one byte a second never
times out. Here a deadline bounds the whole exchange (connect, TLS handshake, request, headers
and body): :func:`deadline` sets it for the calls made inside it, and the connections made by
:func:`bounded_session` (requests) and :func:`bound_botocore_client` (botocore) give every
socket operation a timeout recomputed from the time left, never more. Nothing watches from
another thread, so nothing depends on which object holds the socket: ``Connection: close``,
HTTP/1.0 and chunked answers, over http and https, all stop at the deadline.

Bodies are read in chunks and decompressed as they arrive, so an answer is refused as soon as
its decoded size passes the cap, however small it was on the wire.

This module imports urllib3 (and requests, where a session is made): import it only where a
request is made.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import io
import json
import socket
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if TYPE_CHECKING:
    import requests

from jcsaml import recording

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # JumpCloud's largest page is tens of KiB
CHUNK_BYTES = 64 * 1024


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


# --- the deadline -----------------------------------------------------------------------------


@dataclasses.dataclass
class Deadline:
    """The end of the exchanges made inside :func:`deadline`; ``expired`` once a socket
    operation was cut short by it (the caller then reports the deadline, not the symptom)."""

    seconds: float
    at: float
    expired: bool = False

    def remaining(self) -> float:
        return self.at - time.monotonic()


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "jcsaml_http_deadline", default=None
)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Bound every HTTP exchange made inside (by this thread, through connections from this
    module) to end within ``seconds`` from now, retries included. A deadline already set and
    sooner stays in force."""
    outer = _DEADLINE.get()
    bound = Deadline(seconds, time.monotonic() + seconds)
    if outer is not None and outer.at < bound.at:
        bound = outer
    token = _DEADLINE.set(bound)
    try:
        yield bound
    finally:
        _DEADLINE.reset(token)


def _limit(timeout: float | None) -> tuple[float | None, Deadline | None]:
    """The timeout for the next socket operation: ``timeout`` or the time left, whichever is
    sooner, and the deadline when it is the time left that decides."""
    bound = _DEADLINE.get()
    if bound is None:
        return timeout, None
    left = bound.remaining()
    if left <= 0:
        bound.expired = True
        raise TimeoutError(f"no complete answer within {bound.seconds:g} s")
    if timeout is not None and timeout < left:
        return timeout, None
    return left, bound


class _DeadlineSocket:
    """A connected socket (plain or TLS) whose every read and write is given the time left
    before the deadline as its timeout. http.client reads through :meth:`makefile`, whose
    reader calls back into :meth:`recv_into`, so the response's reads are bounded too, whoever
    holds the response."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def _call(self, operation: Any, *args: Any) -> Any:
        timeout, bound = _limit(self._timeout)
        self._sock.settimeout(timeout)
        try:
            return operation(*args)
        except TimeoutError:
            if bound is not None:
                bound.expired = True
            raise

    def recv(self, *args: Any) -> bytes:
        result: bytes = self._call(self._sock.recv, *args)
        return result

    def recv_into(self, *args: Any) -> int:
        result: int = self._call(self._sock.recv_into, *args)
        return result

    def read(self, *args: Any) -> Any:  # TLS sockets have read() too
        return self._call(self._sock.read, *args)  # type: ignore[attr-defined]

    def send(self, *args: Any) -> int:
        result: int = self._call(self._sock.send, *args)
        return result

    def sendall(self, *args: Any) -> None:
        self._call(self._sock.sendall, *args)

    def makefile(
        self, mode: str = "r", buffering: int | None = None, **_: Any
    ) -> io.BufferedIOBase:
        """What http.client asks for (``"rb"``): a buffered reader over this object."""
        if mode not in ("r", "rb"):
            raise ValueError(f"unsupported mode {mode!r}")
        self._sock._io_refs += 1  # type: ignore[attr-defined]  # as socket.makefile counts
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        return io.BufferedReader(raw, buffering if buffering and buffering > 0 else CHUNK_BYTES)

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineConnection:
    """Mixin for urllib3's connection classes: connect within the time left, then bound every
    operation of the socket (see :class:`_DeadlineSocket`)."""

    sock: Any
    timeout: Any

    def connect(self) -> None:
        configured = self.timeout if isinstance(self.timeout, int | float) else None
        timeout, bound = _limit(configured)
        if timeout is not None:
            self.timeout = timeout
        try:
            super().connect()  # type: ignore[misc]
        except Exception:
            if bound is not None and bound.remaining() <= 0:
                bound.expired = True
            raise
        if isinstance(self.sock, socket.socket):
            self.sock = _DeadlineSocket(self.sock)


class _DeadlineHTTPConnection(_DeadlineConnection, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnection, HTTPSConnection):
    pass


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


# --- requests ---------------------------------------------------------------------------------


@functools.cache
def _adapter_class() -> type[Any]:
    from requests.adapters import HTTPAdapter
    from urllib3.poolmanager import PoolManager, ProxyManager

    class DeadlineAdapter(HTTPAdapter):
        """requests' adapter, with connections bounded by the current deadline."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = _POOLS

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
            manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
            if isinstance(manager, ProxyManager):  # not SOCKS: those pools are SOCKS pools
                manager.pool_classes_by_scheme = _POOLS
            return manager

    return DeadlineAdapter


def bounded_session(session: requests.Session | None = None) -> requests.Session:
    """``session`` (a new one when None) with adapters that let :func:`fetch` bound answers."""
    import requests

    chosen = session if session is not None else requests.Session()
    adapter = _adapter_class()()
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
    with deadline(seconds) as bound:
        try:
            response = session.request(
                method,
                url,
                timeout=(min(connect_seconds, seconds), seconds),
                stream=True,
                allow_redirects=False,
                **kwargs,
            )
            try:
                body = _read_capped(response, limit)
            finally:
                response.close()
        except AnswerTooLarge:
            raise
        except Exception:  # whatever the cut-short read raised, the deadline explains it
            if bound.expired:
                raise DeadlinePassed(bound.seconds) from None
            raise
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


# --- botocore ---------------------------------------------------------------------------------


@functools.cache
def _botocore_pools() -> dict[str, type[Any]]:
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    class DeadlineAWSHTTPConnection(_DeadlineConnection, AWSHTTPConnection):  # type: ignore[misc]
        pass

    class DeadlineAWSHTTPSConnection(_DeadlineConnection, AWSHTTPSConnection):  # type: ignore[misc]
        pass

    class DeadlineAWSHTTPPool(AWSHTTPConnectionPool):  # type: ignore[misc]
        ConnectionCls = DeadlineAWSHTTPConnection

    class DeadlineAWSHTTPSPool(AWSHTTPSConnectionPool):  # type: ignore[misc]
        ConnectionCls = DeadlineAWSHTTPSConnection

    return {"http": DeadlineAWSHTTPPool, "https": DeadlineAWSHTTPSPool}


def bound_botocore_client(client: Any) -> Any:
    """``client`` (a botocore client), its connections bounded by the current :func:`deadline`
    like those of :func:`bounded_session`. botocore has no public hook for its connection
    classes: this sets the pool classes of its URLLib3Session, as botocore itself sets them.
    A client without that session (a test double) is returned as it is."""
    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if http is None or not hasattr(http, "_pool_classes_by_scheme"):
        return client
    pools = _botocore_pools()
    http._pool_classes_by_scheme = pools
    manager = getattr(http, "_manager", None)
    if manager is not None:
        manager.pool_classes_by_scheme = pools
    return client
