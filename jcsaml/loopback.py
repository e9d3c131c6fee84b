"""One HTTP server on 127.0.0.1: what every local server of jcsaml is built on.

:class:`LoopbackServer` binds a free port on 127.0.0.1, serves in a daemon thread, and stops
cleanly: open connections are shut, the port is closed and its threads are joined. It is a context
manager and knows its :attr:`~LoopbackServer.url`. Handler threads can be bounded
(:attr:`~LoopbackServer.max_connections`), and with an ``ssl_context`` it serves HTTPS.
:class:`LoopbackHandler` never logs a request and reaches its server as ``self.owner``.

The credentials endpoint of ``jcsaml exec --server`` is one, as are the fakes of
:mod:`jcsaml.testing`. Standard library only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast

if TYPE_CHECKING:
    import ssl

__all__ = ["LOOPBACK", "LoopbackHandler", "LoopbackServer"]

LOOPBACK = "127.0.0.1"

OwnerT = TypeVar("OwnerT", bound="LoopbackServer")


class LoopbackServer:
    """A threaded HTTP server on ``127.0.0.1`` (free port), answered by :attr:`handler`.

    Subclasses set :attr:`handler` and call ``super().__init__()``; use as a context manager, or
    call :meth:`start` and :meth:`stop`. :meth:`_threads_to_start` adds threads that live as
    long as the server, :meth:`_wake_on_stop` wakes what waits when it stops.
    """

    #: The request handler class.
    handler: ClassVar[type[LoopbackHandler[Any]]]
    #: The serving thread's name, before ``:port`` (default: the class's name).
    thread_name: ClassVar[str | None] = None
    #: Appended to ``scheme://127.0.0.1:port`` to make :attr:`url`.
    url_path: ClassVar[str] = ""
    #: Connections waiting to be accepted.
    backlog: ClassVar[int] = 5
    #: Connections served at once (None: no bound); more are closed at once rather than queued.
    max_connections: ClassVar[int | None] = None
    #: How long :meth:`stop` waits for each thread; a thread still busy then is a daemon.
    join_timeout: ClassVar[float] = 5.0
    #: How often the serving thread looks whether it should stop.
    poll_interval: ClassVar[float] = 0.05

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        #: A server-side context: serve HTTPS (:attr:`url` then starts with ``https://``).
        self.ssl_context = ssl_context
        self._httpd: _Httpd | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        #: Set while stopping: answers that wait or trickle end.
        self._stopping = threading.Event()

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Httpd(self)
        self._httpd = httpd
        serving = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"{self.thread_name or type(self).__name__}:{httpd.server_address[1]}",
            daemon=True,
        )
        self._threads = [serving, *self._threads_to_start()]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, shut open connections, close the port and join the threads."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        self._wake_on_stop()
        httpd.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may already have hung up
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=self.join_timeout)
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
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{port}{self.url_path}"

    def _threads_to_start(self) -> list[threading.Thread]:
        """Threads started with the server and joined when it stops."""
        return []

    def _wake_on_stop(self) -> None:
        """Called on :meth:`stop` once :attr:`_stopping` is set."""

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


class LoopbackHandler(BaseHTTPRequestHandler, Generic[OwnerT]):
    """Answers for :attr:`owner`; never logs a request, and sends without Nagle's delay."""

    server: _Httpd
    owner: OwnerT

    def setup(self) -> None:
        super().setup()
        self.owner = cast(OwnerT, self.server.owner)
        # Headers and body go out as separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.owner._track(self.connection, open_=True)

    def finish(self) -> None:
        self.owner._track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # http.server names it format
        return None  # requests may carry secrets, and nothing of them belongs on stderr

    def read_body(self) -> bytes:
        """The request's body, as long as its Content-Length says."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_answer(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        drip: float = 0,
        sent: int | None = None,
    ) -> None:
        """Answer ``status`` with ``headers``, a Content-Length and ``body`` (none to HEAD).

        ``drip`` (seconds) sends the body a byte at a time with that pause (see :meth:`drip`);
        ``sent`` sends only that many bytes of it, as a server that breaks off does."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if drip:
            self.drip(body, drip)
            return
        with contextlib.suppress(OSError):  # the client may have given up waiting
            self.wfile.write(body[:sent])

    def drip(self, data: bytes, pause: float) -> None:
        """Send ``data`` a byte at a time, ``pause`` seconds apart, until it is sent, the client
        hangs up or the server stops."""
        for index in range(len(data)):
            try:
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
            except OSError:
                return
            if self.owner._stopping.wait(pause):
                return


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        self.request_queue_size = owner.backlog
        bound = owner.max_connections
        self._slots = threading.BoundedSemaphore(bound) if bound is not None else None
        super().__init__((LOOPBACK, 0), owner.handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, stop()) and clients refusing the certificate are
        # expected; stay quiet.
        return None

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.owner.ssl_context
        if context is None:
            super().finish_request(request, client_address)
            return
        # The TLS handshake runs here, in the connection's own thread, rather than on accept():
        # a client that never completes it must not stall the accepting loop.
        request.settimeout(self.owner.handler.timeout)
        with context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        # One client opening many connections cannot starve the others of threads.
        if self._slots is not None and not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            if self._slots is not None:
                self._slots.release()
