"""--record FILE through the real CLI: sign in through every factor against the fake JumpCloud,
check that nothing secret or identifying is in the file, and replay the file to a sign-in.

Run with ``RECORDINGS_WRITE=1`` to refresh ``fixtures/recordings/`` from these recordings (the
suite replays those files in tests/test_recordings_replay.py).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jcsaml.cli import Context, main
from jcsaml.recording import RECORDED_BASE_URL
from jcsaml.testing.authenticator import SoftwareAuthenticator
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.replay import Recording, load_recording
from jcsaml.testing.sts import LocalAws
from tests.conftest import REPO, CliResult, cli_environment, run_cli

WRITE = os.environ.get("RECORDINGS_WRITE") == "1"
RECORDINGS = REPO / "fixtures" / "recordings"
ACCOUNT = "012345678987"
DEV_ACCOUNT = "210987654321"
PASSWORD = "recorded-password-never-kept"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SLUG = "acme-prod-aws-admin"
TOTP, PUSH, KEYS = "totp@acme.example", "push@acme.example", "keys@acme.example"
FAKE_ACCOUNT = "100000000001"


@pytest.fixture(scope="module")
def idp_keys() -> IdpKeyPair:
    return IdpKeyPair.generate()


@pytest.fixture(scope="module")
def replay_keys() -> IdpKeyPair:
    return IdpKeyPair.generate()


def _roles(account: str) -> list[tuple[str, str]]:
    provider = f"arn:aws:iam::{account}:saml-provider/JumpCloud"
    return [(f"arn:aws:iam::{account}:role/Admin", provider)]


@pytest.fixture(scope="module")
def aws(idp_keys: IdpKeyPair, replay_keys: IdpKeyPair) -> Iterator[LocalAws]:
    """One local STS for the recording (the real account ids) and the replays (the stand-ins
    the recordings map them to, trusting the replay's test key)."""
    with LocalAws() as local:
        for account, keys in (
            (ACCOUNT, idp_keys),
            (DEV_ACCOUNT, idp_keys),
            (FAKE_ACCOUNT, replay_keys),
            ("100000000002", replay_keys),
        ):
            principal = local.create_saml_provider(
                "JumpCloud", keys.metadata_xml(), account_id=account
            )
            local.create_role("Admin", trusted_principal_arn=principal, account_id=account)
        yield local


class World:
    """The fake JumpCloud with a user per factor, the CLI's environment and a file keyring."""

    def __init__(self, home: Path, aws: LocalAws, fake: FakeJumpCloud) -> None:
        self.home = home
        self.aws = aws
        self.fake = fake
        self.keyring = home / "keyring.json"
        self.env = cli_environment(
            home,
            aws.environment(),
            {
                "PYTHON_KEYRING_BACKEND": "jcsaml.testing.keyring_backend.FileKeyring",
                "JCSAML_TEST_KEYRING": str(self.keyring),
            },
        )

    def configure(self, name: str, email: str) -> None:
        result = run_cli(
            "configure", "-a", name, "--url", self.fake.app_url(SLUG),
            "--console-url", self.fake.url, "--username", email, "--skip-prompt", env=self.env,
        )  # fmt: skip
        assert result.status == 0, result.stderr

    def run(self, *args: str, **env: str) -> CliResult:
        return run_cli(*args, env={**self.env, **env}, timeout=90)

    def keyring_secrets(self) -> list[str]:
        """The xsrf token and cookie values of every JumpCloud session saved in the keyring."""
        found: list[str] = []
        if not self.keyring.exists():
            return found
        for value in json.loads(self.keyring.read_text()).values():
            if value.startswith("{"):
                session = json.loads(value)
                found.append(session["xsrf"])
                found.extend(cookie["value"] for cookie in session["cookies"])
        return found


@pytest.fixture
def world(hermetic_home: Path, aws: LocalAws, idp_keys: IdpKeyPair) -> Iterator[World]:
    apps = [
        FakeApp(SLUG, roles=_roles(ACCOUNT), display_label="Acme AWS production"),
        FakeApp("acme-dev-aws", roles=_roles(DEV_ACCOUNT), display_label="Acme AWS dev"),
    ]
    users = [
        FakeUser(TOTP, PASSWORD, totp_secret=SECRET, apps=[SLUG, "acme-dev-aws"]),
        FakeUser(PUSH, PASSWORD, factors=["push"], apps=[SLUG]),
        FakeUser(KEYS, PASSWORD, factors=["webauthn"], apps=[SLUG]),
    ]
    with FakeJumpCloud(users=users, apps=apps, keys=idp_keys) as fake:
        yield World(hermetic_home, aws, fake)


def check_recording(world: World, path: Path, result: CliResult, *secrets: str) -> Recording:
    """The file is 0600, the command said where it is, and none of the secrets or identifying
    values the sign-in handled is in it."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"recording the exchanges with JumpCloud to {path}" in result.stderr
    assert "it holds no passwords, MFA codes" in result.stderr
    text = path.read_text()
    forbidden = [
        PASSWORD,
        "acme.example",  # every e-mail address
        ACCOUNT,
        DEV_ACCOUNT,
        SLUG,
        world.fake.url.removeprefix("http://"),  # the company's host
        world.fake.keys.cert_base64(),
        *world.keyring_secrets(),  # cookie values and xsrf tokens
        *secrets,
    ]
    for value in forbidden:
        assert value and value not in text, f"{value!r} is in the recording"
    recording = load_recording(path)
    assert recording.exchanges, "nothing was recorded"
    for exchange in recording.exchanges:
        for match in re.finditer(r'name="SAMLResponse" value="([^"]*)"', exchange.response.body):
            skeleton = base64.b64decode(match.group(1)).decode()
            assert "AttributeValue" in skeleton and "Role" in skeleton
            assert re.search(r"arn:aws:iam::10000000000[12]:role/Admin", skeleton)
            for name in ("SignatureValue", "DigestValue", "X509Certificate"):
                assert re.search(rf"<ds:{name}>[^<]", skeleton) is None, name
    if WRITE:
        RECORDINGS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, RECORDINGS / path.name)
    return recording


def replay(
    recording: Recording,
    home: Path,
    aws: LocalAws,
    keys: IdpKeyPair,
    *args: str,
    session_xsrf: str | None = None,
    **env: str,
) -> CliResult:
    """Replay ``recording`` to ``jcsaml ARGS`` for an account pointed at the replay server."""
    home.mkdir(exist_ok=True)
    keyring = home / "keyring.json"
    cli_env = cli_environment(
        home,
        aws.environment(),
        {
            "PYTHON_KEYRING_BACKEND": "jcsaml.testing.keyring_backend.FileKeyring",
            "JCSAML_TEST_KEYRING": str(keyring),
            **env,
        },
    )
    with recording.server(keys) as server:
        if session_xsrf is not None:  # the console session the recorded command reused
            entry = f"jcsaml\nsession:user@example.invalid@{server.url}"
            saved = {"xsrf": session_xsrf, "cookies": []}
            keyring.write_text(json.dumps({entry: json.dumps(saved)}))
        extra: tuple[str, ...]
        if args[0] == "configure":
            extra = ("--url", f"{server.url}/saml2/app-1", "--console-url", server.url)
        else:
            configured = run_cli(
                "configure", "-a", "replay", "--url", f"{server.url}/saml2/app-1",
                "--console-url", server.url, "--username", "user@example.invalid",
                "--skip-prompt", env=cli_env,
            )  # fmt: skip
            assert configured.status == 0, configured.stderr
            extra = ("-a", "replay")
        result = run_cli(*args, *extra, env=cli_env, timeout=90)
        assert result.status == 0, result.stderr + "\n" + "\n".join(server.mismatches)
        server.assert_done()
    return result


def test_totp_sign_in_is_recorded_redacted_and_replays(
    world: World, tmp_path: Path, replay_keys: IdpKeyPair
) -> None:
    world.configure("production", TOTP)
    code = world.fake.totp_code(TOTP)
    path = tmp_path / "totp.json"
    result = world.run(
        "login", "-a", "production", "--skip-prompt", "--record", str(path),
        JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=code,
    )  # fmt: skip
    assert result.status == 0, result.stderr
    recording = check_recording(world, path, result, code)
    assert recording.command == "login"
    assert [(e.request.method, e.request.path) for e in recording.exchanges] == [
        ("GET", "/userconsole/xsrf"),
        ("POST", "/userconsole/auth"),
        ("POST", "/userconsole/auth"),
        ("GET", "/saml2/app-1"),
    ]
    assert recording.exchanges[1].response.json()["factors"][0]["type"] == "totp"
    assert recording.sts == [
        {
            "action": "AssumeRoleWithSAML",
            "params": {
                "RoleArn": f"arn:aws:iam::{FAKE_ACCOUNT}:role/Admin",
                "PrincipalArn": f"arn:aws:iam::{FAKE_ACCOUNT}:saml-provider/JumpCloud",
                "SAMLAssertion": "<redacted>",
                "DurationSeconds": 3600,
            },
            "outcome": "200",
        }
    ]
    replayed = replay(
        recording, tmp_path / "replay", world.aws, replay_keys,
        "login", "--skip-prompt", JCSAML_PASSWORD="typed", JCSAML_MFA_TOKEN="123456",
    )  # fmt: skip
    assert f"Logged in as arn:aws:iam::{FAKE_ACCOUNT}:role/Admin" in replayed.stdout


def test_push_sign_in_is_recorded_redacted_and_replays(
    world: World, tmp_path: Path, replay_keys: IdpKeyPair
) -> None:
    world.configure("production", PUSH)
    world.fake.script_push(PUSH, "accepted", after_polls=1)
    path = tmp_path / "push.json"
    result = world.run(
        "login", "-a", "production", "--skip-prompt", "--record", str(path),
        JCSAML_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert result.status == 0, result.stderr
    push_ids = {
        r.path.split("/")[4]
        for r in world.fake.requests
        if r.path.startswith("/userconsole/auth/push/")
    }
    assert push_ids
    recording = check_recording(world, path, result, *push_ids)
    paths = [e.request.path for e in recording.exchanges]
    assert "/userconsole/auth/push/id-1/login" in paths
    replayed = replay(recording, tmp_path / "replay", world.aws, replay_keys, "login",
                      "--skip-prompt", JCSAML_PASSWORD="typed")  # fmt: skip
    assert "Approve the sign-in request" in replayed.stderr


def test_session_reuse_is_recorded_and_replays(
    world: World, tmp_path: Path, replay_keys: IdpKeyPair
) -> None:
    world.configure("production", TOTP)
    first = world.run(
        "login", "-a", "production", "--skip-prompt",
        JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=world.fake.totp_code(TOTP),
    )  # fmt: skip
    assert first.status == 0, first.stderr
    path = tmp_path / "session_reuse.json"
    result = world.run("list-roles", "-a", "production", "--skip-prompt", "--record", str(path))
    assert result.status == 0, result.stderr
    recording = check_recording(world, path, result)
    assert [(e.request.method, e.request.path) for e in recording.exchanges] == [
        ("GET", "/userconsole/api/self"),
        ("GET", "/saml2/app-1"),
    ]
    xsrf = recording.exchanges[0].request.headers["X-Xsrftoken"]
    replayed = replay(recording, tmp_path / "replay", world.aws, replay_keys, "list-roles",
                      "--skip-prompt", session_xsrf=xsrf)  # fmt: skip
    assert f"arn:aws:iam::{FAKE_ACCOUNT}:role/Admin" in replayed.stdout


def test_discovery_is_recorded_and_replays(
    world: World, tmp_path: Path, replay_keys: IdpKeyPair
) -> None:
    path = tmp_path / "discovery.json"
    code = world.fake.totp_code(TOTP)
    result = world.run(
        "configure", "--discover", "--url", world.fake.app_url(SLUG), "--console-url",
        world.fake.url, "--username", TOTP, "--skip-prompt", "--record", str(path),
        JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=code,
    )  # fmt: skip
    assert result.status == 0, result.stderr
    recording = check_recording(world, path, result, code, "Acme AWS")
    assert ("GET", "/userconsole/api/applications") in [
        (e.request.method, e.request.path) for e in recording.exchanges
    ]
    replayed = replay(
        recording, tmp_path / "replay", world.aws, replay_keys,
        "configure", "--discover", "--username", "user@example.invalid", "--skip-prompt",
        JCSAML_PASSWORD="typed", JCSAML_MFA_TOKEN="123456",
    )  # fmt: skip
    config = (tmp_path / "replay" / ".jcsaml").read_text()
    assert config.count("/saml2/app-") == 2, replayed.stdout


def test_webauthn_sign_in_is_recorded_redacted_and_replays(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay_keys: IdpKeyPair
) -> None:
    for key, value in world.aws.environment().items():
        monkeypatch.setenv(key, value)  # in this process, botocore reads the endpoint here
    device = SoftwareAuthenticator(name="mine")
    credential_id, public_key = device.register("127.0.0.1")
    world.fake.register_webauthn(KEYS, credential_id, public_key)
    world.configure("production", KEYS)
    path = tmp_path / "webauthn.json"
    out, err = io.StringIO(), io.StringIO()
    env = {**world.env, "JCSAML_PASSWORD": PASSWORD}
    status = main(
        ["login", "-a", "production", "--skip-prompt", "--record", str(path)],
        context=Context(
            environ=env, stdout=out, stderr=err, stdin=io.StringIO(), webauthn_device=device
        ),
    )
    assert status == 0, err.getvalue()
    encoded_id = base64.urlsafe_b64encode(credential_id).rstrip(b"=").decode()
    recording = check_recording(
        world, path, CliResult(status, out.getvalue(), err.getvalue()), encoded_id
    )
    challenge = next(
        e for e in recording.exchanges if e.request.path == "/userconsole/auth/webauthn"
    )
    sent = challenge.response.json()
    assert sent["publicKey"]["challenge"] == "Y2hhbGxlbmdlLTE"  # base64url of "challenge-1"
    answer = next(
        e
        for e in recording.exchanges
        if e.request.method == "POST" and "webauthn" in e.request.path
    )
    assert answer.request.json is not None
    assert set(answer.request.json["publicKeyCredential"]["response"].values()) <= {
        "<redacted>",
        None,
    }
    replayed = replay_webauthn(recording, tmp_path / "replay", world.aws, replay_keys)
    assert f"Logged in as arn:aws:iam::{FAKE_ACCOUNT}:role/Admin" in replayed.stdout


def replay_webauthn(recording: Recording, home: Path, aws: LocalAws, keys: IdpKeyPair) -> CliResult:
    """Replay a security-key sign-in in this process, with a software key holding the
    credential id the recording names (its signature is not checked by the replay)."""
    from jcsaml.webauthn import b64url_decode

    challenge = next(
        e for e in recording.exchanges if e.request.path == "/userconsole/auth/webauthn"
    )
    device = SoftwareAuthenticator(name="replayed")
    for allowed in challenge.response.json()["publicKey"]["allowCredentials"]:
        device.register("127.0.0.1", credential_id=b64url_decode(allowed["id"]))
    home.mkdir(exist_ok=True)
    env = cli_environment(home, aws.environment(), {"JCSAML_PASSWORD": "typed"})
    with recording.server(keys) as server:
        argv = [
            "configure", "-a", "replay", "--url", f"{server.url}/saml2/app-1", "--console-url",
            server.url, "--username", "user@example.invalid", "--skip-prompt",
        ]  # fmt: skip
        assert main(argv, context=Context(environ=env, stdout=io.StringIO())) == 0
        out, err = io.StringIO(), io.StringIO()
        status = main(
            ["login", "-a", "replay", "--skip-prompt"],
            context=Context(
                environ=env, stdout=out, stderr=err, stdin=io.StringIO(), webauthn_device=device
            ),
        )
        assert status == 0, err.getvalue() + "\n".join(server.mismatches)
        server.assert_done()
    assert device.touched == 1
    return CliResult(status, out.getvalue(), err.getvalue())


def test_a_failed_sign_in_is_recorded_too(world: World, tmp_path: Path) -> None:
    world.configure("production", TOTP)
    path = tmp_path / "failed.json"
    result = world.run(
        "login", "-a", "production", "--skip-prompt", "--record", str(path),
        JCSAML_PASSWORD="wrong-password-typed",
    )  # fmt: skip
    assert result.status == 1
    assert result.stderr.strip().splitlines()[-1].startswith("jcsaml: error: ")
    text = path.read_text()
    assert "wrong-password-typed" not in text
    recording = load_recording(path)
    assert recording.exchanges[-1].response.status == 401
    assert "Authentication failed" in recording.exchanges[-1].response.body


def test_recorded_base_url_is_the_replay_servers() -> None:
    from jcsaml.testing import replay

    assert replay.RECORDED_BASE_URL == RECORDED_BASE_URL


# --- the recordings kept under fixtures/recordings/ ---------------------------------------------

#: Each kept recording and what the replayed command needs (webauthn.json: replayed below, in
#: this process, with a software security key).
KEPT = {
    "totp.json": ("login", "--skip-prompt"),
    "push.json": ("login", "--skip-prompt"),
    "session_reuse.json": ("list-roles", "--skip-prompt"),
    "discovery.json": ("configure", "--discover", "--username", "user@example.invalid",
                       "--skip-prompt"),
}  # fmt: skip


def test_every_kept_recording_is_replayed() -> None:
    assert {p.name for p in RECORDINGS.glob("*.json")} == {*KEPT, "webauthn.json"}


def test_the_kept_webauthn_recording_replays_to_a_sign_in(
    tmp_path: Path, aws: LocalAws, replay_keys: IdpKeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in aws.environment().items():
        monkeypatch.setenv(key, value)  # in this process, botocore reads the endpoint here
    recording = load_recording(RECORDINGS / "webauthn.json")
    result = replay_webauthn(recording, tmp_path / "home", aws, replay_keys)
    assert f"Logged in as arn:aws:iam::{FAKE_ACCOUNT}:role/Admin" in result.stdout


@pytest.mark.parametrize("name", sorted(KEPT))
def test_a_kept_recording_replays_to_a_sign_in(
    name: str, tmp_path: Path, aws: LocalAws, replay_keys: IdpKeyPair
) -> None:
    recording = load_recording(RECORDINGS / name)
    assert recording.roles, "the recording holds no assertion"
    first = recording.exchanges[0].request
    xsrf = first.headers.get("X-Xsrftoken") if first.path == "/userconsole/api/self" else None
    result = replay(
        recording, tmp_path / "home", aws, replay_keys, *KEPT[name], session_xsrf=xsrf,
        JCSAML_PASSWORD="typed", JCSAML_MFA_TOKEN="123456",
    )  # fmt: skip
    assert "Traceback" not in result.stderr


def test_exec_and_credential_process_record_too(world: World, tmp_path: Path) -> None:
    world.configure("production", TOTP)
    # exec replaces itself with the command: the recording is complete before that.
    path = tmp_path / "exec.json"
    check = (
        "import json, sys; d = json.load(open(sys.argv[1])); "
        "sys.exit(0 if d['exchanges'] and d['sts'] else 5)"
    )
    result = world.run(
        "exec", "-a", "production", "--skip-prompt", "--record", str(path), "--",
        sys.executable, "-c", check, str(path),
        JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=world.fake.totp_code(TOTP),
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert load_recording(path).command == "exec"
    # credential-process: stdout stays the JSON botocore reads; the note goes to stderr.
    path = tmp_path / "process.json"
    result = world.run(
        "credential-process", "-a", "production", "--skip-prompt", "--force", "--record",
        str(path), JCSAML_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout)["Version"] == 1
    recording = check_recording(world, path, result)
    assert recording.command == "credential-process"
    assert [e.request.path for e in recording.exchanges] == [
        "/userconsole/api/self",
        "/saml2/app-1",
    ]
