"""Which certificate a login trusts: pinning on first use through the Account's config file,
refusing another, accepting a renewal only when asked, the idp_cert file checks, the NameID."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jcsaml.config import Account, load_account, save_account
from jcsaml.errors import (
    IdpCertificateChangedError,
    IdpCertificateWritableError,
    SamlCertificateChangedError,
    SamlNameIdError,
    SamlSignatureMissingError,
    SamlUnsignedError,
    TrustNewCertificateError,
)
from jcsaml.jumpcloud import SamlPage
from jcsaml.saml import certificate_sha256, show_fingerprint
from jcsaml.signin import CertificatePinner, login
from jcsaml.testing.fakes import FakeAuthenticator, FakeStsClient, ScriptedPrompter, sts_answer
from jcsaml.testing.idp import IdpKeyPair, build_saml_response, sign_saml_response
from tests.world import APP_URL as URL
from tests.world import PRINCIPAL
from tests.world import READ_ONLY_ROLE as RO

EMAIL = "alice@acme.example"


@pytest.fixture(scope="module")
def forger() -> IdpKeyPair:
    return IdpKeyPair.generate()


def page(
    keys: IdpKeyPair | None, *, subject: str = EMAIL, embed_certificate: bool = True
) -> SamlPage:
    import base64

    xml = build_saml_response(roles=[(RO, PRINCIPAL)], subject=subject)
    if keys is not None:
        xml = sign_saml_response(xml, keys, embed_certificate=embed_certificate)
    return SamlPage(
        saml_response=base64.b64encode(xml).decode("ascii"),
        relay_state="",
        form_action="https://signin.aws.amazon.com/saml",
    )


def configured(tmp_path: Path, **settings: str) -> Account:
    """An account saved in a real config file (with a comment to keep) and loaded back."""
    path = tmp_path / "jcsaml.ini"
    path.write_text("# my accounts\n[other]\nurl = https://sso.jumpcloud.com/saml2/other\n")
    save_account(Account(name="prod", url=URL, username=EMAIL, **settings), path=path)  # type: ignore[arg-type]
    return load_account("prod", path=path)


def sign_in(
    account: Account,
    signed_by: SamlPage,
    *,
    prompter: ScriptedPrompter | None = None,
    **kwargs: object,
) -> ScriptedPrompter:
    asker = prompter or ScriptedPrompter()
    login(
        account,
        password="pw",
        authenticator=FakeAuthenticator(signed_by),
        sts_client=FakeStsClient([sts_answer(RO)]),
        prompter=asker,
        environ={},
        **kwargs,  # type: ignore[arg-type]
    )
    return asker


def test_first_sign_in_pins_the_certificate_in_the_accounts_config_file(
    tmp_path: Path, keys: IdpKeyPair
) -> None:
    account = configured(tmp_path)
    assert account.idp_cert_sha256 == "" and account.source == tmp_path / "jcsaml.ini"
    prompter = sign_in(account, page(keys))
    fingerprint = certificate_sha256(keys.cert_pem)
    text = (tmp_path / "jcsaml.ini").read_text()
    assert f"idp_cert_sha256 = {fingerprint}" in text
    assert text.startswith("# my accounts\n[other]\n")
    [note] = prompter.notices
    assert show_fingerprint(fingerprint) in note and "JumpCloud admin console" in note
    # The next sign-in checks against the pin and says nothing.
    again = sign_in(load_account("prod", path=tmp_path / "jcsaml.ini"), page(keys))
    assert again.notices == []


def test_the_pin_writer_is_injectable_and_none_opts_out(tmp_path: Path, keys: IdpKeyPair) -> None:
    account = configured(tmp_path)
    pinned: list[tuple[str, str]] = []
    writer: CertificatePinner = lambda acc, sha256: pinned.append((acc.name, sha256))  # noqa: E731
    sign_in(account, page(keys), pin_certificate=writer)
    assert pinned == [("prod", certificate_sha256(keys.cert_pem))]
    before = (tmp_path / "jcsaml.ini").read_text()
    prompter = sign_in(account, page(keys), pin_certificate=None)
    assert (tmp_path / "jcsaml.ini").read_text() == before
    assert prompter.notices == []


def test_an_account_built_in_code_writes_no_file(
    tmp_path: Path, keys: IdpKeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account with no config file behind it is signed in to and writes no file anywhere."""
    monkeypatch.chdir(tmp_path)
    account = Account(name="p", url=URL, username=EMAIL)
    assert account.source is None
    sign_in(account, page(keys))  # no source: nothing to write
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []  # HOME included


