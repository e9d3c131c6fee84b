"""jcsaml.light_lookup, the light reader of the instant paths, gives the full CLI's answer or
declines.

The full answer is what ``jcsaml exec`` computes before it runs a command: load_account,
credentials_path, CredentialsFile and cached_credentials. The generated files mix values both
readers accept with values only one of them, or neither, accepts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from jcsaml import light_lookup, process_cache
from jcsaml.config import Account, config_path, load_account
from jcsaml.config_keys import KEYS
from jcsaml.credentials_file import CredentialsFile, _parse_expiration
from jcsaml.errors import JcsamlError
from jcsaml.signin import cached_credentials, credentials_path
from tests.conftest import scratch_home

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::012345678987:role/Admin"
ASSUMED = "arn:aws:sts::012345678987:assumed-role/Admin/alice"

URLS = [
    "https://sso.jumpcloud.com/saml2/acme",
    "https://sso.jumpcloud.com/saml2/",
    "https://sso.jumpcloud.com/saml2",
    "https://sso.jumpcloud.com/x?/saml2/a",
    "http://127.0.0.1:8080/saml2/acme",
    "http://localhost/saml2/acme",
    "http://10.0.0.1/saml2/acme",
    "HTTPS://sso.jumpcloud.com/saml2/acme",
    "https:///saml2/acme",
    "https://sso.jumpcloud.com:99999/saml2/acme",
    "https://a..b/saml2/x#frag",
    "ftp://sso/saml2/a",
    "",
]
VALUES: dict[str, list[str]] = {
    "url": URLS,
    "console_url": ["https://console.jumpcloud.com", "http://console", "", "https://eu.x"],
    "mfa": ["Auto", "totp", "PUSH", "WebAuthn", "sms", ""],
    "role_arn": [
        ROLE,
        "Admin",
        "arn:aws:iam::12:role/x",
        "arn:aws-cn:iam::012345678987:role/R",
        "",
    ],
    "aws_profile": ["production", "my profile", "p[1]", ""],
    "region": ["eu-west-1", "eu west", ""],
    "aws_session_duration": ["3600", "899", "43200", "43201", "+3600", "3_600", "abc", ""],
    "credentials_file": ["", "~/other-credentials", "/nonexistent/credentials"],
    "allow_sha1": ["true", "No", "maybe", ""],
    "http_timeout": ["30", "0.5", "3600", "3600.5", "1e2", "nan", ""],
    "push_timeout": ["120", "1.5", "-1", ""],
    "sts_timeout": ["30", "0", "12.5", ""],
    "idp_cert_sha256": ["ab" * 32, "AB:" * 31 + "AB", "ab" * 31, "zz" * 32, ""],
    "saml_nameid": ["alice@other.example", ""],
    "federation_url": ["https://signin.aws.amazon.com/federation", "http://x/federation", ""],
    "account_aliases": [
        "012345678987:acme-prod",
        "012345678987:acme-prod, 210987654321:acme-dev,",
        "12345:short",
        "012345678987:",
        "012345678987 : spaced",
        "",
    ],
    "profile_template": [
        "{account}-{role}",
        "{idp_account}_{account_id}",
        "{region}-{role}",
        "{role",
        "{{x}}-{role}",
        "{account!r}",
        "",
    ],
    "username": ["alice@acme.example", ""],
    "provider": ["JumpCloud"],  # a saml2aws key jcsaml does not read
}
EXPIRIES = [
    "2026-06-01T13:00:00Z",
    "2026-06-01T12:04:59Z",  # inside the refresh margin
    "2026-06-01T12:05:00Z",
    "2026-06-01T12:05:01Z",
    "2026-06-01T15:00:00+02:00",
    "2026-06-01T09:30:00-03:00",
    "2026-06-01T13:00:00.123Z",
    "2026-06-01 13:00:00Z",
    "2026-06-01T13:00:00z",
    "2026-06-01T13:00:00",
    "2026-02-30T13:00:00Z",
    "2028-02-29T13:00:00Z",
    "2027-02-29T13:00:00Z",
    "2026-06-01T24:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-06-01T13:00:00+24:00",
    "soon",
    "",
]


def section_text(name: str, values: dict[str, str]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())


@st.composite
def config_sections(draw: st.DrawFn) -> dict[str, str]:
    keys = draw(st.lists(st.sampled_from(sorted(VALUES)), unique=True))
    values = {key: draw(st.sampled_from(VALUES[key])) for key in keys}
    if draw(st.booleans()):
        values["url"] = URLS[0]
    return values


@st.composite
def credential_sections(draw: st.DrawFn) -> dict[str, str]:
    values = {
        "aws_access_key_id": "ASIACACHED",
        "aws_secret_access_key": "secret",
        "aws_session_token": "token",
        "x_principal_arn": draw(st.sampled_from([ROLE, ASSUMED, "", "nonsense"])),
        "x_security_token_expires": draw(
            st.one_of(
                st.sampled_from(EXPIRIES),
                st.datetimes(
                    min_value=datetime(2026, 6, 1, 11), max_value=datetime(2026, 6, 2, 12)
                ).map(lambda moment: moment.isoformat(timespec="seconds") + "Z"),
            )
        ),
    }
    for key in ("aws_session_token", "aws_access_key_id", "x_principal_arn"):
        if draw(st.integers(0, 9)) == 0:
            del values[key]
    if draw(st.booleans()):
        values["aws_security_token"] = "token"
    if draw(st.booleans()):
        values["region"] = draw(st.sampled_from(["eu-west-1", ""]))
    return values


def full_answer(
    name: str, profile: str | None, role: str | None, config: str | None, environ: dict[str, str]
) -> object:
    """What the full CLI's exec uses: credentials, or why there are none."""
    try:
        account = load_account(name, path=config_path(environ, config), environ=environ)
        path = credentials_path(account, environ=environ)
        found = cached_credentials(
            CredentialsFile(path),
            profile or account.profile,
            role=role or account.role_arn or None,
            now=NOW,
        )
    except JcsamlError:
        return "error"
    if found is None:
        return None
    return (account.name, found.to_environment())


