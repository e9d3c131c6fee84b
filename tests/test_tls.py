"""TLS is always verified: a local HTTPS fake JumpCloud (trustme CA) is refused until its CA is
given through REQUESTS_CA_BUNDLE, as for a corporate TLS-inspecting proxy."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws
from tests.conftest import cli_environment, run_cli

ACCOUNT = "012345678987"


@pytest.fixture
def https_site(hermetic_home: Path) -> Iterator[tuple[dict[str, str], Path]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = hermetic_home / "corporate-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    keys = IdpKeyPair.generate()
    with LocalAws() as aws:
        principal = aws.create_saml_provider("JumpCloud", keys.metadata_xml(), account_id=ACCOUNT)
        role = aws.create_role("Admin", trusted_principal_arn=principal, account_id=ACCOUNT)
        user = FakeUser(email="u@acme.example", password="pw", apps=["aws"])
        app = FakeApp(slug="aws", roles=[(role, principal)])
        with FakeJumpCloud(users=[user], apps=[app], keys=keys, ssl_context=context) as fake:
            assert fake.url.startswith("https://127.0.0.1:")
            env = cli_environment(hermetic_home, aws.environment(), {"JCSAML_PASSWORD": "pw"})
            # The machine's own CA settings would otherwise decide what is trusted.
            for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                env.pop(variable, None)
            configured = run_cli(
                "configure", "-a", "tls", "--url", fake.app_url("aws"), "--console-url",
                fake.url, "--username", "u@acme.example", "--skip-prompt", env=env,
            )  # fmt: skip
            assert configured.status == 0, configured.stderr
            yield env, ca_file


def test_an_unknown_ca_is_refused_with_a_hint(https_site: tuple[dict[str, str], Path]) -> None:
    env, _ = https_site
    result = run_cli("login", "-a", "tls", "--skip-prompt", env=env)
    assert result.status == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("jcsaml: error: cannot reach JumpCloud")
    assert "TLS verification of 127.0.0.1 failed" in line and "REQUESTS_CA_BUNDLE" in line


def test_the_ca_given_by_requests_ca_bundle_is_trusted(
    https_site: tuple[dict[str, str], Path],
) -> None:
    env, ca_file = https_site
    result = run_cli(
        "login", "-a", "tls", "--skip-prompt", env={**env, "REQUESTS_CA_BUNDLE": str(ca_file)}
    )
    assert result.status == 0, result.stderr
    assert "Logged in as arn:aws:iam::012345678987:role/Admin" in result.stdout
