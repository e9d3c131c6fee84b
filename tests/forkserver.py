"""``python -m jcsaml`` in a process forked from one that has already imported jcsaml.

Most end-to-end tests run the real CLI many times, and a new interpreter spends most of a
``login`` importing boto3, botocore, requests, signxml and jcsaml itself: about half of the
suite's CPU time. A server process started once per test process imports all of that, then
forks once per run. The forked process is still a process of its own, with its own argv,
environment, working directory, standard streams and exit status, and it runs
``jcsaml/__main__.py`` exactly as ``python -m jcsaml`` does; only the imports were done before.

Runs whose outcome depends on interpreter start-up go through a new interpreter instead:
- any run whose environment changes a ``PYTHON*`` or locale variable (they act at start-up);
- every run when ``JCSAML_TEST_NEW_PROCESSES=1`` is set (to check that the two agree);
- and tests that look at start-up itself (tests/test_hot_path.py) never come here.

Protocol, over a Unix socket per run: the client sends one JSON line (args, env, cwd) with its
stdin, stdout and stderr pipe ends attached (SCM_RIGHTS). The server forks a keeper, which forks
the CLI process, sends back its pid, waits for it and sends its wait status.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Imported once by the server; each forked run gets them for free.
PRELOAD = (
    "jcsaml.cli",
    "jcsaml.signin",
    "jcsaml.multi",
    "jcsaml.console",
    "jcsaml.doctor",
    "boto3",
    "botocore.session",
    "requests",
    "bs4",
    "lxml.etree",
    "signxml",
    "keyring",
)

# Read on import: the tests' own fixtures remove every JCSAML_* variable before a test runs.
NEW_PROCESSES = os.environ.get("JCSAML_TEST_NEW_PROCESSES") == "1"

# Variables that act when an interpreter starts: a run that changes one needs a new interpreter.
_STARTUP_PREFIXES = ("PYTHON", "LC_")
_STARTUP_NAMES = ("LANG", "LANGUAGE")


@dataclass
class Finished:
    status: int
    stdout: str
    stderr: str


def _startup_view(env: Mapping[str, str]) -> dict[str, str]:
    def at_startup(name: str) -> bool:
        if name == "PYTHON_KEYRING_BACKEND":  # keyring reads it when first used
            return False
        return name.startswith(_STARTUP_PREFIXES) or name in _STARTUP_NAMES

    return {k: v for k, v in env.items() if at_startup(k)}


class ForkServer:
    """One server per test process, started on first use and stopped when that process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._directory = ""
        self._startup: dict[str, str] = {}
        atexit.register(self.stop)

    def _socket_path(self) -> str:
        return os.path.join(self._directory, "server")

    def _start(self) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return self._process
            self._directory = tempfile.mkdtemp(prefix="jcsaml-fork-")
            env = dict(os.environ)
            self._startup = _startup_view(env)
            code = f"import sys; sys.path.insert(0, {str(REPO)!r}); import tests.forkserver; "
            code += "tests.forkserver.main()"
            self._process = subprocess.Popen(
                [sys.executable, "-c", code, self._socket_path()],
                stdin=subprocess.PIPE,  # its end of file tells the server this process is gone
                stdout=subprocess.DEVNULL,
                stderr=None,
                env=env,
                cwd=REPO,
            )
            return self._process

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(self._directory, ignore_errors=True)

    def usable_for(self, env: Mapping[str, str]) -> bool:
        if NEW_PROCESSES:
            return False
        self._start()
        return _startup_view(env) == self._startup

    def run(
        self, args: Sequence[str], env: Mapping[str, str], stdin: str, timeout: float, cwd: str
    ) -> Finished:
        self._start()
        connection = self._connect()
        with connection:
            in_read, in_write = os.pipe()
            out_read, out_write = os.pipe()
            err_read, err_write = os.pipe()
            request = json.dumps({"args": list(args), "env": dict(env), "cwd": cwd}).encode()
            socket.send_fds(connection, [request + b"\n"], [in_read, out_write, err_write])
            for fd in (in_read, out_write, err_write):
                os.close(fd)
            reader = connection.makefile("rb")
            first = reader.readline()
            if not first:
                for fd in (in_write, out_read, err_read):
                    os.close(fd)
                raise RuntimeError("the fork server did not start the CLI")
            pid = int(first)
            outputs = _communicate(in_write, out_read, err_read, stdin.encode(), timeout)
            if outputs is None:
                _kill(pid)
                reader.readline()
                raise subprocess.TimeoutExpired(["jcsaml", *args], timeout)
            connection.settimeout(timeout)
            status = os.waitstatus_to_exitcode(int(reader.readline()))
        stdout, stderr = outputs
        return Finished(status, _text(stdout), _text(stderr))

    def _connect(self) -> socket.socket:
        path = self._socket_path()
        for _ in range(600):  # the server imports for a second or two before it listens
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                client.connect(path)
                return client
            except (FileNotFoundError, ConnectionRefusedError):
                client.close()
                process = self._process
                if process is None or process.poll() is not None:
                    raise RuntimeError("the fork server ended") from None
                threading.Event().wait(0.05)
        raise RuntimeError("the fork server did not listen within 30 s")


