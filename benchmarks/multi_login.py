"""How much longer a login of many roles takes than a login of one, when STS is far away.

    python benchmarks/multi_login.py [--runs 7] [--latency 0.2]

Run from a checkout with the test dependencies installed. Against the fake JumpCloud and a local
STS (moto) on 127.0.0.1 whose every answer is delayed by ``--latency`` seconds (200 ms: a distant
STS region), it times whole ``jcsaml login`` processes, interleaved round by round:

- ``1 role``: ``jcsaml login -a everything --role Role01`` (one SAML page, one STS call);
- ``1 role, summary path``: the same with ``--json``, which goes the way of a login of several
  roles (summary, one write per file) with one role;
- ``12 roles``: ``jcsaml login -a everything --all-roles`` (the same page, twelve STS calls,
  assumed in parallel, twelve profiles in one write);
- ``3 apps x 4 roles``: ``jcsaml login -a production -a dev -a staging --all-roles`` (one
  sign-in, three SAML pages, twelve STS calls).

It prints a Markdown table of medians and the ratios to ``1 role``; the goal for ``12 roles`` is
at most 1.3x, the bar 1.5x. Everything lives in a temporary directory (HOME, config, credentials;
keyring's null backend), the user signs in with a password only, and both servers are stopped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

USER = "bench@acme.example"
PASSWORD = "benchmark password"  # the fake's user, not a real secret
ACCOUNTS = {"production": "012345678987", "dev": "210987654321", "staging": "333344445555"}
GOAL, BAR = 1.3, 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds to time (default 7)")
    parser.add_argument(
        "--latency", type=float, default=0.2, help="seconds added to every STS answer"
    )
    args = parser.parse_args(argv)

    from jcsaml.testing.idp import IdpKeyPair
    from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
    from jcsaml.testing.sts import LocalAws

    keys = IdpKeyPair.generate()
    big = ACCOUNTS["production"]
    big_provider = f"arn:aws:iam::{big}:saml-provider/JumpCloud"
    twelve = [f"Role{n:02d}" for n in range(1, 13)]
    apps = [
        FakeApp(
            "everything",
            roles=[(f"arn:aws:iam::{big}:role/{role}", big_provider) for role in twelve],
        )
    ]
    four = ["AcmeJumpCloudAdminRO", "AcmeJumpCloudAdmin", "AccountsPayableBilling", "ManageEC2"]
    for name, account_id in ACCOUNTS.items():
        provider = f"arn:aws:iam::{account_id}:saml-provider/JumpCloud"
        apps.append(
            FakeApp(name, roles=[(f"arn:aws:iam::{account_id}:role/{r}", provider) for r in four])
        )
    user = FakeUser(USER, PASSWORD, apps=[app.slug for app in apps])

    with (
        tempfile.TemporaryDirectory(prefix="jcsaml-bench-") as tmp,
        LocalAws(**_latency_argument(LocalAws, args.latency)) as aws,
        FakeJumpCloud(users=[user], apps=apps, keys=keys) as jumpcloud,
    ):
        home = Path(tmp) / "home"
        home.mkdir()
        for name, account_id in ACCOUNTS.items():
            provider = aws.create_saml_provider(
                "JumpCloud", keys.metadata_xml(), account_id=account_id
            )
            roles = twelve + four if name == "production" else four
            for role in roles:
                aws.create_role(role, trusted_principal_arn=provider, account_id=account_id)
        sections = [
            f"[{app.slug}]\nurl = {jumpcloud.app_url(app.slug)}\nconsole_url = {jumpcloud.url}\n"
            f"username = {USER}\n"
            for app in apps
        ]
        (home / ".jcsaml").write_text("\n".join(sections))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JCSAML_"))},
            **aws.environment(),
            "HOME": str(home),
            "JCSAML_CONFIG": str(home / ".jcsaml"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "JCSAML_PASSWORD": PASSWORD,
            "PYTHONPATH": str(REPO),
        }
        login = [sys.executable, "-m", "jcsaml", "login", "--skip-prompt", "--force"]
        cases = {
            "1 role": [*login, "-a", "everything", "--role", "Role01"],
            "1 role, summary path": [*login, "-a", "everything", "--role", "Role01", "--json"],
            "12 roles": [*login, "-a", "everything", "--all-roles"],
            "3 apps x 4 roles": [
                *login,
                *("-a", "production", "-a", "dev", "-a", "staging", "--all-roles"),
            ],
        }
        for argv in cases.values():  # warm the file cache, check that each case works
            _run(argv, env)
        before = len(aws.calls)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                times[name].append(_run(argv, env))
        calls = len(aws.calls) - before

    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["1 role"]
    print(
        f"`jcsaml login` with {args.latency * 1000:.0f} ms added to every STS answer, "
        f"median of {args.runs} runs ({calls} STS calls timed), Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPU(s)\n"
    )
    print("| case | median wall | ratio to 1 role |")
    print("|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value * 1000:.0f} ms | {value / base:.2f}x |")
    ratio = medians["12 roles"] / base
    verdict = (
        "goal met" if ratio <= GOAL else ("within the bar" if ratio <= BAR else "OVER THE BAR")
    )
    print(f"\n12 roles / 1 role = {ratio:.2f}x (goal {GOAL}x, bar {BAR}x): {verdict}")
    return 0 if ratio <= BAR else 1


def _latency_argument(local_aws: type, seconds: float) -> dict[str, float]:
    """LocalAws's keyword for the added delay."""
    import inspect

    names = inspect.signature(local_aws).parameters
    return {"latency": seconds} if "latency" in names else {"sts_latency": seconds}


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


if __name__ == "__main__":
    sys.exit(main())
