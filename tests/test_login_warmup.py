"""What keeps a sign-in's own work off its critical path changes nothing it does: the secret
store made while JumpCloud is waited for, the interpreter handed back promptly, and the process
ended without Python's teardown only when nothing depends on that teardown."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jcsaml.secret_store import DeferredStore, MemoryStore
from jcsaml.signin import SignInWarmup
from tests.conftest import cli_environment, run_python


class CountingFactory:
    def __init__(self, fail: int = 0) -> None:
        self.calls = 0
        self.fail = fail
        self.store = MemoryStore()

    def __call__(self) -> MemoryStore:
        self.calls += 1
        if self.calls <= self.fail:
            raise RuntimeError("keyring broke")
        return self.store


def test_a_deferred_store_is_made_once_on_first_use() -> None:
    factory = CountingFactory()
    store = DeferredStore(factory)
    assert factory.calls == 0
    store.set("k", "v")
    assert store.get("k") == "v"
    store.delete("k")
    assert store.get("k") is None
    assert factory.calls == 1


def test_preparing_a_deferred_store_makes_it_and_a_failure_waits_for_the_first_use() -> None:
    factory = CountingFactory(fail=1)
    store = DeferredStore(factory)
    store.prepare()  # fails quietly
    assert factory.calls == 1
    store.set("k", "v")  # made again, now successfully
    assert factory.calls == 2 and store.get("k") == "v"

    failing = DeferredStore(CountingFactory(fail=5))
    failing.prepare()
    with pytest.raises(RuntimeError, match="keyring broke"):
        failing.get("k")


def test_the_warmup_makes_a_deferred_store_and_leaves_the_switch_interval_alone() -> None:
    """The interpreter's thread switch interval is a process-wide setting: library code keeps
    its hands off it."""
    factory = CountingFactory()
    before = sys.getswitchinterval()
    seen: list[float] = []

    def make_client(region: str) -> object:
        seen.append(sys.getswitchinterval())
        return object()

    warmup = SignInWarmup(
        region="us-east-1",
        make_sts_client=make_client,  # type: ignore[arg-type]
        secrets=DeferredStore(factory),
    )
    warmup.start()
    assert warmup.sts_client("us-east-1") is not None
    assert factory.calls == 1
    assert seen == [before]
    assert sys.getswitchinterval() == before


def test_the_warmup_leaves_other_stores_alone() -> None:
    store = MemoryStore()
    warmup = SignInWarmup(region="us-east-1", make_sts_client=None, secrets=store)
    warmup.start()
    assert warmup._thread is not None
    warmup._thread.join()
    assert store.get("anything") is None


# --- the end of the process ---------------------------------------------------------------------

RUN_STATUS = (
    "import atexit, sys\n"
    "from jcsaml.launcher import run\n"
    "atexit.register(lambda: print('atexit ran', flush=True))\n"
    "sys.argv = ['jcsaml', 'status']\n"
    "run()\n"
)


def test_the_full_cli_ends_as_a_normal_exit_would(hermetic_home: Path) -> None:
    done = run_python(RUN_STATUS, env=cli_environment(hermetic_home), timeout=60)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "No credentials from jcsaml."
    # atexit functions run, after the output.
    assert lines[-1] == "atexit ran"


def test_an_unflushable_stdout_keeps_the_normal_exit(hermetic_home: Path) -> None:
    # stdout closed by the reader: the normal exit reports it as it always did.
    script = "import sys; from jcsaml.launcher import run; sys.argv = ['jcsaml', 'status']; run()"
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env=cli_environment(hermetic_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    process.wait(timeout=60)
    process.stderr.close()
    assert process.returncode != 0


def test_in_process_calls_never_end_the_process(
    hermetic_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jcsaml import launcher

    # main() is the library-style call: it returns, with or without arguments.
    assert launcher.main(["status", "--json"]) == 0
    monkeypatch.setattr(sys, "argv", ["jcsaml", "status"])
    assert launcher.main() == 0
    assert threading.main_thread().is_alive()
