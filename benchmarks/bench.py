"""How fast jcsaml starts and signs in, measured on a normal (non-editable) install.

    python benchmarks/bench.py [--runs 30] [--full-install] [--keep DIR]

Run from a checkout with the test dependencies installed (``pip install '.[test]'``). The script:

1. builds jcsaml from this checkout into a new virtual environment in a temporary directory with
   ``pip install --no-deps`` (a normal install, not an editable one: an editable install's import
   hook makes every start slower and hides what jcsaml itself costs). The dependencies are the
   ones of the Python running this script, reached through a ``.pth`` file, so nothing is
   downloaded but the build backend; ``--full-install`` installs them from the package index
   instead;
2. measures whole processes, interleaved round by round so that the machine's background load
   hits every row alike: ``python -c pass`` (the floor), pip's console-script wrapper alone,
   ``jcsaml exec``, ``script``, ``credential-process`` and ``login`` with valid cached
   credentials, ``jcsaml --help``, ``jcsaml status``, and peer tools found on PATH
   (gimme-aws-creds, aws-adfs, the AWS CLI);
3. signs in for real, password and TOTP, against the fake JumpCloud and a local STS (moto) on
   127.0.0.1, each answer delayed as over a network (100 ms per JumpCloud answer, 50 ms per STS
   answer), and reports the overhead: wall time minus the injected latency;
4. times a login of many roles against a login of one, with 200 ms added to every STS answer (a
   distant STS region): ``jcsaml login --role Role01`` against ``--all-roles`` on an application
   offering 12 roles (12 STS calls, assumed in parallel), and three applications of 4 roles each
   from one sign-in; the goal for 12 roles is at most 1.3x the wall time of one, the bar 1.5x;
5. starts 25 ``aws sts get-caller-identity`` at once through ``credential_process`` with a cold
   cache (the herd), against the fake JumpCloud and moto: wall time, successes and sign-ins
   (SAML pages fetched; the goal is 1);
6. asks ``exec --server``'s credentials endpoint from 64 clients at once, 1000 requests each
   (``--endpoint-requests``): latency p50, p99 and max;
7. prints Markdown tables, with the machine it ran on.

Nothing outside the temporary directory is read or written (HOME points into it, the keyring is
keyring's null backend); both servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.testing.jumpcloud import FakeJumpCloud

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

JUMPCLOUD_LATENCY = 0.100
STS_LATENCY = 0.050
USER = "bench{}@acme.example"
PASSWORD = "benchmark password"  # the fake's user, not a real secret
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ACCOUNT_ID = "012345678987"

MANY_ROLES_STS_LATENCY = 0.200
MANY_ROLES_BAR, MANY_ROLES_GOAL = 1.5, 1.3
MANY_ROLES_ACCOUNTS = {"production": ACCOUNT_ID, "dev": "210987654321", "staging": "333344445555"}

# (row, bar, goal) as ratios to the floor
BARS = {
    "cached exec": (2.0, 1.3),
    "cached script": (2.0, 1.3),
    "cached credential-process": (2.0, 1.3),
    "--help": (2.5, 1.5),
}
LOGIN_BAR_MS, LOGIN_GOAL_MS = 800, 400


# Peak RSS is read by a minimal forking helper: a process forked from this one would start with
# this process's size as its high-water mark. The helper's own ~5 MiB is the least it can show.
RSS_HELPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execve(sys.argv[1], sys.argv[1:], os.environ)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_kib(argv: Sequence[str], env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-S", "-E", "-c", RSS_HELPER, *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    status, rss = done.stdout.split()[-2:]
    if status != "0":
        raise SystemExit(f"{' '.join(argv)} failed ({status}):\n{done.stderr}")
    return int(rss)


@dataclass
class Sample:
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)


def run_once(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of one process, start to exit, and the CPU seconds (user + system) it used."""
    start = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    errors = process.stderr.read()  # small: nothing fills the pipe before the process ends
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} failed ({process.returncode}):\n{errors.decode(errors='replace')}"
        )
    return elapsed, usage.ru_utime + usage.ru_stime


