"""``jcsaml doctor``: checks a machine end to end without signing in.

Each check gives one :class:`Finding` (OK, WARN or FAIL) naming the setting involved. The only
network requests go to the configured hosts: each account's ``url`` and ``console_url``, and the
STS endpoint its region (or ``AWS_ENDPOINT_URL_STS``) gives. Nothing secret is read or shown: the
keyring is asked which backend it is, not for any entry, and proxy URLs lose their user info.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from jcsaml.partitions import DEFAULT_REGIONS, sts_url

if TYPE_CHECKING:
    import requests

    from jcsaml.config import Account

Status = Literal["OK", "WARN", "FAIL"]

#: How far the local clock may be from JumpCloud's or STS's before a SAML assertion or STS
#: refuses it (assertions are valid for minutes; AWS rejects requests 5 minutes off).
CLOCK_WARN_SECONDS = 30.0
CLOCK_FAIL_SECONDS = 120.0
REQUEST_TIMEOUT = 10.0
#: The packages whose versions a bug report needs.
DEPENDENCIES = (
    "requests",
    "urllib3",
    "boto3",
    "botocore",
    "keyring",
    "signxml",
    "lxml",
    "cryptography",
    "beautifulsoup4",
    "prompt_toolkit",
    "fido2",
    "filelock",
)
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One row: ``check`` (what was looked at), ``setting`` (the key, variable or file that
    governs it), ``status`` and ``detail`` (what was found and, when not OK, what to do)."""

    check: str
    setting: str
    status: Status
    detail: str
    account: str = ""

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class _Probe:
    """What one GET of a configured host found."""

    ok: bool
    status: int = 0
    detail: str = ""
    date: float | None = None
    body: bytes = b""


