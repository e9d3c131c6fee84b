"""``jcsaml exec --server`` end to end: the fake JumpCloud, moto's STS made strict, boto3 and the
AWS CLI inside the command, asking the endpoint for credentials."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import pty
import select
import shutil
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jcsaml import process_cache
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.cli import Context, build_parser, common_defaults
from jcsaml.cli.exec_server import run_child, run_with_server
from jcsaml.testing.jumpcloud import FakeJumpCloud, FakeUser
from tests.world import (
    ACCOUNT,
    PASSWORD,
    SESSION_REUSE,
    SLUG,
    World,
    WorldFactory,
    finish,
)

PLAIN = "bob@acme.example"


@pytest.fixture
def site(make_world: WorldFactory) -> World:
    """Account ``production`` configured for alice (TOTP), bob without MFA (who can sign in any
    number of times), and a keyring shared by the CLI processes."""
    plain = FakeUser(email=PLAIN, password=PASSWORD, apps=[SLUG])
    world = make_world(keyring=True, roles=("Admin",), users=[plain])
    world.configure()
    return world


def configure_plain(site: World) -> None:
    """Account ``plain``: a user without MFA, who can sign in any number of times."""
    site.configure(account="plain", username=PLAIN, mfa=None, defaults=False)


def cached(site: World) -> AwsCredentials:
    """What the credential-process cache, which exec --server shares, holds."""
    found = process_cache.load("production", "", environ=site.env)
    assert found is not None
    return found


def warm_cache(site: World, *extra: str) -> None:
    """``jcsaml credential-process`` fills the cache (reusing the saved JumpCloud session)."""
    done = site.run("credential-process", "-a", "production", "--skip-prompt", *extra)
    assert done.status == 0, done.stderr


def script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def requests_made(jumpcloud: FakeJumpCloud) -> list[tuple[str, str]]:
    return [(r.method, r.path.split("?", 1)[0]) for r in jumpcloud.requests]


# --- what the command gets ----------------------------------------------------------------------

BOTO3_CHILD = """
import json, os, sys, urllib.parse
import boto3