@settings(max_examples=600, deadline=None)
@given(
    account=st.sampled_from(["production", "dev"]),
    section=config_sections(),
    credentials=credential_sections(),
    profile=st.sampled_from([None, "production", "other"]),
    role=st.sampled_from([None, ROLE, "Admin", "arn:aws:iam::012345678987:role/path/Admin", "Ops"]),
    shared_file=st.sampled_from(["abs", "", "~/.aws/credentials", "$HOME/.aws/credentials", "~x"]),
    config_via=st.sampled_from(["variable", "option", "home"]),
)
@example(
    account="production",
    section={"url": URLS[0]},
    credentials={
        "aws_access_key_id": "A",
        "aws_secret_access_key": "s",
        "aws_session_token": "t",
        "x_principal_arn": ROLE,
        "x_security_token_expires": "2026-06-01T13:00:00Z",
    },
    profile=None,
    role=None,
    shared_file="abs",
    config_via="variable",
)
def test_light_reader_agrees_with_the_full_one_or_declines(
    account: str,
    section: dict[str, str],
    credentials: dict[str, str],
    profile: str | None,
    role: str | None,
    shared_file: str,
    config_via: str,
) -> None:
    with scratch_home() as temp:
        home = Path(temp)
        (home / ".aws").mkdir()
        config_file = home / ".jcsaml"
        config_file.write_text(section_text(account, section))
        profile_name = profile or section.get("aws_profile", "").strip() or account
        written = section_text(profile_name, credentials)
        for target in (home / ".aws" / "credentials", home / "other-credentials"):
            target.write_text(written)
        environ = {"HOME": str(home)}
        shared = {"abs": str(home / ".aws" / "credentials")}.get(shared_file, shared_file)
        environ["AWS_SHARED_CREDENTIALS_FILE"] = shared
        option = None
        if config_via == "variable":
            environ["JCSAML_CONFIG"] = str(config_file)
        elif config_via == "option":
            option = str(config_file)

        full = full_answer(account, profile, role, option, environ)
        light = light_lookup.lookup(
            account,
            profile=profile,
            role=role,
            config=option,
            environ=environ,
            now=NOW.timestamp(),
        )
    if light is not None:
        assert full == (light.account_name, light.to_environment())
    # The light reader must not decline the ordinary case: a fresh profile jcsaml wrote.
    if (
        section == {"url": URLS[0]}
        and credentials.get("x_security_token_expires") == "2026-06-01T13:00:00Z"
        and set(credentials) >= {"aws_access_key_id", "aws_session_token", "x_principal_arn"}
        and shared_file == "abs"
        and role in (None, ROLE, "Admin")
        and credentials.get("x_principal_arn") in (ROLE, ASSUMED)
    ):
        assert light is not None


