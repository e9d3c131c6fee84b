from __future__ import annotations

import stat
from pathlib import Path

import pytest

from jcsaml.config import (
    Account,
    config_path,
    load_account,
    save_account,
    validate_url,
)
from jcsaml.config_keys import KEYS
from jcsaml.errors import (
    ConfigFileError,
    InvalidSettingError,
    UnknownAccountError,
)

URL = "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin"
ROLE = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"


def test_save_then_load_round_trips_every_key(tmp_path: Path) -> None:
    path = tmp_path / "jcsaml.ini"
    account = Account(
        name="production",
        url=URL,
        username="alice@acme.example",
        mfa="TOTP",
        role_arn=ROLE,
        aws_profile="prod",
        region="eu-west-1",
        session_duration=7200,
        credentials_file="/tmp/creds",
        idp_cert="/tmp/idp.pem",
        console_url="https://console.eu.jumpcloud.com",
        allow_sha1=True,
    )
    save_account(account, path=path)
    assert load_account("production", path=path) == account
    text = path.read_text()
    # saml2aws key names, so an existing file carries over
    assert "aws_session_duration = 7200" in text
    assert "aws_profile = prod" in text
    assert "role_arn = " + ROLE in text


def test_saml2aws_file_carries_over(tmp_path: Path) -> None:
    path = tmp_path / "saml2aws"
    path.write_text(
        "[default]\n"
        "name                    = default\n"
        "app_id                  =\n"
        f"url                     = {URL}\n"
        "username                = alice@acme.example\n"
        "provider                = JumpCloud\n"
        "mfa                     = Auto\n"
        "skip_verify             = false\n"
        "aws_urn                 = urn:amazon:webservices\n"
        "aws_session_duration    = 3600\n"
        "aws_profile             = saml\n"
        f"role_arn                = {ROLE}\n"
        "region                  =\n"
    )
    account = load_account("default", path=path)
    assert (account.url, account.username, account.profile, account.session_duration) == (
        URL,
        "alice@acme.example",
        "saml",
        3600,
    )
    assert account.role_arn == ROLE


def test_update_keeps_other_sections_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "jcsaml.ini"
    original = (
        "# team defaults, do not remove\n"
        "[staging]\n"
        f"url = {URL}\n"
        "; staging uses push\n"
        "mfa = PUSH\n"
        "\n"
        "[production]\n"
        f"url = {URL}\n"
        "username = bob@acme.example\n"
    )
    path.write_text(original)
    save_account(Account(name="production", url=URL, username="alice@acme.example"), path=path)
    text = path.read_text()
    assert text.startswith(
        f"# team defaults, do not remove\n[staging]\nurl = {URL}\n; staging uses push\nmfa = PUSH\n"
    )
    assert "username = alice@acme.example" in text
    assert "bob@" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_new_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "jcsaml.ini"
    save_account(Account(name="a", url=URL), path=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "url",
    [
        "http://sso.jumpcloud.com/saml2/x",
        "ftp://sso.jumpcloud.com/saml2/x",
        "sso.jumpcloud.com/saml2/x",
        "http://10.0.0.1/saml2/x",
    ],
)
def test_urls_that_are_not_https_or_loopback_are_refused(url: str) -> None:
    with pytest.raises(InvalidSettingError, match="https"):
        validate_url(url, "url")