def _text(data: bytes) -> str:
    # As subprocess.run(text=True) decodes, with universal newlines.
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _communicate(
    in_write: int, out_read: int, err_read: int, data: bytes, timeout: float
) -> tuple[bytes, bytes] | None:
    """Feed stdin and read both outputs to their end, as Popen.communicate; None on timeout."""
    chunks: dict[int, list[bytes]] = {out_read: [], err_read: []}
    os.set_blocking(in_write, False)
    with selectors.DefaultSelector() as selector:
        if data:
            selector.register(in_write, selectors.EVENT_WRITE)
        else:
            os.close(in_write)
        selector.register(out_read, selectors.EVENT_READ)
        selector.register(err_read, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        pending = memoryview(data)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                for key in list(selector.get_map().values()):
                    os.close(key.fd)
                return None
            for key, _ in selector.select(left):
                if key.fd == in_write:
                    try:
                        written = os.write(in_write, pending[:65536])
                    except BrokenPipeError:
                        written = len(pending)
                    pending = pending[written:]
                    if not pending:
                        selector.unregister(in_write)
                        os.close(in_write)
                    continue
                chunk = os.read(key.fd, 65536)
                if chunk:
                    chunks[key.fd].append(chunk)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
    return b"".join(chunks[out_read]), b"".join(chunks[err_read])


SERVER = ForkServer()


def run_jcsaml(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    stdin: str = "",
    timeout: float = 60,
    cwd: str | None = None,
) -> Finished:
    """``python -m jcsaml ARGS`` with ``env``: forked from the server when that gives the same
    process a new interpreter would, else a new interpreter."""
    where = cwd if cwd is not None else os.getcwd()
    if SERVER.usable_for(env):
        return SERVER.run(args, env, stdin, timeout, where)
    done = subprocess.run(
        [sys.executable, "-m", "jcsaml", *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=where,
    )
    return Finished(done.returncode, done.stdout, done.stderr)


# The server side.


def main() -> None:
    """The server process: import, listen, fork a run per connection; then, in a run's own
    process, run the CLI as ``python -m jcsaml`` would, at the top of the stack."""
    request = _serve(sys.argv[1])
    _become(request)
    import runpy

    runpy.run_module("jcsaml", run_name="__main__", alter_sys=True)


def _serve(path: str) -> dict[str, Any]:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped as they end
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is not listener:  # the test process has gone
                os.unlink(path)
                os._exit(0)
            connection, _ = listener.accept()
            if os.fork() == 0:
                selector.close()
                listener.close()
                return _keep(connection)
            connection.close()


def _keep(connection: socket.socket) -> dict[str, Any]:
    """In the keeper: receive one request, fork the run, report its pid and wait status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    buffer = message
    while not buffer.endswith(b"\n"):
        more = connection.recv(1 << 20)
        if not more:
            os._exit(1)
        buffer += more
    request: dict[str, Any] = json.loads(buffer)
    request["fds"] = fds
    pid = os.fork()
    if pid == 0:
        return request
    for fd in fds:
        os.close(fd)
    connection.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    connection.sendall(f"{status}\n".encode())
    os._exit(0)


def _become(request: dict[str, Any]) -> None:
    """Turn this forked process into the one ``python -m jcsaml ARGS`` would have started."""
    stdin, stdout, stderr = request["fds"]
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["-m", *request["args"]]
    sys.path[0] = request["cwd"]  # as ``python -m`` puts the working directory first