def test_another_certificate_is_refused_then_accepted_only_when_asked(
    tmp_path: Path, keys: IdpKeyPair, forger: IdpKeyPair
) -> None:
    path = tmp_path / "jcsaml.ini"
    sign_in(configured(tmp_path), page(keys))
    account = load_account("prod", path=path)
    with pytest.raises(SamlCertificateChangedError) as caught:
        sign_in(account, page(forger))
    assert caught.value.pinned == show_fingerprint(certificate_sha256(keys.cert_pem))
    assert caught.value.signer == show_fingerprint(certificate_sha256(forger.cert_pem))
    assert load_account("prod", path=path).idp_cert_sha256 == certificate_sha256(keys.cert_pem)

    prompter = sign_in(account, page(forger), trust_new_cert=True)
    new = certificate_sha256(forger.cert_pem)
    assert load_account("prod", path=path).idp_cert_sha256 == new
    [note] = prompter.notices
    assert show_fingerprint(new) in note and show_fingerprint(account.idp_cert_sha256) in note


def test_trust_new_cert_never_accepts_an_unsigned_response(
    tmp_path: Path, keys: IdpKeyPair
) -> None:
    sign_in(configured(tmp_path), page(keys))
    account = load_account("prod", path=tmp_path / "jcsaml.ini")
    for response in (page(None), page(keys, embed_certificate=False)):
        with pytest.raises(SamlSignatureMissingError):
            sign_in(account, response, trust_new_cert=True)


@pytest.mark.parametrize("unsigned", [True, False])
def test_unsigned_or_certificate_less_is_refused_even_on_first_use(
    tmp_path: Path, keys: IdpKeyPair, unsigned: bool
) -> None:
    account = configured(tmp_path)
    response = page(None) if unsigned else page(keys, embed_certificate=False)
    with pytest.raises(SamlUnsignedError, match=r"'prod' is not signed.*allow_unsigned = true"):
        sign_in(account, response)
    assert "idp_cert_sha256" not in (tmp_path / "jcsaml.ini").read_text()


@pytest.mark.parametrize("unsigned", [True, False])
def test_allow_unsigned_warns_at_every_sign_in_and_pins_nothing(
    tmp_path: Path, keys: IdpKeyPair, unsigned: bool
) -> None:
    account = configured(tmp_path, allow_unsigned=True)  # type: ignore[arg-type]
    assert "allow_unsigned = true" in (tmp_path / "jcsaml.ini").read_text()
    response = page(None) if unsigned else page(keys, embed_certificate=False)
    for _ in range(2):
        prompter = sign_in(account, response)
        [warning] = prompter.notices
        assert "warning" in warning and "NOT signed" in warning and "prod" in warning
        assert "allow_unsigned" in warning
    assert "idp_cert_sha256" not in (tmp_path / "jcsaml.ini").read_text()


def test_idp_cert_wins_and_its_file_is_checked(
    tmp_path: Path, keys: IdpKeyPair, forger: IdpKeyPair
) -> None:
    cert = tmp_path / "jumpcloud.pem"
    cert.write_bytes(keys.cert_pem)
    os.chmod(cert, 0o644)
    account = configured(
        tmp_path, idp_cert=str(cert), idp_cert_sha256=certificate_sha256(keys.cert_pem)
    )
    assert sign_in(account, page(keys)).notices == []
    with pytest.raises(TrustNewCertificateError):
        sign_in(account, page(forger), trust_new_cert=True)

    os.chmod(cert, 0o664)
    with pytest.raises(IdpCertificateWritableError, match="group-writable"):
        sign_in(account, page(keys))
    os.chmod(cert, 0o646)
    with pytest.raises(IdpCertificateWritableError, match="world-writable"):
        sign_in(account, page(keys))

    os.chmod(cert, 0o644)
    cert.write_bytes(forger.cert_pem)  # swapped behind the user's back
    with pytest.raises(IdpCertificateChangedError) as caught:
        sign_in(account, page(forger))
    assert caught.value.found == show_fingerprint(certificate_sha256(forger.cert_pem))


def test_name_id_of_another_user_is_refused(tmp_path: Path, keys: IdpKeyPair) -> None:
    account = configured(tmp_path)
    with pytest.raises(SamlNameIdError) as caught:
        sign_in(account, page(keys, subject="mallory@evil.example"))
    assert caught.value.name_id == "mallory@evil.example" and caught.value.username == EMAIL
    assert "--saml-nameid mallory@evil.example" in str(caught.value)


def test_name_id_differing_only_in_case_or_accepted_by_saml_nameid(
    tmp_path: Path, keys: IdpKeyPair
) -> None:
    sign_in(configured(tmp_path), page(keys, subject="Alice@ACME.example"))
    accepting = configured(tmp_path, saml_nameid="alice.smith@acme.example")
    sign_in(accepting, page(keys, subject="Alice.Smith@acme.example"))


def test_name_id_that_is_not_an_email_is_compared_with_the_username(
    tmp_path: Path, keys: IdpKeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="jcsaml")
    sign_in(configured(tmp_path), page(keys, subject="alice"))
    assert "NameID 'alice'" in caplog.text
    sign_in(configured(tmp_path), page(keys, subject="ALICE"))
    with pytest.raises(SamlNameIdError) as caught:
        sign_in(configured(tmp_path), page(keys, subject="mallory"))
    assert caught.value.name_id == "mallory"
    sign_in(configured(tmp_path, saml_nameid="mallory"), page(keys, subject="Mallory"))
