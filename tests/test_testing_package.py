"""jcsaml.testing ships in the wheel: without its extra, each part that needs a missing package
says so in one line naming the extra, instead of a bare ModuleNotFoundError."""

from __future__ import annotations

import subprocess
import sys

import pytest

WITHOUT = (
    "import sys\nfor name in {missing!r}:\n    sys.modules[name] = None  # as if not installed\n"
)


def run_without(missing: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT.format(missing=missing) + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("missing", "code", "needed_by", "package"),
    [
        (("pytest",), "import jcsaml.testing.contracts", "jcsaml.testing.contracts", "pytest"),
        (
            ("moto", "moto.moto_server", "moto.moto_server.threaded_moto_server"),
            "from jcsaml.testing.sts import LocalAws\nLocalAws().start()",
            "LocalAws",
            "moto",
        ),
        (
            ("pyotp",),
            "from jcsaml.testing.jumpcloud import FakeJumpCloud, FakeUser\n"
            "user = FakeUser('a@b.example', 'pw', totp_secret='A' * 32)\n"
            "fake = FakeJumpCloud(users=[user], apps=[])\n"
            "fake.totp_code('a@b.example')",
            "FakeJumpCloud's TOTP",
            "pyotp",
        ),
    ],
)
def test_a_missing_testing_package_is_named_with_the_extra(
    missing: tuple[str, ...], code: str, needed_by: str, package: str
) -> None:
    done = run_without(missing, code)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"ImportError: {needed_by} needs {package}, from the testing extra: "
        "pip install 'jcsaml[testing]'"
    )


def test_the_light_parts_import_without_the_extra() -> None:
    """The fake JumpCloud, the IdP helpers and the in-memory fakes need none of it to import."""
    done = run_without(
        ("pytest", "moto", "pyotp", "werkzeug"),
        "import jcsaml.testing.jumpcloud, jcsaml.testing.idp, jcsaml.testing.fakes, "
        "jcsaml.testing.sts, jcsaml.testing.replay",
    )
    assert done.returncode == 0, done.stderr