def diagnose(
    *,
    config: Path,
    accounts: Iterable[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    clock: Callable[[], float] = time.time,
    session: requests.Session | None = None,
    resolve: Callable[[str], object] = socket.gethostbyname,
) -> list[Finding]:
    """Every check, in the order shown; ``accounts`` None means every account in ``config``.

    ``clock`` is the local clock compared with the servers' ``Date`` headers; ``session`` (a
    ``requests.Session``) makes the requests and ``resolve`` the DNS lookups.
    """
    import requests

    http = session if session is not None else requests.Session()
    findings: list[Finding] = []
    loaded = _check_config(config, accounts, environ, findings)
    findings.append(_check_keyring())
    findings.extend(_check_proxy(environ))
    for account in loaded:
        findings.extend(_check_account_network(account, environ, clock, http, resolve))
        findings.append(_check_certificate(account))
    findings.extend(_check_files(config, loaded, environ))
    findings.extend(_check_credential_process(environ))
    findings.append(_versions())
    return findings


def failed(findings: Iterable[Finding]) -> bool:
    return any(f.status == "FAIL" for f in findings)


# --- config -----------------------------------------------------------------------------------


def _check_config(
    path: Path,
    wanted: Iterable[str] | None,
    environ: Mapping[str, str],
    findings: list[Finding],
) -> list[Account]:
    from jcsaml.config import account_names, load_account
    from jcsaml.errors import JcsamlError

    try:
        names = account_names(path) if path.exists() else []
    except JcsamlError as exc:
        findings.append(Finding("config", str(path), "FAIL", str(exc)))
        return []
    if not path.exists():
        findings.append(
            Finding(
                "config",
                str(path),
                "FAIL",
                f"no config file at {path}; create an account with jcsaml configure -a NAME",
            )
        )
        return []
    chosen = list(wanted) if wanted is not None else names
    if not chosen:
        findings.append(
            Finding("config", str(path), "WARN", "no accounts; add one with jcsaml configure")
        )
    loaded: list[Account] = []
    for name in chosen:
        try:
            account = load_account(name, path=path, environ=environ)
        except JcsamlError as exc:
            setting = str(getattr(exc, "setting", "") or path)
            findings.append(Finding("account", setting, "FAIL", str(exc), account=name))
            continue
        loaded.append(account)
        findings.append(Finding("account", str(path), "OK", _resolved(account, environ), name))
    findings.extend(_shadowed(loaded, environ))
    return loaded


def _resolved(account: Account, environ: Mapping[str, str]) -> str:
    """What each key of the account resolves to (defaults included), as ``key=value``."""
    from jcsaml.signin import credentials_path

    values = {
        "url": account.url,
        "console_url": account.console_url,
        "username": account.username or "(asked)",
        "mfa": account.mfa,
        "role_arn": account.role_arn or "(chosen at login)",
        "aws_profile": account.profile,
        "region": account.region
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or "(the role's partition default)",
        "credentials_file": str(credentials_path(account, environ=environ)),
    }
    if account.password_command or environ.get("JCSAML_PASSWORD_COMMAND"):
        values["password_command"] = "set"
    if account.mfa_command or environ.get("JCSAML_MFA_COMMAND"):
        values["mfa_command"] = "set"
    return "valid: " + ", ".join(f"{key}={value}" for key, value in values.items())


def _shadowed(accounts: list[Account], environ: Mapping[str, str]) -> list[Finding]:
    """Profiles that several accounts write: each login overwrites the other's credentials."""
    from jcsaml.signin import credentials_path

    writers: dict[tuple[str, str], list[str]] = {}
    for account in accounts:
        key = (str(credentials_path(account, environ=environ)), account.profile)
        writers.setdefault(key, []).append(account.name)
    return [
        Finding(
            "profiles",
            "aws_profile",
            "WARN",
            f"profile {profile} in {path} is written by accounts {', '.join(names)}: the last "
            "login replaces the others' credentials; give each account its own aws_profile",
        )
        for (path, profile), names in writers.items()
        if len(names) > 1
    ]


# --- keyring ----------------------------------------------------------------------------------


def _check_keyring() -> Finding:
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring installation: say which
        return Finding(
            "keyring", "PYTHON_KEYRING_BACKEND", "FAIL", f"the keyring fails: {type(exc).__name__}"
        )
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    priority = getattr(backend, "priority", 1)
    if name.startswith(("keyring.backends.null", "keyring.backends.fail")) or (
        isinstance(priority, int | float) and priority < 0
    ):
        return Finding(
            "keyring",
            "PYTHON_KEYRING_BACKEND",
            "WARN",
            f"no usable OS keyring ({name}): the password and the JumpCloud session are not "
            "saved, so every login asks for them (install a keyring backend, or use "
            "password_command)",
        )
    return Finding("keyring", "PYTHON_KEYRING_BACKEND", "OK", name)


# --- network ----------------------------------------------------------------------------------


def _check_proxy(environ: Mapping[str, str]) -> list[Finding]:
    findings = []
    proxy = next((environ[v] for v in _PROXY_VARIABLES if environ.get(v)), "")
    if proxy:
        no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or "(none)"
        findings.append(
            Finding(
                "proxy", "HTTPS_PROXY", "OK", f"requests go through {_without_userinfo(proxy)}; "
                f"NO_PROXY={no_proxy}"
            )
        )  # fmt: skip
    bundle = environ.get("REQUESTS_CA_BUNDLE", "")
    if bundle:
        if Path(bundle).is_file() and os.access(bundle, os.R_OK):
            findings.append(Finding("tls", "REQUESTS_CA_BUNDLE", "OK", f"CA bundle {bundle}"))
        else:
            findings.append(
                Finding(
                    "tls",
                    "REQUESTS_CA_BUNDLE",
                    "FAIL",
                    f"{bundle} is not a readable file; point REQUESTS_CA_BUNDLE at your CA "
                    "certificates or unset it",
                )
            )
    return findings


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def sts_endpoint(account: Account, environ: Mapping[str, str]) -> tuple[str, str]:
    """The STS endpoint the account's login calls, and the setting that chooses it."""
    for variable in ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"):
        if environ.get(variable):
            return environ[variable], variable
    region = account.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    return sts_url(region or DEFAULT_REGIONS["aws"]), "region"


def _check_account_network(
    account: Account,
    environ: Mapping[str, str],
    clock: Callable[[], float],
    http: requests.Session,
    resolve: Callable[[str], object],
) -> list[Finding]:
    from jcsaml.config import DEFAULT_CONSOLE_URL

    findings = []
    console = account.console_url.rstrip("/") or DEFAULT_CONSOLE_URL
    sts, sts_setting = sts_endpoint(account, environ)
    targets = (
        ("url", account.url, "the JumpCloud application"),
        ("console_url", console + "/userconsole/xsrf", "the JumpCloud console"),
        (sts_setting, sts, "AWS STS"),
    )
    for setting, url, what in targets:
        probe = _probe(url, http, resolve, environ)
        if not probe.ok:
            findings.append(
                Finding(
                    "reach",
                    setting,
                    "FAIL",
                    f"{what} at {url}: {probe.detail}; check {setting}, the network, "
                    "HTTPS_PROXY and REQUESTS_CA_BUNDLE",
                    account.name,
                )
            )
            continue
        if setting == "console_url" and (probe.status == 404 or b'"xsrf"' not in probe.body):
            findings.append(
                Finding(
                    "reach",
                    setting,
                    "FAIL",
                    f"{url} answered HTTP {probe.status} without an xsrf token: {console} is not "
                    "a JumpCloud console; check console_url (https://console.jumpcloud.com unless "
                    "your organization is hosted in another region)",
                    account.name,
                )
            )
        else:
            findings.append(
                Finding("reach", setting, "OK", f"{what}: HTTP {probe.status}", account.name)
            )
        findings.append(_clock_finding(setting, what, probe.date, clock, account.name))
    return findings


def _probe(
    url: str,
    http: requests.Session,
    resolve: Callable[[str], object],
    environ: Mapping[str, str],
) -> _Probe:
    import requests

    host = urlsplit(url).hostname or ""
    proxied = any(environ.get(v) for v in _PROXY_VARIABLES)
    if not proxied:  # through a proxy, the proxy resolves the name
        try:
            resolve(host)
        except (OSError, UnicodeError):
            return _Probe(False, detail=f"cannot resolve the host name {host} (DNS)")
    try:
        response = http.get(
            url,
            timeout=REQUEST_TIMEOUT,
            allow_redirects=False,
            headers={"Accept": "application/json"},
        )
    except requests.exceptions.SSLError:
        return _Probe(False, detail="TLS verification failed")
    except requests.exceptions.ProxyError:
        return _Probe(False, detail="the proxy refused or failed the connection")
    except requests.exceptions.Timeout:
        return _Probe(False, detail=f"no answer within {REQUEST_TIMEOUT:g} s")
    except requests.exceptions.RequestException as exc:
        refused = "refused" in str(exc).lower()
        return _Probe(False, detail="connection refused" if refused else "the connection failed")
    return _Probe(
        True,
        status=response.status_code,
        date=_date(response.headers.get("Date", "")),
        body=response.content[:4096],
    )


def _date(header: str) -> float | None:
    try:
        return parsedate_to_datetime(header).timestamp() if header else None
    except (TypeError, ValueError):
        return None


def _clock_finding(
    setting: str, what: str, date: float | None, clock: Callable[[], float], account: str
) -> Finding:
    if date is None:
        return Finding("clock", setting, "WARN", f"{what} sent no Date header to compare", account)
    skew = clock() - date
    direction = "ahead of" if skew > 0 else "behind"
    text = f"this machine's clock is {abs(skew):.0f} s {direction} {what}'s"
    if abs(skew) >= CLOCK_FAIL_SECONDS:
        return Finding(
            "clock",
            setting,
            "FAIL",
            f"{text}: SAML assertions and AWS requests are refused this far off; set the clock "
            "(enable NTP)",
            account,
        )
    if abs(skew) >= CLOCK_WARN_SECONDS:
        return Finding("clock", setting, "WARN", f"{text}; enable NTP", account)
    return Finding("clock", setting, "OK", f"within {CLOCK_WARN_SECONDS:g} s of {what}", account)


# --- certificate ------------------------------------------------------------------------------


def _check_certificate(account: Account) -> Finding:
    from jcsaml.errors import JcsamlError
    from jcsaml.saml import show_fingerprint
    from jcsaml.signin import read_idp_certificate_file

    if account.idp_cert:
        try:
            _, found = read_idp_certificate_file(account.idp_cert, sha256=account.idp_cert_sha256)
        except JcsamlError as exc:
            return Finding("certificate", "idp_cert", "FAIL", str(exc), account.name)
        return Finding(
            "certificate",
            "idp_cert",
            "OK",
            f"{account.idp_cert}, SHA256 {show_fingerprint(found)}",
            account.name,
        )
    if account.idp_cert_sha256:
        return Finding(
            "certificate",
            "idp_cert_sha256",
            "OK",
            f"pinned SHA256 {show_fingerprint(account.idp_cert_sha256)}",
            account.name,
        )
    return Finding(
        "certificate",
        "idp_cert_sha256",
        "WARN",
        "no certificate pinned yet: the first login pins the one JumpCloud signs with "
        "(compare its fingerprint with the JumpCloud admin console)",
        account.name,
    )


# --- files ------------------------------------------------------------------------------------


def _check_files(
    config: Path, accounts: list[Account], environ: Mapping[str, str]
) -> list[Finding]:
    from jcsaml.inifile import lock_directory
    from jcsaml.process_cache import cache_directory
    from jcsaml.signin import credentials_path

    findings = []
    if config.exists():
        findings.append(_file_finding(config, "config", secret=False))
    paths = {credentials_path(a, environ=environ) for a in accounts}
    for path in sorted(paths):
        if os.path.lexists(path):
            findings.append(_file_finding(path, "credentials_file", secret=True))
        else:
            findings.append(
                Finding(
                    "permissions",
                    "credentials_file",
                    "OK",
                    f"{path} does not exist yet (the first login creates it, mode 0600)",
                )
            )
    for directory, setting in (
        (cache_directory(environ), "XDG_CACHE_HOME"),
        (lock_directory(environ), "XDG_RUNTIME_DIR"),
    ):
        findings.append(_directory_finding(directory, setting))
    return findings


def _file_finding(path: Path, setting: str, *, secret: bool) -> Finding:
    try:
        with path.open("rb") as handle:
            handle.read(1)
        mode = path.stat().st_mode
    except OSError as exc:
        return Finding(
            "permissions",
            setting,
            "FAIL",
            f"{path} cannot be read ({exc.strerror or type(exc).__name__}); fix its "
            f"permissions (chmod 600 {path}) or point {setting} elsewhere",
        )
    if secret and mode & 0o077:
        return Finding(
            "permissions",
            setting,
            "WARN",
            f"{path} is mode {stat.S_IMODE(mode):04o}: other users can read the credentials; "
            f"run: chmod 600 {path}",
        )
    if mode & 0o022:
        return Finding(
            "permissions",
            setting,
            "WARN",
            f"{path} is writable by other users; run: chmod go-w {path}",
        )
    return Finding("permissions", setting, "OK", f"{path} (mode {stat.S_IMODE(mode):04o})")


def _directory_finding(directory: Path, setting: str) -> Finding:
    if not directory.exists():
        return Finding("permissions", setting, "OK", f"{directory} does not exist yet")
    info = directory.stat()
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return Finding(
            "permissions", setting, "FAIL", f"{directory} belongs to another user; remove it"
        )
    if info.st_mode & 0o022:
        return Finding(
            "permissions",
            setting,
            "FAIL",
            f"{directory} is writable by other users; run: chmod go-w {directory}",
        )
    return Finding(
        "permissions", setting, "OK", f"{directory} (mode {stat.S_IMODE(info.st_mode):04o})"
    )


# --- credential_process -----------------------------------------------------------------------


def _check_credential_process(environ: Mapping[str, str]) -> list[Finding]:
    from jcsaml.aws_config import config_file_path
    from jcsaml.errors import JcsamlError
    from jcsaml.inifile import IniAccessError, IniSyntaxError, read_ini

    path = config_file_path(environ)
    try:
        document = read_ini(path)
    except (IniAccessError, IniSyntaxError, JcsamlError) as exc:
        return [Finding("credential_process", "AWS_CONFIG_FILE", "FAIL", f"{path}: {exc}")]
    if document is None:
        return []
    findings = []
    for name in document.sections():
        line = (document.section(name) or {}).get("credential_process", "").strip()
        if "jcsaml" not in line:
            continue
        profile = name.removeprefix("profile ").strip()
        try:
            argv = shlex.split(line)
        except ValueError:
            argv = []
        program = _executable(argv[0], environ) if argv else None
        if program is None:
            shown = argv[0] if argv else line
            findings.append(
                Finding(
                    "credential_process",
                    "AWS_CONFIG_FILE",
                    "FAIL",
                    f"profile {profile} runs {shown}, which is not an executable file; run: "
                    "jcsaml configure -a NAME --credential-process",
                )
            )
        else:
            findings.append(
                Finding(
                    "credential_process",
                    "AWS_CONFIG_FILE",
                    "OK",
                    f"profile {profile} runs {program}",
                )
            )
    return findings


def _executable(program: str, environ: Mapping[str, str]) -> str | None:
    if os.sep in program:
        found = Path(program).expanduser()
        return str(found) if found.is_file() and os.access(found, os.X_OK) else None
    return shutil.which(program, path=environ.get("PATH"))


# --- versions ---------------------------------------------------------------------------------


def _versions() -> Finding:
    from importlib.metadata import PackageNotFoundError, version

    from jcsaml import __version__

    parts = [f"jcsaml {__version__}", f"Python {sys.version.split()[0]}"]
    for name in DEPENDENCIES:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} missing")
    missing = [p for p in parts if p.endswith(" missing")]
    status: Status = "FAIL" if missing else "OK"
    return Finding("versions", "python", status, ", ".join(parts))


def as_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [f.to_json() for f in findings]