@settings(max_examples=500, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30)),
    offset_minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
    style=st.sampled_from(["Z", "offset", "isoformat"]),
)
def test_timestamps_read_as_datetime_reads_them(
    moment: datetime, offset_minutes: int, style: str
) -> None:
    moment = moment.replace(microsecond=0)
    if style == "Z":
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    else:
        zone = timezone(timedelta(minutes=offset_minutes))
        text = moment.replace(tzinfo=zone).isoformat()
    full = _parse_expiration(text)
    light = light_lookup._epoch_seconds(text)
    assert full is not None
    assert light == full.timestamp()


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet="0123456789-:TZz+. ", max_size=28))
def test_any_timestamp_text_is_read_alike_or_declined(text: str) -> None:
    light = light_lookup._epoch_seconds(text)
    if light is not None:
        full = _parse_expiration(text)
        assert full is not None and full.timestamp() == light


def test_the_light_reader_knows_the_full_readers_keys_and_margin() -> None:
    # A key added to the config file must be taught to the light reader's validation.
    assert set(Account(name="x", url="u").to_config()) == set(KEYS)
    assert light_lookup.REFRESH_MARGIN_SECONDS == 300  # the one definition, which signin uses


def test_expiration_is_written_back_in_utc() -> None:
    found = light_lookup.CachedCredentials(
        account_name="a",
        profile="p",
        access_key_id="A",
        secret_access_key="SECRETKEY",
        session_token="SESSIONTOKEN",
        expires_at=light_lookup._epoch_seconds("2026-06-01T15:00:00+02:00") or 0,
        role_arn=ROLE,
        region=None,
    )
    assert found.expiration == "2026-06-01T13:00:00Z"
    assert "SECRETKEY" not in repr(found) and "SESSIONTOKEN" not in repr(found)


SECTION_NAMES = [
    "default",
    "profile default",
    "profile production",
    "profile  production",
    "profile\tproduction",
    " profile production",
    "profile 'production'",
    'profile "production"',
    "profile production extra",
    "profileproduction",
    "production",
    "profile other",
]


@settings(max_examples=400, deadline=None)
@given(
    profile=st.sampled_from(["production", "default", "other"]),
    sections=st.lists(
        st.tuples(st.sampled_from(SECTION_NAMES), st.sampled_from(["eu-west-1", "", " ap-1 "])),
        max_size=4,
        unique_by=lambda pair: pair[0],
    ),
    own=st.sampled_from([None, "us-west-2"]),
    account_region=st.sampled_from([None, "eu-central-1"]),
    variables=st.sampled_from([{}, {"AWS_REGION": "sa-east-1"}, {"AWS_DEFAULT_REGION": "x-1"}]),
    config_file=st.sampled_from(["abs", "", "~/.aws/config", "$HOME/cfg", "missing"]),
    broken=st.booleans(),
)
def test_exec_region_is_the_full_clis_or_declines(
    profile: str,
    sections: list[tuple[str, str]],
    own: str | None,
    account_region: str | None,
    variables: dict[str, str],
    config_file: str,
    broken: bool,
) -> None:
    from jcsaml.aws_config import child_region

    with scratch_home() as temp:
        home = Path(temp)
        (home / ".aws").mkdir()
        text = "".join(f"[{name}]\nregion = {region}\n" for name, region in sections)
        (home / ".aws" / "config").write_text(text + ("not an ini line\n" if broken else ""))
        environ = {"HOME": str(home), **variables}
        environ["AWS_CONFIG_FILE"] = {
            "abs": str(home / ".aws" / "config"),
            "missing": str(home / "nothing"),
        }.get(config_file, config_file)
        found = light_lookup.CachedCredentials(
            account_name="a",
            profile=profile,
            access_key_id="A",
            secret_access_key="s",
            session_token="t",
            expires_at=NOW.timestamp() + 3600,
            role_arn=ROLE,
            region=own,
            account_region=account_region,
        )
        known, light = light_lookup.exec_region(found, environ)
        full = child_region(profile, own=own or account_region, environ=environ)
    if known:
        assert light == full
    if (
        not broken
        and config_file == "abs"
        and all("'" not in n and '"' not in n for n, _ in sections)
    ):
        assert known


