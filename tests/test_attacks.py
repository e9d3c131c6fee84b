"""Each attack that once worked against jcsaml, kept as a regression test through the CLI:
completion running names as code, console sending session keys where ``region`` pointed,
unsigned responses trusted on first use, discovery fetching pages off the tenant's host, answer
deadlines escaped by ``Connection: close`` and HTTP/1.0 drips, raw escape sequences printed from
app and section names, and an import of any size."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import trustme

from jcsaml.console import get_signin_token
from jcsaml.errors import ConsoleUnavailableError, StsTimeoutError
from jcsaml.saml import AwsRole
from jcsaml.sts import assume_role_with_saml, make_client
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from tests.conftest import CliResult, cli_environment, fresh_credentials, run_cli

EMAIL = "alice@acme.example"
PASSWORD = "correct horse battery staple"
ACCOUNT = "012345678987"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:saml-provider/JumpCloud"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/AcmeJumpCloudAdminRO"
MARGIN = 4.0  # generous: only an upper bound on giving up is asserted, never a speed
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def one_line_error(result: CliResult, *needles: str) -> str:
    assert result.status == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jcsaml: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- 1. completion treats names as data -------------------------------------------------------


def hostile_names(home: Path) -> list[str]:
    """Account names that run a command if a shell evaluates them, each leaving a file."""
    return [
        f"$(touch {home}/owned1)",
        f"`touch {home}/owned2`",
        f"x;touch {home}/owned3",
        f"y|touch {home}/owned4",
        f"$(touch${{IFS}}{home}/owned5)",
        'it\'s "quoted"',
        "with space",
    ]


@pytest.fixture
def completion_env(hermetic_home: Path, tmp_path: Path) -> dict[str, str]:
    sections = [*hostile_names(hermetic_home), "production"]
    text = "".join(f"[{name}]\nurl = https://sso.jumpcloud.com/saml2/a\n" for name in sections)
    text += "[group team]\naccounts = production\n"
    (hermetic_home / ".jcsaml").write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "jcsaml"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m jcsaml "$@"\n')
    shim.chmod(0o755)
    environment = cli_environment(hermetic_home)
    environment["PATH"] = f"{bin_dir}:{environment.get('PATH', '')}"
    return environment


def complete_bash(env: dict[str, str], words: list[str], cwd: Path) -> list[str]:
    """What bash offers with the cursor at the end of ``words`` (the last one being typed),
    each offer then read back by the shell as the user's command line would be."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        "source <(jcsaml completion bash)\n"
        f"COMP_WORDS=({quoted})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_jcsaml\n"
        # What the line would hold once an offer is inserted: read as shell words, not run.
        'for reply in "${COMPREPLY[@]}"; do eval "set -- $reply"; printf "%s\\n" "$*"; done\n'
    )
    done = subprocess.run(
        ["bash", "-c", program],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.splitlines()


def owned(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name.startswith("owned"))


@pytest.mark.parametrize("prefix", ["", "$", "`", "x", "y", "'", "w"])
def test_bash_completes_hostile_account_names_as_data(
    completion_env: dict[str, str], hermetic_home: Path, prefix: str
) -> None:
    names = hostile_names(hermetic_home)
    for line in (["jcsaml", "login", "-a", prefix], ["jcsaml", "-a", prefix]):
        offered = complete_bash(completion_env, line, hermetic_home)
        expected = [n for n in [*names, "production", "team"] if n.startswith(prefix)]
        assert offered == expected
    assert owned(hermetic_home) == []


def test_bash_global_account_help_topics_groups_and_exec_commands(
    completion_env: dict[str, str], hermetic_home: Path
) -> None:
    home = hermetic_home
    assert complete_bash(completion_env, ["jcsaml", "-a", "production", "lo"], home) == [
        "login",
        "logout",
    ]
    assert complete_bash(completion_env, ["jcsaml", "-a", "pr"], home) == ["production"]
    assert complete_bash(completion_env, ["jcsaml", "login", "-a", "te"], home) == ["team"]
    assert "saml-verification" in complete_bash(completion_env, ["jcsaml", "help", "saml"], home)
    after_dashes = complete_bash(
        completion_env, ["jcsaml", "exec", "-a", "production", "--", "bas"], home
    )
    assert "bash" in after_dashes
    assert owned(home) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse_where_the_shell_is_present(
    completion_env: dict[str, str], hermetic_home: Path, shell: str
) -> None:
    script = run_cli("completion", shell, env=completion_env).stdout
    assert "compgen -W" not in script and "eval " not in script
    if shutil.which(shell):  # the shell's own parser, where it is installed
        subprocess.run([shell, "-n"], input=script, text=True, check=True, timeout=60)
    assert owned(hermetic_home) == []


def test_names_outside_the_set_are_refused_or_skipped_and_reported(
    hermetic_home: Path, tmp_path: Path
) -> None:
    env = cli_environment(hermetic_home)
    hostile = "$(touch owned)"
    result = run_cli(
        "configure", "-a", hostile, "--url", "https://sso.jumpcloud.com/saml2/a",
        "--skip-prompt", env=env,
    )  # fmt: skip
    one_line_error(result, "invalid account name", "letters, digits")
    result = run_cli(
        "configure", "-a", "ok", "--url", "https://sso.jumpcloud.com/saml2/a",
        "--profile", "a b", "--skip-prompt", env=env,
    )  # fmt: skip
    one_line_error(result, "aws_profile", "letters, digits")
    saml2aws = tmp_path / "saml2aws"
    saml2aws.write_text(
        f"[{hostile}]\nprovider = JumpCloud\nurl = https://sso.jumpcloud.com/saml2/a\n"
        "[fine]\nprovider = JumpCloud\nurl = https://sso.jumpcloud.com/saml2/b\n"
    )
    result = run_cli("configure", "--import-saml2aws", str(saml2aws), "--skip-prompt", env=env)
    assert result.status == 0, result.stderr
    assert hostile in result.stdout and "letters, digits" in result.stdout
    config = (hermetic_home / ".jcsaml").read_text()
    assert "[fine]" in config and hostile not in config


# --- 2. values that build URLs ------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A server on 127.0.0.2 that must never be connected to."""
    server = socket.socket()
    server.bind(("127.0.0.2", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    count = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            server.accept()[0].close()
            count += 1
    return count


def test_console_refuses_a_region_that_is_not_a_region(
    hermetic_home: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    hostile = f"127.0.0.2:{port}/x#"
    env = cli_environment(hermetic_home)
    (hermetic_home / ".jcsaml").write_text(
        "[prod]\nurl = https://sso.jumpcloud.com/saml2/a\nusername = a@b.example\n"
    )
    result = run_cli("console", "-a", "prod", "--link", "--region", hostile, env=env)
    one_line_error(result, "invalid --region", repr(hostile))
    result = run_cli("console", "-a", "prod", "--link", env={**env, "AWS_REGION": hostile})
    one_line_error(result, "AWS_REGION", repr(hostile))
    for command in ("login", "credential-process"):  # before "Signing in", nothing asked
        result = run_cli(command, "-a", "prod", env={**env, "AWS_REGION": hostile})
        one_line_error(result, "AWS_REGION", repr(hostile))
    result = run_cli("configure", "-a", "prod", "--region", hostile, "--skip-prompt", env=env)
    one_line_error(result, "region", "not an AWS region")
    with (hermetic_home / ".jcsaml").open("a") as config:
        config.write(f"region = {hostile}\n")
    result = run_cli("console", "-a", "prod", "--link", env=env)
    one_line_error(result, "region of account 'prod'", repr(hostile))
    assert connections(listener) == 0


@pytest.mark.parametrize(
    "destination",
    ["https://evil.example/phish", "https://console.aws.amazon.com.evil.example/", "//evil/x"],
)
def test_console_refuses_a_destination_off_the_console(
    hermetic_home: Path, destination: str
) -> None:
    env = cli_environment(hermetic_home)
    (hermetic_home / ".jcsaml").write_text("[prod]\nurl = https://sso.jumpcloud.com/saml2/a\n")
    result = run_cli("console", "-a", "prod", "--link", "--destination", destination, env=env)
    one_line_error(result, "invalid --destination", "console")


def test_a_plain_http_federation_url_off_loopback_is_refused(hermetic_home: Path) -> None:
    env = cli_environment(hermetic_home, {"JCSAML_FEDERATION_URL": "http://evil.example/f"})
    (hermetic_home / ".jcsaml").write_text("[prod]\nurl = https://sso.jumpcloud.com/saml2/a\n")
    result = run_cli("console", "-a", "prod", "--link", env=env)
    one_line_error(result, "JCSAML_FEDERATION_URL", "https://")


# --- 3. verified or refused ---------------------------------------------------------------------


def test_an_unsigned_first_response_is_refused_and_nothing_is_written(
    hermetic_home: Path,
) -> None:
    app = FakeApp(slug="aws", roles=[(ROLE, PRINCIPAL)], sign="none")
    user = FakeUser(email=EMAIL, password=PASSWORD, apps=["aws"])
    with FakeJumpCloud(users=[user], apps=[app]) as jumpcloud:
        env = cli_environment(hermetic_home, {"JCSAML_PASSWORD": PASSWORD})
        (hermetic_home / ".jcsaml").write_text(
            f"[prod]\nurl = {jumpcloud.app_url('aws')}\nconsole_url = {jumpcloud.url}\n"
            f"username = {EMAIL}\n"
        )
        credentials = hermetic_home / ".aws" / "credentials"
        credentials.parent.mkdir()
        before = "[other]\naws_access_key_id = AKIAEXAMPLE\n"
        credentials.write_text(before)
        result = run_cli("login", "-a", "prod", "--skip-prompt", env=env)
        one_line_error(result, "'prod' is not signed", "allow_unsigned = true")
        assert credentials.read_text() == before
        assert "idp_cert_sha256" not in (hermetic_home / ".jcsaml").read_text()


# --- 4. discovery stays inside the tenant --------------------------------------------------------


def test_discovery_never_fetches_an_application_listed_on_another_host(
    hermetic_home: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    off_host = f"http://127.0.0.2:{port}/saml2/evil"
    provider = f"arn:aws:iam::{ACCOUNT}:saml-provider/JumpCloud"
    apps = [
        FakeApp("aws-prod", roles=[(ROLE, provider)], display_label="AWS Production"),
        FakeApp(
            "aws-dev",
            roles=[("arn:aws:iam::210987654321:role/Dev", provider)],
            display_label="AWS \x1b]0;PWNED\x07Dev\x1b[2J",
        ),
        FakeApp(
            "evil",
            roles=[(ROLE, provider)],
            display_label="AWS Evil",
            listed_sso_url=off_host,
        ),
    ]
    user = FakeUser(EMAIL, PASSWORD, apps=[a.slug for a in apps])
    with FakeJumpCloud(users=[user], apps=apps, keys=IdpKeyPair.generate()) as jumpcloud:
        env = cli_environment(hermetic_home, {"JCSAML_PASSWORD": PASSWORD})
        result = run_cli(
            "configure", "--discover", "--url", jumpcloud.app_url("aws-prod"),
            "--console-url", jumpcloud.url, "--username", EMAIL, "--skip-prompt", env=env,
        )  # fmt: skip
    assert result.status == 0, result.stderr
    assert connections(listener) == 0
    assert f"AWS Evil: its SSO URL is on http://127.0.0.2:{port}" in result.stdout
    assert "not fetched" in result.stdout
    config = (hermetic_home / ".jcsaml").read_text()
    assert "127.0.0.2" not in config
    # Each new account's certificate is shown before it is saved, compared with the pin.
    assert "IdP certificate SHA-256" in result.stdout
    assert "(the same as account" in result.stdout
    # The hostile label is shown escaped.
    assert not any(raw in result.stdout + result.stderr for raw in RAW)
    assert "\\x1b]0;PWNED\\x07Dev\\x1b[2J" in result.stdout


# --- 6. the deadline holds for every kind of answer ---------------------------------------------


class DripServer:
    """Answers every request one byte at a time, forever, with the framing asked for:
    ``close`` (HTTP/1.1, Connection: close, no length), ``http10`` (HTTP/1.0), ``chunked``
    or ``keep-alive`` (a Content-Length it takes minutes to reach). Over TLS when given a
    server context."""

    HEADERS: ClassVar[dict[str, str]] = {
        "close": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        "http10": "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n",
        "chunked": (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ),
        "keep-alive": (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        ),
    }

    def __init__(self, framing: str, context: ssl.SSLContext | None = None) -> None:
        self.framing = framing
        self.context = context
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.stopped = threading.Event()
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.context else "http"
        return f"{scheme}://127.0.0.1:{self.server.getsockname()[1]}"

    def __enter__(self) -> DripServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        # Closing the socket does not wake a thread blocked in accept(): a connection does.
        with contextlib.suppress(OSError):
            socket.create_connection(self.server.getsockname(), timeout=1).close()
        self.thread.join(timeout=10)
        self.server.close()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self.stopped.is_set():
                conn.close()
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            if self.context is not None:
                conn.settimeout(10)
                conn = self.context.wrap_socket(conn, server_side=True)
            received = b""
            while b"\r\n\r\n" not in received:
                part = conn.recv(4096)
                if not part:
                    return
                received += part
            self.requests += 1
            head = self.HEADERS[self.framing].encode()
            conn.sendall(head)
            body = b'{"xsrf": "' + b"x" * 100000
            for index in range(len(body)):
                if self.stopped.wait(0.2):
                    break
                byte = body[index : index + 1]
                conn.sendall(b"1\r\n" + byte + b"\r\n" if self.framing == "chunked" else byte)
        with contextlib.suppress(OSError):
            conn.close()


FRAMINGS = ["close", "http10", "chunked", "keep-alive"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["http", "https"])
def tls(request: pytest.FixtureRequest, ca: trustme.CA, tmp_path: Path) -> dict[str, object]:
    """The server context and the client's CA variables, for the https runs."""
    if request.param == "http":
        return {"context": None, "env": {}}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return {
        "context": context,
        "env": {"REQUESTS_CA_BUNDLE": str(bundle), "AWS_CA_BUNDLE": str(bundle)},
    }


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_dripping_jumpcloud_gives_up_at_http_timeout(
    hermetic_home: Path, tls: dict[str, object], framing: str
) -> None:
    with DripServer(framing, tls["context"]) as drip:  # type: ignore[arg-type]
        (hermetic_home / ".jcsaml").write_text(
            f"[drip]\nurl = {drip.url}/saml2/aws\nconsole_url = {drip.url}\n"
            f"username = {EMAIL}\nhttp_timeout = 2\n"
        )
        env = cli_environment(hermetic_home, tls["env"], {"JCSAML_PASSWORD": PASSWORD})  # type: ignore[arg-type]
        started = time.monotonic()
        result = run_cli("login", "-a", "drip", "--skip-prompt", env=env)
        elapsed = time.monotonic() - started
        assert drip.requests >= 1
    one_line_error(result, "within 2 s")
    assert elapsed < 2 + MARGIN + 3  # + the interpreter's start-up


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_dripping_sts_gives_up_at_sts_timeout(
    monkeypatch: pytest.MonkeyPatch, tls: dict[str, object], framing: str
) -> None:
    with DripServer(framing, tls["context"]) as drip:  # type: ignore[arg-type]
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", drip.url)
        for key, value in tls["env"].items():  # type: ignore[attr-defined]
            monkeypatch.setenv(key, value)
        client = make_client("us-east-1", timeout=1)  # made first: its imports are not the call's
        started = time.monotonic()
        with pytest.raises(StsTimeoutError, match=r"within 1 s"):
            assume_role_with_saml(
                AwsRole(ROLE, PRINCIPAL), "PHNhbWxwOlJlc3BvbnNlLz4=", timeout=1, client=client
            )
        assert time.monotonic() - started < 1 + MARGIN
        assert drip.requests >= 1


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_dripping_federation_endpoint_gives_up_at_its_timeout(
    monkeypatch: pytest.MonkeyPatch, tls: dict[str, object], framing: str
) -> None:
    credentials = fresh_credentials(
        ROLE, access_key_id="ASIAEXAMPLE", secret_access_key="secret", session_token="token"
    )
    with DripServer(framing, tls["context"]) as drip:  # type: ignore[arg-type]
        for key, value in tls["env"].items():  # type: ignore[attr-defined]
            monkeypatch.setenv(key, value)
        started = time.monotonic()
        with pytest.raises(ConsoleUnavailableError, match=r"within 1 s"):
            get_signin_token(credentials, f"{drip.url}/federation", timeout=1)
        assert time.monotonic() - started < 1 + MARGIN
        assert drip.requests >= 1


# --- 7. every command escapes what came from outside ---------------------------------------------

HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\u202eevil\x9b"


def test_every_command_escapes_hostile_names_and_values(
    hermetic_home: Path, tmp_path: Path
) -> None:
    env = cli_environment(hermetic_home, {"JCSAML_PASSWORD": PASSWORD})
    (hermetic_home / ".jcsaml").write_text(
        f"[ok]\nurl = https://sso.jumpcloud.com/saml2/a\nusername = {HOSTILE}@x.example\n"
        f"account_aliases = {ACCOUNT}:{HOSTILE}\n"
        f"[{HOSTILE}]\nurl = https://sso.jumpcloud.com/saml2/{HOSTILE}\n"
        f"[group {HOSTILE}]\naccounts = ok\n"
    )
    saml2aws = tmp_path / "saml2aws"
    saml2aws.write_text(
        f"[{HOSTILE}]\nprovider = JumpCloud\nurl = https://sso.jumpcloud.com/saml2/a\n"
        f"[other]\nprovider = {HOSTILE}\n"
    )
    commands = [
        ("completion", "--accounts"),
        ("status",),
        ("status", "-a", "ok"),
        ("status", "-a", HOSTILE),
        ("login", "-a", HOSTILE, "--skip-prompt"),
        ("login", "-a", "ok", "--role", HOSTILE, "--skip-prompt"),
        ("list-roles", "-a", HOSTILE, "--skip-prompt"),
        ("exec", "-a", HOSTILE, "--", "true"),
        ("script", "-a", HOSTILE),
        ("credential-process", "-a", HOSTILE),
        ("console", "-a", HOSTILE, "--link"),
        ("logout", "-a", HOSTILE),
        ("help", HOSTILE),
        ("configure", "-a", "ok", "--skip-prompt", "--region", HOSTILE),
        ("configure", "--import-saml2aws", str(saml2aws), "--skip-prompt"),
    ]
    for command in commands:
        result = run_cli(*command, env=env)
        shown = result.stdout + result.stderr
        assert not any(raw in shown for raw in RAW), (command, shown)
    imported = run_cli("configure", "--import-saml2aws", str(saml2aws), "--skip-prompt", env=env)
    assert "\\x1b]0;PWNED\\x07" in imported.stdout


# --- 10. bounds ----------------------------------------------------------------------------------


def test_a_huge_saml2aws_file_is_refused_without_reading_it(
    hermetic_home: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "saml2aws"
    section = "[a]\nprovider = JumpCloud\nurl = https://sso.jumpcloud.com/saml2/a\n"
    with huge.open("w") as file:
        for _ in range(38 * 1024 * 1024 // len(section) + 1):
            file.write(section)
    assert huge.stat().st_size > 38 * 1024 * 1024
    env = cli_environment(hermetic_home)
    result = run_cli("configure", "--import-saml2aws", str(huge), "--skip-prompt", env=env)
    one_line_error(result, str(huge), "larger than 1024 KiB")
    assert not (hermetic_home / ".jcsaml").exists()


def test_a_huge_config_file_is_refused(hermetic_home: Path) -> None:
    config = hermetic_home / ".jcsaml"
    config.write_text("[a]\nurl = https://sso.jumpcloud.com/saml2/a\n" + "#" * (2 * 1024 * 1024))
    result = run_cli("login", "-a", "a", "--skip-prompt", env=cli_environment(hermetic_home))
    one_line_error(result, str(config), "larger than 1024 KiB")