env = os.environ
uri = urllib.parse.urlsplit(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
session = boto3.Session()
identity = session.client("sts").get_caller_identity()
print(json.dumps({
    "static_keys": sorted(k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION") if k in env),
    "relative_uri": env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
    "token_file": env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
    "token": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
    "host": uri.hostname, "scheme": uri.scheme, "path": uri.path,
    "method": session.get_credentials().method,
    "access_key": session.get_credentials().get_frozen_credentials().access_key,
    "arn": identity["Arn"],
    "marker": env.get("JCSAML_EXEC_ACCOUNT"),
}))
"""


def test_boto3_and_the_aws_cli_get_credentials_from_the_endpoint(
    site: World, tmp_path: Path
) -> None:
    site.login_ok()
    warm_cache(site)
    site.jumpcloud.clear_requests()
    child = script(tmp_path, "child.py", BOTO3_CHILD)
    ran = site.run(
        "exec", "--server", "-a", "production", "--", sys.executable, child,
        # An ECS-style variable and keys from the shell must not win over the endpoint.
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/elsewhere",
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(tmp_path / "other-token"),
        AWS_ACCESS_KEY_ID="AKIAEXAMPLESHELLKEYS",
        AWS_SECRET_ACCESS_KEY="shell-secret",
    )  # fmt: skip
    assert ran.status == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen["static_keys"] == []
    assert seen["relative_uri"] is None and seen["token_file"] is None
    assert (seen["scheme"], seen["host"], seen["path"]) == ("http", "127.0.0.1", "/")
    assert len(seen["token"]) >= 32 and "\r" not in seen["token"] and "\n" not in seen["token"]
    assert seen["method"] == "container-role"
    # credential-process's credentials: one cache, no sign-in
    assert seen["access_key"] == cached(site).access_key_id
    assert seen["arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/")
    assert seen["marker"] == "production"
    assert site.jumpcloud.count() == 0
    assert ran.stderr == ""

    aws_cli = shutil.which("aws", path=os.path.dirname(sys.executable))
    assert aws_cli
    cli = site.run(
        "exec", "--server", "-a", "production", "--",
        aws_cli, "sts", "get-caller-identity", "--query", "Arn", "--output", "text",
    )  # fmt: skip
    assert cli.status == 0, cli.stderr
    assert cli.stdout.strip().startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/")


TOKEN_CHILD = """
import json, os, socket, urllib.error, urllib.parse, urllib.request

url = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

def ask(headers):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, json.loads(r.read()), r.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers["Content-Type"]

port = urllib.parse.urlsplit(url).port
other = socket.socket()
other.settimeout(5)
try:
    other.connect(("127.0.0.2", port))
    elsewhere = "connected"
except OSError:
    elsewhere = "refused"
print(json.dumps({
    "none": ask({}),
    "wrong": ask({"Authorization": ("y" if token[0] == "x" else "x") + token[1:]}),
    "longer": ask({"Authorization": token + "x"}),
    "bearer": ask({"Authorization": "Bearer " + token}),
    "right": ask({"Authorization": token}),
    "elsewhere": elsewhere,
}))
"""


def test_a_wrong_or_missing_token_gets_403_and_only_loopback_listens(
    site: World, tmp_path: Path
) -> None:
    site.login_ok()
    child = script(tmp_path, "child.py", TOKEN_CHILD)
    ran = site.run("exec", "--server", "-a", "production", "--", sys.executable, child)
    assert ran.status == 0, ran.stderr
    seen = json.loads(ran.stdout)
    for case in ("none", "wrong", "longer", "bearer"):
        status, body, content_type = seen[case]
        assert status == 403, case
        assert content_type == "application/json"
        assert "AccessKeyId" not in body and body["Code"] == "AccessDenied"
    status, body, _ = seen["right"]
    assert status == 200
    assert sorted(body) == ["AccessKeyId", "Expiration", "SecretAccessKey", "Token"]
    assert body["AccessKeyId"] == cached(site).access_key_id
    assert body["Expiration"].endswith("Z")
    # 127.0.0.2 is loopback too: only a socket bound to 127.0.0.1 alone refuses it.
    assert seen["elsewhere"] == "refused"


def test_credentials_inside_the_sdk_window_are_renewed_through_the_saved_session(
    site: World, tmp_path: Path
) -> None:
    """The cached credentials have 12 minutes left: the SDKs would ask again on every call.
    jcsaml renews them before the command starts, with the saved JumpCloud session alone."""
    site.login_ok()
    warm_cache(site)
    old = cached(site)
    soon = datetime.now(UTC) + timedelta(minutes=12)
    process_cache.save(
        "production", "", dataclasses.replace(old, expiration=soon), environ=site.env
    )
    site.jumpcloud.clear_requests()
    child = script(tmp_path, "child.py", BOTO3_CHILD)
    # No --skip-prompt and no terminal: a question would fail the run, so none is asked.
    running = site.start("exec", "--server", "-a", "production", "--", sys.executable, child)
    ran = finish(running)
    assert ran.status == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen["access_key"] != old.access_key_id
    assert seen["access_key"] == cached(site).access_key_id  # written back to the cache
    assert requests_made(site.jumpcloud) == SESSION_REUSE
    assert ran.stderr == ""


# --- signals and the end of the command ---------------------------------------------------------


def recording_child(*signals: str, then: str = "") -> str:
    """A command that writes each of ``signals`` it gets to the file ``argv[1]`` (exiting 42 on
    SIGTERM), runs ``then``, says "ready" and waits."""
    caught = ", ".join(f"signal.{name}" for name in signals)
    return (
        "import os, signal, sys, time\n"
        "record = sys.argv[1]\n"
        "def note(signum, frame):\n"
        '    with open(record, "a") as f:\n'
        '        f.write(signal.Signals(signum).name + "\\n")\n'
        "    if signum == signal.SIGTERM:\n"
        "        sys.exit(42)\n"
        f"for s in ({caught}):\n"
        "    signal.signal(s, note)\n"
        f"{then}"
        'print("ready", flush=True)\n'
        "while True:\n"
        "    time.sleep(0.05)\n"
    )


SIGNAL_CHILD = recording_child(
    "SIGINT",
    "SIGHUP",
    "SIGTERM",
    then='with open(sys.argv[2], "w") as f:\n'
    '    f.write(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])\n',
)


COUNTING_CHILD = recording_child("SIGINT", "SIGTERM")


def wait_for(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def recorded(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def signal_pending(pid: int, signum: int) -> bool:
    """Whether ``signum`` waits, not yet taken, anywhere in process ``pid`` (Linux's /proc; False
    where there is none)."""
    pending = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if line.startswith(("SigPnd:", "ShdPnd:")):
                    pending |= int(line.split()[1], 16)
    return bool(pending & (1 << (signum - 1)))


def port_is_closed(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_signals_reach_the_command_and_the_port_closes_with_it(site: World, tmp_path: Path) -> None:
    site.login_ok()
    record, endpoint = tmp_path / "signals", tmp_path / "endpoint"
    child = script(tmp_path, "child.py", SIGNAL_CHILD)
    running = site.start(
        "exec", "--server", "-a", "production", "--",
        sys.executable, child, str(record), str(endpoint),
    )  # fmt: skip
    assert running.stdout is not None
    if running.stdout.readline().strip() != "ready":
        raise AssertionError(f"the command did not start: {finish(running)}")
    url = endpoint.read_text()
    assert not port_is_closed(url)
    for number, signum in enumerate((signal.SIGHUP, signal.SIGINT, signal.SIGTERM), 1):
        running.send_signal(signum)  # to jcsaml, which forwards it
        wait_for(
            lambda n=number: len(recorded(record)) >= n,
            f"{signum.name} in the command (so far {recorded(record)})",
        )
    ran = finish(running)
    assert recorded(record) == ["SIGHUP", "SIGINT", "SIGTERM"]
    assert ran.status == 42, ran.stderr  # the command's own status
    assert port_is_closed(url)


def test_stopped_and_continued_jcsaml_goes_on_forwarding(site: World, tmp_path: Path) -> None:
    """Ctrl-Z then ``fg`` stops and continues jcsaml and the command together; jcsaml must come
    back still serving and forwarding, not end with the command left behind."""
    site.login_ok()
    record = tmp_path / "signals"
    child = script(tmp_path, "child.py", COUNTING_CHILD)
    running = site.start(
        "exec", "--server", "-a", "production", "--", sys.executable, child, str(record)
    )  # fmt: skip
    assert running.stdout is not None
    if running.stdout.readline().strip() != "ready":
        raise AssertionError(f"the command did not start: {finish(running)}")
    os.killpg(running.pid, signal.SIGSTOP)  # as Ctrl-Z does (its own session: its own group)
    time.sleep(0.3)  # longer than any wait of jcsaml's own
    os.killpg(running.pid, signal.SIGCONT)  # as fg does
    running.send_signal(signal.SIGINT)
    wait_for(lambda: recorded(record) == ["SIGINT"], "the forwarded SIGINT in the command")
    running.send_signal(signal.SIGTERM)
    ran = finish(running)
    assert recorded(record) == ["SIGINT", "SIGTERM"]
    assert ran.status == 42, ran.stderr


def test_a_command_ended_by_a_signal_gives_128_plus_its_number(site: World) -> None:
    site.login_ok()
    ran = site.run(
        "exec", "--server", "-a", "production", "--",
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
    )  # fmt: skip
    assert ran.status == 128 + signal.SIGTERM, ran.stderr


def test_exit_status_and_a_missing_command(site: World) -> None:
    site.login_ok()
    ran = site.run(
        "exec", "--server", "-a", "production", "--", sys.executable, "-c", "raise SystemExit(9)"
    )
    assert ran.status == 9
    missing = site.run("exec", "--server", "-a", "production", "--", "no-such-command-here")
    assert missing.status == 127  # as a shell says it
    assert missing.stderr.strip() == (
        "jcsaml: error: command not found: no-such-command-here; check its name and PATH"
    )


# --- the JumpCloud session ends while the command runs ------------------------------------------

# A command that writes the access key it first got to the file argv[1] (``old``), then waits
# (a minute at most) for the file argv[2] to appear; argv[3] is where it writes its result.
WAITING_CHILD = """
import json, os, sys, time
import boto3
first, go, result = sys.argv[1:4]
def key():
    return boto3.Session().get_credentials().get_frozen_credentials().access_key
old = key()
with open(first + ".tmp", "w") as f:
    f.write(old)
os.rename(first + ".tmp", first)
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.02)
"""

EXPIRY_CHILD = (
    WAITING_CHILD
    + """
try:
    session = boto3.Session()
    session.client("sts").get_caller_identity()
except Exception as exc:
    with open(result, "w") as f:
        f.write(f"{type(exc).__name__}: {exc}")
    sys.exit(7)
with open(result, "w") as f:
    f.write("renewed " + session.get_credentials().get_frozen_credentials().access_key)
sys.exit(0)
"""
)


def parsed(argv: list[str], env: dict[str, str]) -> argparse.Namespace:
    """The arguments as the CLI parses them, for running exec --server in this process."""
    args = build_parser(env).parse_args(argv)
    for key, value in common_defaults(env).items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_session_gone_without_a_terminal_the_sdk_reports_what_to_run(
    site: World, tmp_path: Path
) -> None:
    """jcsaml runs here in this process, with a clock the test moves 26 minutes on while the
    command waits: its 25-minute credentials have then expired, and the JumpCloud session is
    gone (while they were valid they would still be handed out)."""
    site.login_ok()
    warm_cache(site, "--session-duration", "1500")
    site.jumpcloud.expire_sessions()
    first, go, result = tmp_path / "first", tmp_path / "go", tmp_path / "result"
    child = script(tmp_path, "child.py", EXPIRY_CHILD)
    clock = Clock()

    def move_the_clock() -> None:
        wait_for(first.exists, "the command's first credentials", timeout=120)
        clock.now += timedelta(minutes=26)
        go.touch()

    mover = threading.Thread(target=move_the_clock, daemon=True)
    mover.start()
    env = site.env
    argv = ["exec", "--server", "-a", "production", "--", sys.executable, child]
    argv += [str(first), str(go), str(result)]
    args = parsed(argv, env)
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(environ=env, stdout=out, stderr=err, stdin=io.StringIO())
    status = run_with_server(
        args, ctx, argv[argv.index("--") + 1 :], clock=clock, open_terminal=lambda: None
    )
    mover.join(timeout=10)
    assert status == 7  # the command's own
    assert first.read_text() == cached(site).access_key_id
    reported = result.read_text()
    assert "jcsaml login -a production" in reported  # the SDK's error carries the message
    assert err.getvalue().splitlines() == [
        "jcsaml: error: the JumpCloud session for account 'production' has ended and nobody "
        "can be asked to sign in here; run: jcsaml login -a production"
    ]


def test_keys_in_the_default_profile_are_pointed_out(site: World) -> None:
    """The SDKs read ``[default]`` of the credentials file before the endpoint."""
    site.login_ok()
    with site.credentials.open("a", encoding="utf-8") as file:
        file.write("\n[default]\naws_access_key_id = AKIAEXAMPLEDEFAULT\n")
        file.write("aws_secret_access_key = default-secret\n")
    ran = site.run(
        "exec", "--server", "-a", "production", "--", sys.executable, "-c",
        "import boto3; print(boto3.Session().get_credentials().method)",
    )  # fmt: skip
    assert ran.status == 0, ran.stderr
    assert ran.stdout.strip() == "shared-credentials-file"
    assert ran.stderr.splitlines() == [
        f"jcsaml: warning: profile 'default' in {site.credentials} holds access keys, which the "
        "AWS SDKs use before the credentials endpoint: the command may run with those instead; "
        "move them to a named profile (see: jcsaml help long-runs)"
    ]


def test_server_and_exec_profile_do_not_combine(site: World) -> None:
    ran = site.run(
        "exec", "--server", "--exec-profile", "deploy", "-a", "production", "--", "true"
    )  # fmt: skip
    assert ran.status == 2
    assert ran.stderr.splitlines()[-1] == (
        "jcsaml exec: error: --server and --exec-profile cannot be combined"
    )


RENEWAL_CHILD = (
    WAITING_CHILD
    + """
calls = 0
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    calls += 1
    now = key()  # the old ones (still valid) until the person has answered
    if now != old:
        with open(result, "w") as f:
            f.write(f"renewed {now} after {calls} calls")
        sys.exit(0)
    time.sleep(0.05)
sys.exit(3)
"""
)


def test_session_gone_with_a_terminal_asks_there_and_the_command_goes_on(
    site: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but jcsaml has a terminal (a pseudo-terminal here): it asks for the password
    there while the command runs. Meanwhile the command goes on with the credentials it has,
    which are still valid, and then gets those of that sign-in."""
    configure_plain(site)
    done = site.run(
        "credential-process", "-a", "plain", "--skip-prompt", "--session-duration", "1500",
        JCSAML_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert done.status == 0, done.stderr
    old = json.loads(done.stdout)["AccessKeyId"]
    site.jumpcloud.expire_sessions()
    for key, value in site.aws.environment().items():  # jcsaml's STS call, in this process
        monkeypatch.setenv(key, value)
    first, go, result = tmp_path / "first", tmp_path / "go", tmp_path / "result"
    child = script(tmp_path, "child.py", RENEWAL_CHILD)
    clock = Clock()
    master, slave = os.openpty()
    terminal = os.ttyname(slave)
    shown: list[bytes] = []

    def move_the_clock_then_answer() -> None:
        wait_for(first.exists, "the command's first credentials", timeout=120)
        clock.now += timedelta(minutes=11)
        go.touch()
        deadline = time.monotonic() + 60
        while b"JumpCloud password" not in b"".join(shown) and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                shown.append(os.read(master, 4096))
        os.write(master, PASSWORD.encode() + b"\r")

    helper = threading.Thread(target=move_the_clock_then_answer, daemon=True)
    helper.start()
    argv = ["exec", "--server", "-a", "plain", "--", sys.executable, child]
    argv += [str(first), str(go), str(result)]
    args = parsed(argv, site.env)
    err = io.StringIO()
    ctx = Context(environ=site.env, stdout=io.StringIO(), stderr=err, stdin=io.StringIO())
    try:
        status = run_with_server(
            args,
            ctx,
            argv[argv.index("--") + 1 :],
            clock=clock,
            open_terminal=lambda: (
                open(terminal, encoding="utf-8"),  # noqa: SIM115 - closed by jcsaml
                open(terminal, "w", encoding="utf-8"),  # noqa: SIM115
            ),
        )
        helper.join(timeout=10)
    finally:
        os.close(master)
        os.close(slave)
    assert first.read_text() == old
    assert status == 0, err.getvalue()
    renewed = result.read_text().split()
    assert renewed[0] == "renewed" and renewed[1] != old
    assert b"JumpCloud password" in b"".join(shown)
    # Before the question, the terminal says who asks and why.
    assert b"Signing in to JumpCloud for account 'plain'" in b"".join(shown)
    assert b"the running command needs new credentials" in b"".join(shown)
    assert PASSWORD.encode() not in b"".join(shown)  # not echoed
    assert err.getvalue() == ""


def test_force_signs_in_again_whatever_is_cached(site: World, tmp_path: Path) -> None:
    configure_plain(site)
    warmed = site.run(
        "credential-process", "-a", "plain", "--skip-prompt", JCSAML_PASSWORD=PASSWORD
    )
    assert warmed.status == 0, warmed.stderr
    before = json.loads(warmed.stdout)["AccessKeyId"]
    site.jumpcloud.clear_requests()
    child = script(tmp_path, "child.py", BOTO3_CHILD)
    ran = site.run(
        "exec", "--server", "--force", "-a", "plain", "--skip-prompt", "--", sys.executable, child,
        JCSAML_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert ran.status == 0, ran.stderr
    served = json.loads(ran.stdout)["access_key"]
    assert served != before
    assert served == process_cache.load("plain", "", environ=site.env).access_key_id  # type: ignore[union-attr]
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 1  # a real sign-in


TERM_CHILD = """
import os, signal, sys, time
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # the mask came from the parent
signal.signal(signal.SIGTERM, lambda *_: sys.exit(42))
open(sys.argv[1], "w").close()
time.sleep(30)
sys.exit(3)
"""


def test_a_signal_another_thread_takes_still_reaches_the_command(tmp_path: Path) -> None:
    """The kernel may hand a signal to any thread that does not block it, such as one of the
    endpoint's: forwarding must not wait for the main thread to wake up by itself."""
    ready = tmp_path / "ready"
    child = script(tmp_path, "child.py", TERM_CHILD)

    def send_when_ready() -> None:
        wait_for(ready.exists, "the command")
        os.kill(os.getpid(), signal.SIGTERM)  # this thread is the only one that takes it

    sender = threading.Thread(target=send_when_ready, daemon=True)
    sender.start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        status = run_child([sys.executable, child, str(ready)], dict(os.environ))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    sender.join(timeout=10)
    assert status == 42


def test_in_a_terminal_ctrl_c_reaches_the_command_once_and_kill_int_is_forwarded(
    site: World, tmp_path: Path
) -> None:
    """jcsaml in the foreground of a terminal (a pseudo-terminal here): Ctrl-C there signals
    jcsaml and the command alike, so jcsaml does not send it again; a SIGINT sent to jcsaml
    alone (``kill -INT``, a supervisor) must still reach the command."""
    site.login_ok()
    record = tmp_path / "signals"
    child = script(tmp_path, "child.py", COUNTING_CHILD)
    argv = [sys.executable, "-m", "jcsaml", "exec", "--server", "-a", "production", "--"]
    argv += [sys.executable, child, str(record)]
    pid, terminal = pty.fork()
    if pid == 0:  # pragma: no cover - the forked child becomes jcsaml at once
        os.execve(argv[0], argv, site.env)
    shown = bytearray()

    def read_until(what: bytes) -> None:
        deadline = time.monotonic() + 60
        while what not in shown:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what!r}; shown: {bytes(shown)!r}")
            ready, _, _ = select.select([terminal], [], [], 0.1)
            if ready:
                shown.extend(os.read(terminal, 4096))

    try:
        read_until(b"ready")
        os.write(terminal, b"\x03")  # Ctrl-C on the terminal
        wait_for(lambda: len(recorded(record)) >= 1, "the terminal's SIGINT in the command")
        # A second SIGINT sent while the first still waits is merged into it (signals do not
        # queue): no program could tell them apart, so let jcsaml take the terminal's first.
        wait_for(lambda: not signal_pending(pid, signal.SIGINT), "jcsaml to take the SIGINT")
        os.kill(pid, signal.SIGINT)  # to jcsaml alone
        wait_for(lambda: len(recorded(record)) >= 2, "the forwarded SIGINT in the command")
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(terminal)
    assert recorded(record) == ["SIGINT", "SIGINT", "SIGTERM"]
    assert os.waitstatus_to_exitcode(status) == 42


def test_the_command_gets_none_of_jcsamls_inputs(site: World) -> None:
    configure_plain(site)
    code = "123456"
    ran = site.run(
        "exec", "--server", "-a", "plain", "--skip-prompt", "--",
        sys.executable, "-c",
        "import json, os; print(json.dumps({k: v for k, v in os.environ.items()"
        " if k.startswith('JCSAML_')}))",
        JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=code, JCSAML_USERNAME=PLAIN,
    )  # fmt: skip
    assert ran.status == 0, ran.stderr
    assert json.loads(ran.stdout) == {"JCSAML_EXEC_ACCOUNT": "plain"}
    assert PASSWORD not in ran.stdout + ran.stderr


def test_the_no_keyring_warning_comes_once_per_machine(site: World) -> None:
    configure_plain(site)
    no_keyring = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    warnings = []
    for _ in range(2):
        shutil.rmtree(process_cache.cache_directory(site.env), ignore_errors=True)
        ran = site.run(
            "exec", "--server", "-a", "plain", "--skip-prompt", "--", "true",
            JCSAML_PASSWORD=PASSWORD, **no_keyring,
        )  # fmt: skip
        assert ran.status == 0, ran.stderr
        warnings.append(ran.stderr.count("no OS keyring is available"))
    assert warnings == [1, 0]


# A command that says it is running, then waits; SIGTERM makes it write where it was told.
ORPHAN_CHILD = """
import os, signal, sys, time
started, terminated = sys.argv[1:3]
def on_term(signum, frame):
    with open(terminated, "w") as f:
        f.write("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
with open(started + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(started + ".tmp", started)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("keep", [False, True])
def test_sigkill_of_jcsaml_terminates_the_command_unless_told_to_keep_it(
    site: World, tmp_path: Path, keep: bool
) -> None:
    site.login_ok()
    warm_cache(site)
    started, terminated = tmp_path / "started", tmp_path / "terminated"
    child = script(tmp_path, "child.py", ORPHAN_CHILD)
    flags = ["--no-kill-on-exit"] if keep else []
    jcsaml = site.start(
        "exec", "--server", *flags, "-a", "production", "--",
        sys.executable, child, str(started), str(terminated),
    )  # fmt: skip
    try:
        wait_for(started.exists, "the command to start", timeout=120)
        pid = int(started.read_text())
        jcsaml.kill()  # SIGKILL: jcsaml can do nothing about it
        jcsaml.wait(timeout=60)  # (its pipes stay open while the command runs on)
        if keep:
            time.sleep(1)  # what would have terminated it has had every chance to
            assert not terminated.exists()
            os.kill(pid, 0)  # still running
        else:
            wait_for(terminated.exists, "the command to get SIGTERM", timeout=60)
            assert terminated.read_text() == "SIGTERM"
    finally:
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.kill(int(started.read_text()), signal.SIGKILL)
        jcsaml.communicate(timeout=60)


def test_kill_on_exit_is_an_account_setting(site: World) -> None:
    done = site.run("configure", "-a", "production", "--skip-prompt")
    assert done.status == 0, done.stderr
    config = Path(site.env["JCSAML_CONFIG"])
    config.write_text(config.read_text() + "kill_on_exit = false\n")
    from jcsaml.config import load_account

    assert load_account("production", path=config).kill_on_exit is False