@pytest.mark.parametrize(
    "url",
    [
        "https://sso.jumpcloud.com/saml2/x",
        "http://127.0.0.1:8080/saml2/x",
        "http://localhost/saml2/x",
        "http://[::1]:9/saml2/x",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert validate_url(url, "url") == url


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("session_duration", 899, "900"),
        ("session_duration", 43201, "43200"),
        ("role_arn", "arn:aws:iam::123:role/x", "IAM role ARN"),
        # A partition without SAML sign-in: refused here as in a SAML assertion.
        ("role_arn", "arn:aws-iso:iam::012345678987:role/x", "IAM role ARN"),
        ("role_arn", "Acme Admin", "nor a role name"),
        ("mfa", "SMS", "Auto, TOTP, PUSH, WEBAUTHN"),
        ("url", "https://example.com/not-saml", "SAML application URL"),
    ],
)
def test_invalid_values_are_refused_and_the_file_untouched(
    tmp_path: Path, field: str, value: object, needle: str
) -> None:
    path = tmp_path / "jcsaml.ini"
    path.write_text("[keep]\nurl = " + URL + "\n")
    before = path.read_bytes()
    account = Account(name="production", url=URL)
    bad = Account(**{**account.__dict__, field: value})
    with pytest.raises(InvalidSettingError, match=needle):
        save_account(bad, path=path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("key", list(KEYS))
def test_any_key_continued_on_another_line_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    path = tmp_path / "jcsaml.ini"
    own_line = f"{key} = x\n" if key != "url" else ""
    path.write_text(f"[production]\nurl = {URL}\n{own_line}  more\n")
    with pytest.raises(InvalidSettingError) as caught:
        load_account("production", path=path)
    assert caught.value.setting == key
    assert "continues the value" in str(caught.value)


def test_role_arns_of_every_partition_are_valid(tmp_path: Path) -> None:
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        arn = f"arn:{partition}:iam::012345678987:role/path/Name"
        save_account(Account(name=partition, url=URL, role_arn=arn), path=tmp_path / "c")
        assert load_account(partition, path=tmp_path / "c").role_arn == arn


def test_unknown_account_says_how_to_create_it(tmp_path: Path) -> None:
    path = tmp_path / "jcsaml.ini"
    path.write_text("[other]\nurl = " + URL + "\n")
    with pytest.raises(UnknownAccountError) as caught:
        load_account("production", path=path)
    assert "jcsaml configure -a production" in str(caught.value)
    assert caught.value.account == "production"


def test_missing_file_is_an_unknown_account(tmp_path: Path) -> None:
    with pytest.raises(UnknownAccountError):
        load_account("production", path=tmp_path / "nope")


def test_malformed_file_names_the_line_and_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "jcsaml.ini"
    path.write_text("[production]\nurl = " + URL + "\nthis line is not ini\n[broken\n")
    before = path.read_bytes()
    with pytest.raises(ConfigFileError, match="line"):
        load_account("production", path=path)
    with pytest.raises(ConfigFileError):
        save_account(Account(name="production", url=URL), path=path)
    assert path.read_bytes() == before


def test_broken_value_in_the_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "jcsaml.ini"
    path.write_text(f"[production]\nurl = {URL}\naws_session_duration = forever\n")
    with pytest.raises(InvalidSettingError, match="forever"):
        load_account("production", path=path)


def test_config_path_precedence(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "JCSAML_CONFIG": "/etc/jc.ini"}
    assert config_path(env, "/x/flag.ini") == Path("/x/flag.ini")
    assert config_path(env) == Path("/etc/jc.ini")
    assert config_path({"HOME": str(tmp_path)}) == tmp_path / ".jcsaml"


@pytest.mark.parametrize(
    "role", ["AcmeJumpCloudAdminRO", "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"]
)
def test_role_arn_takes_a_role_name_or_an_arn_as_login_does(tmp_path: Path, role: str) -> None:
    path = tmp_path / "jcsaml.ini"
    save_account(Account(name="production", url=URL, role_arn=role), path=path)
    assert load_account("production", path=path).role_arn == role


def test_an_account_name_typo_lists_the_accounts_and_offers_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "jcsaml.ini"
    path.write_text(f"[production]\nurl = {URL}\n[dev]\nurl = {URL}\n")
    with pytest.raises(UnknownAccountError) as caught:
        load_account("prodution", path=path)
    assert caught.value.closest == "production"
    assert caught.value.known == ("production", "dev")
    assert str(caught.value) == (
        f"no IdP account named 'prodution' in {path} (it has: production, dev); did you mean "
        "'production'? Otherwise create it with: jcsaml configure -a prodution --url URL"
    )
    with pytest.raises(UnknownAccountError) as far:
        load_account("zzz", path=path)
    assert "did you mean" not in str(far.value) and far.value.closest == ""