def build_venv(root: Path, full_install: bool) -> Path:
    """A venv with jcsaml installed from a copy of this checkout; returns its bin directory."""
    source = root / "src"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        path = REPO / os.fsdecode(name)
        if path.is_file():
            (source / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / os.fsdecode(name))
    venv = root / "venv"
    # This Python's pip installs into the new environment: no copy of pip to bootstrap there.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bin_dir = venv / "bin"
    pip = [sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q"]
    pip.append("--disable-pip-version-check")
    if full_install:
        subprocess.run([*pip, str(source)], check=True)
    else:
        subprocess.run([*pip, "--no-deps", str(source)], check=True)
        purelib = subprocess.run(
            [
                str(bin_dir / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        Path(purelib, "zz-benchmark-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return bin_dir


def hermetic_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The tests' CLI environment under ``home`` (no AWS or jcsaml settings of this machine, the
    null keyring), without Python's variables (the installed jcsaml is measured, not this
    checkout's) and COLUMNS."""
    from tests.conftest import cli_environment

    env = cli_environment(home, extra or {})
    for key in list(env):
        if (key.startswith("PYTHON") and key != "PYTHON_KEYRING_BACKEND") or key == "COLUMNS":
            del env[key]
    return env


def bench_credentials() -> AwsCredentials:
    """The credentials the benchmark holds: its role's, valid for eight hours."""
    from tests.conftest import fresh_credentials

    return fresh_credentials(
        f"arn:aws:iam::{ACCOUNT_ID}:role/Bench",
        lasting=timedelta(hours=8),
        access_key_id="ASIABENCHMARK",
        secret_access_key="benchmark-secret",
        session_token="benchmark-token",
    )


def prepare_cached_profile(home: Path) -> None:
    """Valid credentials for account ``bench`` in its profile and in credential-process's
    cache; the account names its JumpCloud user, so ``status`` asks the keyring about it."""
    from tests.conftest import cached_account

    cached_account(
        home,
        bench_credentials(),
        name="bench",
        url="https://sso.jumpcloud.com/saml2/bench",
        username="bench@acme.example",
        process=True,
    )


def save_jumpcloud_account(
    home: Path, name: str, jumpcloud: FakeJumpCloud, slug: str, **settings: Any
) -> None:
    """Account ``name`` in the config file under ``home``: the fake's application ``slug``."""
    from jcsaml.config import Account, save_account

    save_account(
        Account(name=name, url=jumpcloud.app_url(slug), console_url=jumpcloud.url, **settings),
        path=home / ".jcsaml",
    )


def peers(env: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    found: dict[str, list[str]] = {}
    notes = []
    for name, argv in (
        ("gimme-aws-creds --help", ["gimme-aws-creds", "--help"]),
        ("aws-adfs --help", ["aws-adfs", "--help"]),
        ("aws --version (AWS CLI)", ["aws", "--version"]),
    ):
        path = shutil.which(argv[0], path=env.get("PATH"))
        if path:
            found[name] = [path, *argv[1:]]
        else:
            notes.append(f"{argv[0]} is not installed here: not compared.")
    return found, notes


def measure_startup(
    rows: dict[str, list[str]], env: dict[str, str], runs: int
) -> dict[str, Sample]:
    samples = {name: Sample() for name in rows}
    for argv in rows.values():  # one unmeasured round: page cache and .pyc files warm
        run_once(argv, env)
    for _ in range(runs):
        for name, argv in rows.items():
            seconds, cpu = run_once(argv, env)
            samples[name].seconds.append(seconds)
            samples[name].cpu.append(cpu)
    for _ in range(5):
        for name, argv in rows.items():
            samples[name].rss_kib.append(peak_rss_kib(argv, env))
    return samples


@dataclass
class LoginResult:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    injected: list[float] = field(default_factory=list)
    jumpcloud_requests: int = 0
    sts_requests: int = 0
    rss_kib: list[int] = field(default_factory=list)


def measure_login(bin_dir: Path, home: Path, runs: int) -> LoginResult:
    from jcsaml.testing.idp import IdpKeyPair
    from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
    from jcsaml.testing.sts import LocalAws

    keys = IdpKeyPair.generate()
    result = LoginResult()
    with LocalAws(latency=STS_LATENCY) as aws:
        principal = aws.create_saml_provider(
            "JumpCloud", keys.metadata_xml(), account_id=ACCOUNT_ID
        )
        role = aws.create_role("Bench", trusted_principal_arn=principal, account_id=ACCOUNT_ID)
        # A TOTP code signs a user in once per 30-second window: one user per run.
        users = [
            FakeUser(
                email=USER.format(n), password=PASSWORD, totp_secret=TOTP_SECRET, apps=["bench"]
            )
            for n in range(runs + 1)
        ]
        app = FakeApp(slug="bench", roles=[(role, principal)])
        with FakeJumpCloud(
            users=users, apps=[app], keys=keys, latency=JUMPCLOUD_LATENCY
        ) as jumpcloud:
            save_jumpcloud_account(
                home, "bench-login", jumpcloud, "bench", mfa="TOTP", role_arn=role
            )
            argv = [
                str(bin_dir / "jcsaml"),
                "login",
                "-a",
                "bench-login",
                "--force",
                "--skip-prompt",
            ]
            for index in range(runs + 1):  # the first run is a warm-up, not counted
                env = hermetic_env(
                    home,
                    {
                        **aws.environment(),
                        "JCSAML_USERNAME": USER.format(index),
                        "JCSAML_PASSWORD": PASSWORD,
                        "JCSAML_MFA_TOKEN": jumpcloud.totp_code(USER.format(index)),
                    },
                )
                jumpcloud.clear_requests()
                calls_before = len(aws.calls)
                if index == 0:  # the warm-up run measures the peak RSS instead
                    result.rss_kib.append(peak_rss_kib(argv, env))
                    continue
                seconds, cpu = run_once(argv, env)
                result.cpu.append(cpu)
                jumpcloud_requests = len(jumpcloud.requests)
                sts_requests = len(aws.calls) - calls_before
                result.wall.append(seconds)
                result.injected.append(
                    jumpcloud_requests * JUMPCLOUD_LATENCY + sts_requests * STS_LATENCY
                )
                result.jumpcloud_requests = jumpcloud_requests
                result.sts_requests = sts_requests
    return result


def measure_many_roles(bin_dir: Path, home: Path, runs: int) -> dict[str, Sample]:
    """Wall seconds of logins of 1 role, 12 roles of one application, and 3 applications x 4
    roles, interleaved round by round, with MANY_ROLES_STS_LATENCY on every STS answer."""
    from jcsaml.testing.idp import IdpKeyPair
    from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
    from jcsaml.testing.sts import LocalAws

    keys = IdpKeyPair.generate()
    twelve = [f"Role{n:02d}" for n in range(1, 13)]
    four = ["AcmeJumpCloudAdminRO", "AcmeJumpCloudAdmin", "AccountsPayableBilling", "ManageEC2"]
    with LocalAws(latency=MANY_ROLES_STS_LATENCY) as aws:
        apps = []
        for name, account_id in MANY_ROLES_ACCOUNTS.items():
            principal = aws.create_saml_provider(
                "JumpCloud", keys.metadata_xml(), account_id=account_id
            )
            roles = [*twelve, *four] if account_id == ACCOUNT_ID else four
            arns = {
                role: aws.create_role(role, trusted_principal_arn=principal, account_id=account_id)
                for role in roles
            }
            if account_id == ACCOUNT_ID:
                apps.append(FakeApp("twelve", roles=[(arns[r], principal) for r in twelve]))
            apps.append(FakeApp(f"many-{name}", roles=[(arns[r], principal) for r in four]))
        # Password only: a TOTP code would sign in once per 30-second window.
        user = FakeUser(email=USER.format("-many"), password=PASSWORD, apps=[a.slug for a in apps])
        with FakeJumpCloud(users=[user], apps=apps, keys=keys) as jumpcloud:
            for app in apps:
                save_jumpcloud_account(home, app.slug, jumpcloud, app.slug, username=user.email)
            env = hermetic_env(home, {**aws.environment(), "JCSAML_PASSWORD": PASSWORD})
            login = [str(bin_dir / "jcsaml"), "login", "--force", "--skip-prompt"]
            several = [arg for name in MANY_ROLES_ACCOUNTS for arg in ("-a", f"many-{name}")]
            rows = {
                "1 role": [*login, "-a", "twelve", "--role", "Role01"],
                "12 roles": [*login, "-a", "twelve", "--all-roles"],
                "3 apps x 4 roles": [*login, *several, "--all-roles"],
            }
            for argv in rows.values():  # warm-up, and the first sign-in pins the certificate
                run_once(argv, env)
            samples = {name: Sample() for name in rows}
            for _ in range(runs):
                for name, argv in rows.items():
                    seconds, cpu = run_once(argv, env)
                    samples[name].seconds.append(seconds)
                    samples[name].cpu.append(cpu)
    return samples


def report_many_roles(samples: dict[str, Sample]) -> str:
    one = statistics.median(samples["1 role"].seconds)
    runs = len(samples["1 role"].seconds)
    lines = [
        f"Logins of many roles (`jcsaml login --force --skip-prompt`, password only), "
        f"{MANY_ROLES_STS_LATENCY * 1000:.0f} ms added to every STS answer, median of {runs} "
        "interleaved runs:",
        "",
        "| login | median | spread | x 1 role | CPU of jcsaml | bar | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, sample in samples.items():
        values = sample.seconds
        median = statistics.median(values)
        low, high = quartiles(values)
        bar, goal = (MANY_ROLES_BAR, MANY_ROLES_GOAL) if name == "12 roles" else (None, None)
        lines.append(
            f"| {name} | {median * 1000:.0f} ms | {low * 1000:.0f}-{high * 1000:.0f} ms | "
            f"{median / one:.2f}x | {statistics.median(sample.cpu) * 1000:.0f} ms | "
            f"{f'<= {bar}x' if bar else ''} | "
            f"{f'<= {goal}x' if goal else ''} |"
        )
    return "\n".join(lines)


def quartiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load}"
    )


def report(
    samples: dict[str, Sample], login: LoginResult | None, notes: list[str], runs: int
) -> str:
    floor = statistics.median(samples["python -c pass (floor)"].seconds)
    lines = [
        f"Whole processes, median of {runs} interleaved runs; spread = interquartile range; "
        "CPU = user + system time of the process (less sensitive to the machine's load).",
        "",
        "| path | median | spread | x floor | CPU | peak RSS | bar | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, sample in samples.items():
        median = statistics.median(sample.seconds)
        low, high = quartiles(sample.seconds)
        bar, goal = BARS.get(name, (None, None))
        lines.append(
            f"| {name} | {median * 1000:.1f} ms | {low * 1000:.1f}-{high * 1000:.1f} ms | "
            f"{median / floor:.2f}x | {statistics.median(sample.cpu) * 1000:.1f} ms | "
            f"{statistics.median(sample.rss_kib) / 1024:.1f} MiB | "
            f"{f'<= {bar}x' if bar else ''} | {f'<= {goal}x' if goal else ''} |"
        )
    if login is not None:
        overhead = [
            wall - injected for wall, injected in zip(login.wall, login.injected, strict=True)
        ]
        low, high = quartiles(overhead)
        injected = statistics.median(login.injected)
        lines += [
            "",
            f"Full TOTP login (`jcsaml login --force --skip-prompt`, password and code given by "
            f"variables), median of {len(login.wall)} runs: {login.jumpcloud_requests} JumpCloud "
            f"requests x {JUMPCLOUD_LATENCY * 1000:.0f} ms + {login.sts_requests} STS request(s) "
            f"x {STS_LATENCY * 1000:.0f} ms = {injected * 1000:.0f} ms injected latency.",
            "",
            "| login | median | spread | peak RSS | bar | goal |",
            "|---|---|---|---|---|---|",
            f"| wall time | {statistics.median(login.wall) * 1000:.0f} ms | "
            f"{quartiles(login.wall)[0] * 1000:.0f}-{quartiles(login.wall)[1] * 1000:.0f} ms | "
            f"{statistics.median(login.rss_kib) / 1024:.1f} MiB | | |",
            f"| CPU time (user + system) | {statistics.median(login.cpu) * 1000:.0f} ms | "
            f"{quartiles(login.cpu)[0] * 1000:.0f}-{quartiles(login.cpu)[1] * 1000:.0f} ms | | | |",
            f"| overhead (wall - injected latency) | {statistics.median(overhead) * 1000:.0f} ms | "
            f"{low * 1000:.0f}-{high * 1000:.0f} ms | | <= {LOGIN_BAR_MS} ms | "
            f"<= {LOGIN_GOAL_MS} ms |",
        ]
    lines += ["", f"Machine: {machine()}."]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


HERD = 25
ENDPOINT_CLIENTS = 64


@dataclass
class HerdResult:
    wall: float
    successes: int
    sign_ins: int
    jumpcloud_requests: int


def measure_herd(bin_dir: Path, home: Path) -> HerdResult:
    """HERD ``aws`` processes at once through ``credential_process``, with a cold cache."""
    from jcsaml.testing.idp import IdpKeyPair
    from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
    from jcsaml.testing.sts import LocalAws

    aws_cli = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    if aws_cli is None:
        raise SystemExit("the herd needs the AWS CLI (pip install '.[test]')")
    keys = IdpKeyPair.generate()
    with LocalAws() as aws:
        principal = aws.create_saml_provider(
            "JumpCloud", keys.metadata_xml(), account_id=ACCOUNT_ID
        )
        role = aws.create_role("Herd", trusted_principal_arn=principal, account_id=ACCOUNT_ID)
        user = FakeUser(email="herd@acme.example", password=PASSWORD, apps=["herd"])  # no MFA
        app = FakeApp(slug="herd", roles=[(role, principal)])
        with FakeJumpCloud(users=[user], apps=[app], keys=keys) as jumpcloud:
            save_jumpcloud_account(
                home, "herd", jumpcloud, "herd", username="herd@acme.example", role_arn=role
            )
            config = home / ".aws" / "config"
            config.write_text(
                "[profile herd]\nregion = us-east-1\n"
                f"credential_process = {bin_dir / 'jcsaml'} credential-process -a herd\n"
            )
            env = hermetic_env(home, {**aws.environment(), "JCSAML_PASSWORD": PASSWORD})
            jumpcloud.clear_requests()
            started = time.perf_counter()
            processes = [
                subprocess.Popen(
                    [aws_cli, "--profile", "herd", "sts", "get-caller-identity"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                for _ in range(HERD)
            ]
            successes = sum(process.wait() == 0 for process in processes)
            wall = time.perf_counter() - started
            config.unlink()
            return HerdResult(
                wall=wall,
                successes=successes,
                sign_ins=jumpcloud.count("GET", "/saml2/herd"),
                jumpcloud_requests=len(jumpcloud.requests),
            )


def measure_endpoint(requests_per_client: int) -> list[float]:
    """Seconds per answer of the credentials endpoint, ENDPOINT_CLIENTS clients at once."""
    import threading
    import urllib.request

    from jcsaml.credential_server import CredentialServer

    held = bench_credentials()

    class Held:
        margin = 900.0
        prompter = None
        account = "bench"

        @property
        def held(self) -> AwsCredentials:
            return held

        def get(self, **_: object) -> AwsCredentials:
            return held

        def renew_at(self, margin: float | None = None) -> datetime:
            return held.expiration - timedelta(seconds=margin or self.margin)

    latencies: list[float] = []
    lock = threading.Lock()
    with CredentialServer(Held()) as server:
        barrier = threading.Barrier(ENDPOINT_CLIENTS)

        def client() -> None:
            mine = []
            headers = {"Authorization": server.token}
            request = urllib.request.Request(server.url, headers=headers)  # noqa: S310
            barrier.wait()
            for _ in range(requests_per_client):
                begin = time.perf_counter()
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                    answer.read()
                mine.append(time.perf_counter() - begin)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(ENDPOINT_CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return latencies


def report_herd(herd: HerdResult) -> str:
    return "\n".join(
        [
            f"{HERD} `aws sts get-caller-identity` at once through `credential_process`, cold "
            "cache (one sign-in is the goal):",
            "",
            "| wall time | successes | sign-ins (SAML pages) | JumpCloud requests |",
            "|---|---|---|---|",
            f"| {herd.wall:.1f} s | {herd.successes}/{HERD} | {herd.sign_ins} | "
            f"{herd.jumpcloud_requests} |",
        ]
    )


def report_endpoint(latencies: list[float], per_client: int) -> str:
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return "\n".join(
        [
            f"`exec --server` endpoint, {ENDPOINT_CLIENTS} clients x {per_client} requests at once "
            f"({len(ordered)} answers):",
            "",
            "| p50 | p99 | max | over 1 s |",
            "|---|---|---|---|",
            f"| {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms | {ordered[-1] * 1000:.1f} ms | "
            f"{sum(1 for x in ordered if x > 1.0)} |",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per row (default 30)")
    parser.add_argument(
        "--full-install", action="store_true", help="install the dependencies from the index too"
    )
    parser.add_argument("--no-login", action="store_true", help="skip the sign-in benchmark")
    parser.add_argument(
        "--no-many-roles", action="store_true", help="skip the logins of many roles"
    )
    parser.add_argument("--no-herd", action="store_true", help="skip the herd of aws processes")
    parser.add_argument(
        "--endpoint-requests",
        type=int,
        default=1000,
        help="requests per endpoint client (default 1000; 0 skips the endpoint benchmark)",
    )
    parser.add_argument(
        "--only-concurrency",
        action="store_true",
        help="measure only the herd and the endpoint",
    )
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and leave it there")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="jcsaml-bench-") as temp:
        root = Path(options.keep) if options.keep else Path(temp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"building a normal install in {root} ...", file=sys.stderr, flush=True)
        bin_dir = build_venv(root, options.full_install)
        home = root / "home"
        (home / ".aws").mkdir(parents=True, exist_ok=True)
        prepare_cached_profile(home)
        env = hermetic_env(home)
        python, jcsaml = str(bin_dir / "python"), str(bin_dir / "jcsaml")
        rows: dict[str, list[str]] = {
            "python -c pass (floor)": [python, "-c", "pass"],
            "pip's console-script wrapper alone": [python, "-c", "import re, sys"],
            "cached exec": [jcsaml, "exec", "-a", "bench", "--", "true"],
            "cached script": [jcsaml, "script", "-a", "bench"],
            "cached credential-process": [jcsaml, "credential-process", "-a", "bench"],
            "--help": [jcsaml, "--help"],
            "cached login": [jcsaml, "login", "-a", "bench"],
            "status (full CLI and keyring)": [jcsaml, "status"],
        }
        found, notes = peers(env)
        rows.update(found)
        if not options.only_concurrency:
            print(
                f"measuring {len(rows)} commands x {options.runs} ...", file=sys.stderr, flush=True
            )
            samples = measure_startup(rows, env, options.runs)
            login = None
            if not options.no_login:
                print("signing in against the fake JumpCloud ...", file=sys.stderr, flush=True)
                login = measure_login(bin_dir, home, options.runs)
            many = None
            if not options.no_many_roles:
                print("logins of 1 and 12 roles ...", file=sys.stderr, flush=True)
                many = measure_many_roles(bin_dir, home, options.runs)
            print(report(samples, login, notes, options.runs))
            if many is not None:
                print("\n" + report_many_roles(many))
        if not options.no_herd:
            print(f"{HERD} aws processes at once ...", file=sys.stderr, flush=True)
            print("\n" + report_herd(measure_herd(bin_dir, home)))
        if options.endpoint_requests > 0:
            print(f"{ENDPOINT_CLIENTS} endpoint clients ...", file=sys.stderr, flush=True)
            latencies = measure_endpoint(options.endpoint_requests)
            print("\n" + report_endpoint(latencies, options.endpoint_requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
