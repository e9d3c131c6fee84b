"""The world the end-to-end tests run in: one AWS account trusting the fake JumpCloud (LocalAws,
started once per module) and, per test, a fake JumpCloud with its users and app, a temporary
HOME and the environment the real CLI runs in there.

``conftest.py`` gives the fixtures: ``aws_account``, ``keys``, ``make_world`` (a world with
knobs), ``world``, ``world_with``, ``runbook_world`` and ``signed`` (the library signed in
once, in the test's process). A module whose tests all need other knobs overrides ``world``
with ``make_world(...)``. Test modules share helpers through this module, never through each
other."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import Account
from jcsaml.credential_server import CredentialServer
from jcsaml.credential_source import CredentialSource, ProfileCache, default_source
from jcsaml.credentials_file import MemoryCredentialsStore
from jcsaml.secret_store import MemoryStore
from jcsaml.signin import login
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws
from tests.forkserver import run_jcsaml


def cli_environment(home: Path, *extra: Mapping[str, str]) -> dict[str, str]:
    """The environment a CLI subprocess runs in: this process's, minus any AWS or jcsaml
    settings, with every jcsaml and AWS file under ``home`` and the null keyring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JCSAML_", "XDG_"))}
    env.update(
        HOME=str(home),
        JCSAML_CONFIG=str(home / ".jcsaml"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    for more in extra:
        env.update(more)
    return env


@dataclass
class CliResult:
    status: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> CliResult:
    """The real CLI in a process of its own (``python -m jcsaml``), as a user runs it; forked
    from a process that has already imported it when that changes nothing (tests/forkserver.py)."""
    done = run_jcsaml(
        args,
        env=env if env is not None else os.environ,
        stdin=stdin if stdin is not None else "",
        timeout=timeout,
    )
    return CliResult(done.status, done.stdout, done.stderr)


ACCOUNT = "012345678987"
EMAIL = "alice@acme.example"
PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SLUG = "acme-prod-aws-admin"
READ_ONLY = "AcmeJumpCloudAdminRO"
ADMIN = "AcmeJumpCloudAdmin"
SIGN_IN = "/userconsole/auth"
SAML_PAGE = f"/saml2/{SLUG}"  # the app's SSO page, which answers with the SAML response
AWS_CLI = shutil.which("aws", path=os.path.dirname(sys.executable)) or "aws"
#: What reusing a live console session costs: JumpCloud is asked whether it is alive, then for
#: the SAML page. No xsrf, no password, no MFA.
SESSION_REUSE = [("GET", "/userconsole/api/self"), ("GET", SAML_PAGE)]
#: The library's unit tests (no server behind them): the SAML provider, the read-only role and
#: the app's address.
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:saml-provider/JumpCloud"
READ_ONLY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{READ_ONLY}"
APP_URL = "https://sso.jumpcloud.com/saml2/acme"
#: The runbook's OpenSSL config for the IdP signing certificate (``setup cert --config``).
RUNBOOK_CONFIG = """\
# IdP signing certificate for the JumpCloud AWS application
[ req ]
default_bits = 2048
default_md = sha256
default_days = 1095
encrypt_key = no
prompt = no
distinguished_name = req_distinguished_name

[ req_distinguished_name ]
countryName = US
stateOrProvinceName = Colorado
localityName = Boulder
organizationName = Acme
organizationalUnitName = Operations
commonName = JumpCloud   # what the certificate is for
"""


@dataclass(frozen=True)
class AwsAccount:
    """LocalAws with account ``ACCOUNT``'s SAML provider ``JumpCloud`` (trusting ``keys``) and
    its roles: ``roles`` maps a role's name to its ARN, and ``"principal"`` to the provider's."""

    local: LocalAws
    keys: IdpKeyPair
    roles: dict[str, str]

    @property
    def principal(self) -> str:
        return self.roles["principal"]

    @classmethod
    @contextlib.contextmanager
    def running(cls, keys: IdpKeyPair) -> Iterator[AwsAccount]:
        with LocalAws() as local:
            principal = local.create_saml_provider(
                "JumpCloud", keys.metadata_xml(), account_id=ACCOUNT
            )
            roles = {
                name: local.create_role(name, trusted_principal_arn=principal, account_id=ACCOUNT)
                for name in (READ_ONLY, ADMIN, "Admin")
            }
            # A role for a profile's role_arn: the account's own principals may assume it.
            roles["Deploy"] = local.create_role_with_policy(
                "Deploy",
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                account_id=ACCOUNT,
            )
            roles["principal"] = principal
            yield cls(local, keys, roles)


class World:
    """One user's machine against the fake JumpCloud and LocalAws: the paths under HOME, the
    environment the CLI runs in, and ways to run it."""

    def __init__(
        self,
        home: Path,
        aws: AwsAccount,
        jumpcloud: FakeJumpCloud,
        person: FakeUser,
        *,
        keyring: bool = False,
        env_region: bool = True,
        configure: Sequence[str] = (),
    ) -> None:
        self.home = home
        self.aws = aws.local
        self.keys = aws.keys
        self.roles = aws.roles
        self.jumpcloud = jumpcloud
        self.person = person
        self.password = person.password  # the one the user knows, whatever JumpCloud's becomes
        self.config = home / ".jcsaml"
        self.credentials = home / ".aws" / "credentials"
        self.aws_config = home / ".aws" / "config"
        self.keyring = home / "test-keyring.json"
        self.configure_defaults = tuple(configure)
        aws_env = aws.local.environment()
        if not env_region:  # only the config file names a region, as in the runbook's setting
            aws_env = {k: v for k, v in aws_env.items() if "REGION" not in k}
        self.env = cli_environment(home, aws_env)
        if keyring:
            self.with_keyring()

    def with_keyring(self) -> None:
        """A keyring that keeps what jcsaml saves (the null keyring, the default, keeps nothing)."""
        self.env.update(
            PYTHON_KEYRING_BACKEND="jcsaml.testing.keyring_backend.FileKeyring",
            JCSAML_TEST_KEYRING=str(self.keyring),
        )

    @property
    def app_url(self) -> str:
        """The app's SSO URL, what a user configures as ``url``."""
        return self.jumpcloud.app_url(SLUG)

    def write_aws_config(self, text: str) -> None:
        self.aws_config.parent.mkdir(exist_ok=True)
        self.aws_config.write_text(text)

    def code(self, steps: int = 0, email: str | None = None) -> str:
        return self.jumpcloud.totp_code(email or self.person.email, steps=steps)

    def sign_in_env(self, steps: int = 0) -> dict[str, str]:
        """The variables a non-interactive sign-in takes: the password and the TOTP code."""
        return {"JCSAML_PASSWORD": self.password, "JCSAML_MFA_TOKEN": self.code(steps)}

    def run(self, *args: str, stdin: str | None = None, **extra: str) -> CliResult:
        return run_cli(*args, env={**self.env, **extra}, stdin=stdin)

    def exec_command(
        self,
        *command: str,
        options: Sequence[str] = (),
        account: str = "production",
        stdin: str | None = None,
        **extra: str,
    ) -> CliResult:
        """``jcsaml exec -a ACCOUNT OPTIONS -- COMMAND``."""
        return self.run("exec", "-a", account, *options, "--", *command, stdin=stdin, **extra)

    def configure(
        self,
        *extra: str,
        account: str = "production",
        username: str | None = None,
        mfa: str | None = "TOTP",
        defaults: bool = True,
        slug: str = SLUG,
    ) -> CliResult:
        """``jcsaml configure`` of ``account`` for the app, then (with ``defaults``) the world's
        own defaults, then ``extra`` (so ``extra`` overrides them); asserts it succeeded."""
        mfa_args = ("--mfa", mfa) if mfa else ()
        defaults_args = self.configure_defaults if defaults else ()
        result = self.run(
            "configure", "-a", account, "--url", self.jumpcloud.app_url(slug),
            "--console-url", self.jumpcloud.url, "--username", username or self.person.email,
            *mfa_args, *defaults_args, "--skip-prompt", *extra,
        )  # fmt: skip
        assert result.status == 0, result.stderr
        return result

    def login(
        self,
        *extra: str,
        account: str = "production",
        code: str | None = None,
        steps: int = 0,
        email: str | None = None,
        **env: str,
    ) -> CliResult:
        """A non-interactive login with the password and the current TOTP code (``code=""`` for
        a user without MFA); ``env`` may override ``JCSAML_PASSWORD``."""
        return self.run(
            "login", "-a", account, "--skip-prompt", *extra,
            JCSAML_PASSWORD=env.pop("JCSAML_PASSWORD", self.password),
            JCSAML_MFA_TOKEN=code if code is not None else self.code(steps, email),
            **env,
        )  # fmt: skip

    def login_ok(self, *extra: str, **options: Any) -> CliResult:
        """:meth:`login`, asserting it succeeded."""
        result = self.login(*extra, **options)
        assert result.status == 0, result.stderr
        return result

    def start(self, *args: str, new_session: bool = True, **extra: str) -> subprocess.Popen[str]:
        """``jcsaml ARGS`` in the background; with ``new_session``, without a controlling
        terminal, as under CI or an IDE."""
        return self.spawn([sys.executable, "-m", "jcsaml", *args], new_session, extra)

    def spawn(
        self,
        command: Sequence[str],
        new_session: bool = True,
        extra: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """``command`` in the background, with nothing on stdin and its output captured."""
        return subprocess.Popen(
            command,
            env={**self.env, **(extra or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )

    def detached(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``jcsaml ARGS`` with no controlling terminal (nothing can be asked), as under an IDE."""
        return self.without_terminal([sys.executable, "-m", "jcsaml", *args], extra)

    def aws_cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The AWS CLI in a session of its own: no controlling terminal, as under an IDE."""
        return self.without_terminal([AWS_CLI, *args], extra)

    def without_terminal(
        self,
        command: Sequence[str],
        extra: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``command`` in a session of its own with nothing on stdin: nothing can be asked.
        ``preexec_fn`` runs in the child before the command (to set a resource limit, say)."""
        return subprocess.run(
            command,
            env={**self.env, **(extra or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        home: Path,
        aws: AwsAccount,
        *,
        roles: Sequence[str] = (READ_ONLY, ADMIN),
        app: Mapping[str, Any] | None = None,
        apps: Sequence[FakeApp] = (),
        user: Mapping[str, Any] | None = None,
        users: Sequence[FakeUser] = (),
        keyring: bool = False,
        env_region: bool = True,
        configure: Sequence[str] = ("--profile", "production"),
        **jumpcloud: Any,
    ) -> Iterator[World]:
        """A fake JumpCloud with one app offering ``roles`` (names in ``aws``) and the user
        alice, whose TOTP secret is ``SECRET``; ``app`` and ``user`` override FakeApp and
        FakeUser fields, ``apps`` come after that app and ``users`` after alice; ``jumpcloud``
        are FakeJumpCloud options (the clock by default :func:`totp_window_clock`).
        ``keyring``: a keyring that keeps what is saved; ``env_region``: a region in the
        environment; ``configure``: what :meth:`World.configure` passes before its own."""
        fake_app = FakeApp(
            **{"slug": SLUG, "roles": [(aws.roles[r], aws.principal) for r in roles], **(app or {})}
        )
        person = FakeUser(
            **{
                "email": EMAIL,
                "password": PASSWORD,
                "totp_secret": SECRET,
                "apps": [SLUG],
                **(user or {}),
            }
        )
        jumpcloud.setdefault("clock", totp_window_clock())
        with FakeJumpCloud(
            users=[person, *users], apps=[fake_app, *apps], keys=aws.keys, **jumpcloud
        ) as fake:
            yield cls(
                home, aws, fake, person, keyring=keyring, env_region=env_region, configure=configure
            )


def totp_window_clock() -> Callable[[], float]:
    """A clock that starts at the beginning of a TOTP window and then runs at the real pace: the
    codes a test picks a window or two apart (``steps=``) never cross a window boundary under
    it, however slowly the CLI starts."""
    started = time.time()
    window_start = started - started % 30

    def clock() -> float:
        return window_start + (time.time() - started)

    return clock


class WorldFactory(Protocol):
    def __call__(self, **knobs: Any) -> World: ...


def finish(process: subprocess.Popen[str], timeout: float = 60) -> CliResult:
    """Wait for a process :meth:`World.start` started."""
    out, err = process.communicate(timeout=timeout)
    return CliResult(process.returncode, out, err)


def assert_one_line_error(result: CliResult, *needles: str, status: int = 1) -> None:
    """The CLI failed with ``status`` and one line on stderr, the error, naming ``needles``."""
    assert result.status == status, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jcsaml: error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def last_error_line(result: CliResult) -> str:
    """The error a failed CLI run ended with (after whatever it printed before)."""
    assert result.status == 1, result
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("jcsaml: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def configured_region_line(output: str) -> list[str]:
    """``aws configure list``'s region row: ``region  <value>  <type>  <location>``."""
    for line in output.splitlines():
        words = line.split()
        if words and words[0] == "region":
            return words
    raise AssertionError(output)


# --- the library's world: signed in once, in this process ----------------------------------------


class Clock:
    """A clock the tests move (``advance(minutes=...)``)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Signed:
    """After one sign-in with the password: the account, the saved JumpCloud session in
    ``secrets``, and 25-minute credentials in ``cache``."""

    account: Account
    jumpcloud: FakeJumpCloud
    secrets: MemoryStore
    cache: ProfileCache
    first: AwsCredentials

    def requests(self) -> list[tuple[str, str]]:
        return [(r.method, r.path.split("?", 1)[0]) for r in self.jumpcloud.requests]

    def source(self, clock: Clock) -> CredentialSource:
        """The library's credential source for this account, on ``clock``."""
        return default_source(
            self.account, secrets=self.secrets, cache=self.cache, clock=clock, environ={}
        )

    @classmethod
    @contextlib.contextmanager
    def running(cls, home: Path, aws: AwsAccount) -> Iterator[Signed]:
        """Alice without MFA (she signs in at will), offered the role ``Admin``, signed in."""
        no_mfa = {"totp_secret": None}
        with World.running(home, aws, roles=("Admin",), user=no_mfa, clock=time.time) as world:
            account = Account(
                name="production",
                url=world.jumpcloud.app_url(SLUG),
                console_url=world.jumpcloud.url,
                username=EMAIL,
            )
            secrets = MemoryStore()
            first = login(
                account, password=PASSWORD, session_duration=1500, secrets=secrets, environ={}
            )
            cache = ProfileCache(MemoryCredentialsStore({"production": first}), "production")
            world.jumpcloud.clear_requests()
            yield cls(account, world.jumpcloud, secrets, cache, first)


def fetch(server: CredentialServer) -> dict[str, str]:
    """What botocore's container provider gets from the endpoint."""
    from botocore.utils import ContainerMetadataFetcher

    fetched: dict[str, str] = ContainerMetadataFetcher().retrieve_full_uri(
        server.url, headers={"Authorization": server.token}
    )
    return fetched
