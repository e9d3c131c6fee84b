"""Option actions shared by several commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


class RepeatableValue(argparse.Action):
    """A value option that may be given several times: ``dest`` keeps the last value (what a
    command taking one value uses) and ``<dest>s`` collects every value given on the command
    line, in order (what ``jcsaml login`` uses for several accounts or roles)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        collected = list(getattr(namespace, self.dest + "s", None) or [])
        collected.append(values)
        setattr(namespace, self.dest + "s", collected)


def add_record_option(parser: argparse.ArgumentParser) -> None:
    """``--record FILE``, for every command that may sign in (one definition for all)."""
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="write a redacted, replayable recording of the exchanges with JumpCloud (and the "
        "STS call) to FILE, mode 0600, for a bug report",
    )
