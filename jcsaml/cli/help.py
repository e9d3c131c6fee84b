"""``jcsaml help [TOPIC]``: the guides shipped with the package, one per docs page.

The pages are the project's ``docs/*.md``, installed as package data under ``jcsaml/docs``, so an
installed jcsaml can show what its messages cite (``jcsaml help saml-verification``).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from jcsaml.cli import Context

NAME = "help"
HELP = "show a guide (configuration, troubleshooting, MFA ...); without TOPIC, list them"
DESCRIPTION = HELP + "."


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    parser.add_argument("topic", nargs="?", metavar="TOPIC", help="the guide to show")


def pages() -> dict[str, Traversable]:
    """Topic name (the page's file stem) -> page, sorted by name."""
    # Here, not at the top: importlib.resources (tempfile, shutil...) would slow every command.
    from importlib.resources import files

    folder = files("jcsaml") / "docs"
    found = {
        entry.name.removesuffix(".md"): entry
        for entry in folder.iterdir()
        if entry.name.endswith(".md") and entry.is_file()
    }
    return dict(sorted(found.items()))


def title(page: Traversable) -> str:
    """The page's first heading."""
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def run(args: argparse.Namespace, ctx: Context) -> int:
    topics = pages()
    if args.topic is None:
        print("Guides (jcsaml help TOPIC):", file=ctx.stdout)
        width = max((len(name) for name in topics), default=0)
        for name, page in topics.items():
            print(f"  {name:<{width}}  {title(page)}", file=ctx.stdout)
        print("Commands: jcsaml --help, and jcsaml COMMAND --help.", file=ctx.stdout)
        return 0
    topic = args.topic.removesuffix(".md").removeprefix("docs/")
    found = topics.get(topic)
    if found is None:
        import difflib

        close = difflib.get_close_matches(topic, list(topics), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        # A usage mistake, like an unknown command: argparse's form and exit status.
        print(
            f"usage: jcsaml help [TOPIC]\njcsaml help: error: no guide named {topic!r}; {hint}"
            f"topics: {', '.join(topics)}",
            file=ctx.stderr,
        )
        return 2
    ctx.stdout.write(found.read_text(encoding="utf-8"))
    return 0