# --- credential-process's cache -----------------------------------------------------------------

PROCESS_EXPIRIES = [
    "2026-06-01T13:00:00Z",
    "2026-06-01T12:14:59Z",  # inside credential-process's 15-minute margin
    "2026-06-01T12:15:00Z",
    "2026-06-01T12:15:01Z",
    "2026-06-01T15:00:00+02:00",
    "2026-06-01T13:00:00.5Z",
    "2026-06-01T13:00:00",
    "2026-06-01 13:00:00Z",
    "soon",
]


def process_cache_home(
    home: Path, config_text: str, cache_via: str, config_via: str
) -> tuple[dict[str, str], str | None, Path]:
    """A home with this config file and credential-process's cache directory: the environment,
    the --config option (None: JCSAML_CONFIG names the file) and the cache directory.

    ``cache_via``: "xdg" (an absolute XDG_CACHE_HOME), "home" (none), "relative-xdg" (a
    relative one, which is ignored) or "no-home" (HOME unset too, once the directory is made).
    """
    config_file = home / ".jcsaml"
    config_file.write_text(config_text)
    environ = {"HOME": str(home)}
    if cache_via == "xdg":
        environ["XDG_CACHE_HOME"] = str(home / "xdg")
    elif cache_via == "relative-xdg":
        environ["XDG_CACHE_HOME"] = "relative/cache"
    directory = process_cache.cache_directory(environ)
    directory.mkdir(parents=True)
    if cache_via == "no-home":
        del environ["HOME"]
        environ["XDG_CACHE_HOME"] = "relative/cache"
    if config_via == "variable":
        environ["JCSAML_CONFIG"] = str(config_file)
        return environ, None, directory
    return environ, str(config_file), directory


@st.composite
def cache_documents(draw: st.DrawFn, account: str, role: str) -> str:
    document: dict[str, object] = {
        "account": draw(st.sampled_from([account, "other"])),
        "role": draw(st.sampled_from([role, "", ROLE, "Admin"])),
        "access_key_id": "ASIAPROCESS",
        "secret_access_key": 'se"cr\\et',
        "session_token": "tok/en+=",
        "expiration": draw(st.sampled_from(PROCESS_EXPIRIES)),
        "role_arn": draw(st.sampled_from([ROLE, "arn:aws:iam::012345678987:role/Ops", ""])),
        "assumed_role_arn": ASSUMED,
    }
    for key in list(document):
        if draw(st.integers(0, 12)) == 0:
            del document[key]
    if draw(st.integers(0, 12)) == 0:
        document[draw(st.sampled_from(sorted(document) or ["account"]))] = 7
    text = json.dumps(document)
    return draw(st.sampled_from([text, text, text, text[:-1], "[]", "\ufeff" + text]))


