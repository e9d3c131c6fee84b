"""The demo: jcsaml signs in to the bundled fake JumpCloud and a local STS, then runs a command.

``python -m jcsaml.testing.demo`` (needs ``jcsaml[test]``). Everything it writes lives in a
temporary directory that is removed at the end; both servers listen on 127.0.0.1 and are stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws

ACCOUNT_ID = "012345678987"
USER = "alice@acme.example"
PASSWORD = "correct horse battery staple"  # the fake's demo user, not a real secret
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def hermetic_environment(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The demo's environment: nothing of the real home, keyring or AWS setup leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        # XDG_* would put lock files and caches outside the demo's home.
        if not key.startswith(("AWS_", "JCSAML_", "XDG_"))
    }
    env.update(
        {
            "HOME": str(home),
            "JCSAML_CONFIG": str(home / "jcsaml.ini"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws" / "credentials"),
            "AWS_CONFIG_FILE": str(home / "aws" / "config"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
    )
    env.update(extra)
    return env


def _run(title: str, argv: Sequence[str], env: Mapping[str, str]) -> str:
    print(f"\n== {title}\n$ {' '.join(argv)}", flush=True)
    done = subprocess.run(list(argv), env=dict(env), capture_output=True, text=True, check=False)
    sys.stdout.write(done.stdout)
    sys.stdout.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"demo step failed with exit status {done.returncode}: {title}")
    return done.stdout


def main() -> int:
    import pyotp

    keys = IdpKeyPair.generate()
    with tempfile.TemporaryDirectory(prefix="jcsaml-demo-") as tmp, LocalAws() as aws:
        principal = aws.create_saml_provider(
            "JumpCloud", keys.metadata_xml(), account_id=ACCOUNT_ID
        )
        read_only = aws.create_role(
            "AcmeJumpCloudAdminRO", trusted_principal_arn=principal, account_id=ACCOUNT_ID
        )
        admin = aws.create_role(
            "AcmeJumpCloudAdmin", trusted_principal_arn=principal, account_id=ACCOUNT_ID
        )
        user = FakeUser(
            email=USER, password=PASSWORD, totp_secret=TOTP_SECRET, apps=["acme-prod-aws-admin"]
        )
        app = FakeApp(
            slug="acme-prod-aws-admin", roles=[(read_only, principal), (admin, principal)]
        )
        with FakeJumpCloud(users=[user], apps=[app], keys=keys) as jumpcloud:
            env = hermetic_environment(Path(tmp), aws.environment())
            jcsaml = [sys.executable, "-m", "jcsaml"]
            print(f"Fake JumpCloud at {jumpcloud.url}, local STS at {aws.endpoint_url}")
            _run(
                "configure the account",
                [
                    *jcsaml,
                    "configure",
                    "-a",
                    "production",
                    "--url",
                    jumpcloud.app_url(app.slug),
                    "--console-url",
                    jumpcloud.url,
                    "--username",
                    USER,
                    "--mfa",
                    "TOTP",
                    "--role",
                    read_only,
                    "--profile",
                    "production",
                    "--skip-prompt",
                ],
                env,
            )
            login_env = {
                **env,
                "JCSAML_PASSWORD": PASSWORD,
                "JCSAML_MFA_TOKEN": pyotp.TOTP(TOTP_SECRET).now(),
            }
            _run(
                "log in (password + TOTP, non-interactive)",
                [*jcsaml, "login", "-a", "production", "--skip-prompt"],
                login_env,
            )
            # Prefer the AWS CLI installed beside this Python (the test extra's).
            search = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
            aws_cli = shutil.which("aws", path=search)
            command = (
                [aws_cli, "sts", "get-caller-identity", "--query", "Arn", "--output", "text"]
                if aws_cli
                else [
                    sys.executable,
                    "-c",
                    "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])",
                ]
            )
            arn = _run(
                "run a command with the credentials",
                [*jcsaml, "exec", "-a", "production", "--", *command],
                env,
            )
    print(f"\nThe command ran as {arn.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