@settings(max_examples=500, deadline=None)
@given(
    data=st.data(),
    account=st.sampled_from(["production", "dev"]),
    section=config_sections(),
    role=st.sampled_from([None, ROLE, "Admin", "Ops"]),
    cache_home=st.sampled_from(["xdg", "home", "relative-xdg"]),
    config_via=st.sampled_from(["variable", "option"]),
)
def test_light_process_cache_reader_agrees_with_the_full_one_or_declines(
    data: st.DataObject,
    account: str,
    section: dict[str, str],
    role: str | None,
    cache_home: str,
    config_via: str,
) -> None:
    wanted = role or section.get("role_arn", "").strip()
    document = data.draw(cache_documents(account, wanted))
    with scratch_home() as temp:
        environ, option, directory = process_cache_home(
            Path(temp), section_text(account, section), cache_home, config_via
        )
        (directory / light_lookup.process_cache_name(account, wanted)).write_text(document)
        try:
            full = process_cache.cached_process_output(
                account, role=role, config=option, environ=environ, now=NOW
            )
        except JcsamlError:
            full = "error"
        light = light_lookup.process_credentials(
            account, role=role, config=option, environ=environ, now=NOW.timestamp()
        )
    if light is not None:
        assert full == json.dumps(light.to_credential_process())
    # The ordinary case is not declined: a fresh entry credential-process wrote.
    if (
        section == {"url": URLS[0]}
        and full not in (None, "error")
        and document.startswith("{")
        and json.loads(document).get("expiration") == "2026-06-01T13:00:00Z"
    ):
        assert light is not None


def test_the_process_cache_files_are_named_alike() -> None:
    import hashlib

    for account, role in [("production", ROLE), ("dév", ""), ("a\0b", "c")]:
        digest = hashlib.sha256(f"{account}\0{role}".encode()).hexdigest()[:32]
        assert light_lookup.process_cache_name(account, role) == f"{digest}.json"
    assert (
        process_cache.PROCESS_REFRESH_MARGIN_SECONDS is light_lookup.PROCESS_REFRESH_MARGIN_SECONDS
    )
    assert light_lookup.PROCESS_REFRESH_MARGIN_SECONDS == 900


# --- credential-process -------------------------------------------------------------------------

OUTPUT_PROCESS_EXPIRIES = [
    "2026-06-01T13:00:00Z",
    "2026-06-01T12:14:59Z",  # inside the 15-minute margin
    "2026-06-01T12:15:00Z",
    "2026-06-01T12:15:01Z",
    "2026-06-01T15:00:00+02:00",
    "2026-06-01T13:00:00.5Z",
    "2026-06-01T13:00:00",
    "2026-02-30T13:00:00Z",
    "soon",
]


@st.composite
def process_sections(draw: st.DrawFn) -> dict[str, str]:
    """Mostly an account both readers accept (with or without a role), sometimes any."""
    if draw(st.integers(0, 3)) == 0:
        return draw(config_sections())
    section = {"url": URLS[0]}
    if draw(st.booleans()):
        section["role_arn"] = draw(st.sampled_from([ROLE, "Admin"]))
    return section


@st.composite
def process_entries(draw: st.DrawFn) -> dict[str, object]:
    """An entry; its ``account`` and ``role`` are filled in by the test, mostly as wanted."""
    entry: dict[str, object] = {
        "account": "",
        "role": "",
        "access_key_id": "ASIACACHED",
        "secret_access_key": draw(st.sampled_from(["secret", 'se"cr\\et \u00e9'])),
        "session_token": "token",
        "expiration": draw(
            st.one_of(
                st.sampled_from(OUTPUT_PROCESS_EXPIRIES),
                st.datetimes(
                    min_value=datetime(2026, 6, 1, 11), max_value=datetime(2026, 6, 2, 12)
                ).map(lambda moment: moment.isoformat(timespec="seconds") + "Z"),
            )
        ),
        "role_arn": draw(st.sampled_from([ROLE, "arn:aws:iam::012345678987:role/Ops", ""])),
        "assumed_role_arn": ASSUMED,
    }
    for key in ("role_arn", "session_token", "expiration"):
        if draw(st.integers(0, 9)) == 0:
            del entry[key]
    if draw(st.integers(0, 9)) == 0:
        entry["access_key_id"] = 12345
    return entry


def full_process_answer(
    name: str, role: str | None, config: str | None, environ: dict[str, str]
) -> str | None:
    from jcsaml.process_cache import cached_process_output

    try:
        return cached_process_output(name, role=role, config=config, environ=environ, now=NOW)
    except JcsamlError:
        return "error"


@settings(max_examples=500, deadline=None)
@given(
    account=st.sampled_from(["production", "dev"]),
    section=process_sections(),
    entry=process_entries(),
    role=st.sampled_from([None, ROLE, "Admin", "Ops"]),
    stranger=st.sampled_from([None, None, None, "account", "role"]),
    cache_via=st.sampled_from(["xdg", "home", "relative-xdg", "no-home"]),
    config_via=st.sampled_from(["variable", "option"]),
    damaged=st.booleans(),
)
@example(
    account="production",
    section={"url": URLS[0]},
    entry={
        "account": "production",
        "role": "",
        "access_key_id": "ASIACACHED",
        "secret_access_key": "secret",
        "session_token": "token",
        "expiration": "2026-06-01T13:00:00Z",
        "role_arn": ROLE,
        "assumed_role_arn": ASSUMED,
    },
    role=None,
    cache_via="home",
    config_via="variable",
    damaged=False,
    stranger=None,
)
def test_light_credential_process_agrees_with_the_full_one_or_declines(
    account: str,
    section: dict[str, str],
    entry: dict[str, object],
    role: str | None,
    cache_via: str,
    config_via: str,
    damaged: bool,
    stranger: str | None,
) -> None:
    import json

    from jcsaml import process_cache

    with scratch_home() as temp:
        environ, option, directory = process_cache_home(
            Path(temp), section_text(account, section), cache_via, config_via
        )
        # The entry lies where the full reader looks for this account and the role it wants.
        wanted = role or section.get("role_arn", "").strip()
        name = process_cache._entry_path(directory, account, wanted)
        # What the entry says it is for: mostly this account and role, sometimes not.
        entry = {
            **entry,
            "account": "someone-else" if stranger == "account" else account,
            "role": "another-role" if stranger == "role" else wanted,
        }
        text = json.dumps(entry)
        name.write_text(text[:-3] if damaged else text)
        full = full_process_answer(account, role, option, environ)
        light = light_lookup.process_output(
            account, role=role, config=option, environ=environ, now=NOW.timestamp()
        )
    if light is not None:
        assert light == full
    # Not declined: the ordinary case, an entry jcsaml wrote for the account and its role.
    if (
        section == {"url": URLS[0]}
        and stranger is None
        and wanted == ""
        and entry.get("expiration") == "2026-06-01T13:00:00Z"
        and len(entry) == 8
        and entry["access_key_id"] == "ASIACACHED"
        and cache_via in ("xdg", "home")
        and role is None
        and not damaged
    ):
        assert light is not None


def test_light_credential_process_declines_a_cache_others_can_write(tmp_path: Path) -> None:
    from jcsaml import process_cache
    from jcsaml.aws_credentials import AwsCredentials

    config = tmp_path / ".jcsaml"
    config.write_text(section_text("production", {"url": URLS[0]}))
    environ = {"HOME": str(tmp_path), "JCSAML_CONFIG": str(config)}
    fresh = AwsCredentials(
        access_key_id="ASIACACHED",
        secret_access_key="secret",
        session_token="token",
        expiration=NOW + timedelta(hours=1),
        role_arn=ROLE,
        assumed_role_arn=ASSUMED,
    )
    path = process_cache.save("production", "", fresh, environ=environ)
    assert light_lookup.process_output("production", environ=environ, now=NOW.timestamp())
    path.parent.chmod(0o777)  # another user could have swapped in their own entry
    assert light_lookup.process_output("production", environ=environ, now=NOW.timestamp()) is None
    # The full path refuses it with one line (the light path leaves that line to it).
    assert full_process_answer("production", None, None, environ) == "error"
