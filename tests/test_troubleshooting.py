"""docs/troubleshooting.md and jcsaml/errors.py stay in step: every error template has its
``### `` heading, and every heading is a template or one of the few lines the CLI itself writes."""

from __future__ import annotations

import inspect
import re
import string
from pathlib import Path

import jcsaml.errors as errors_module
from jcsaml.errors import JcsamlError

DOC = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md"

#: Bases whose template is a catch-all: raised as such where nothing more specific fits, and
#: shown for a subclass only if that subclass had no template of its own. They keep their own
#: heading like every other class; listing them here makes a new base a decision, not an accident.
GENERIC_BASES = {
    "JcsamlError",
    "ConfigError",
    "ConfigFileError",
    "UnsafeFileError",
    "FileLockedError",
    "IdpError",
    "IdpUnavailableError",
    "IdpProtocolError",
    "AuthenticationFailedError",
    "MfaError",
    "WebAuthnError",
    "PromptAbortedError",
    "SamlError",
    "SamlDecodeError",
    "SamlContentError",
    "SamlSignatureError",
    "IdpCertificateError",
    "StsError",
    "CredentialsFileError",
    "IamError",
}

#: Headings for lines the CLI writes itself, not through an error class.
CLI_LINES = {
    "jcsaml: interrupted",
    "unexpected <error type>; run again with --debug for details",
    "jcsaml <command>: error: ...",
}
NOTICE_PREFIXES = ("jcsaml: warning: ", "jcsaml: note: ")


def error_classes() -> list[type[JcsamlError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors_module, inspect.isclass)
        if issubclass(cls, JcsamlError) and cls.__module__ == errors_module.__name__
    ]


def heading_of(fmt: str) -> str:
    """The template as its heading shows it: ``{path}`` as ``<path>``, ``{name!r}`` as
    ``'<name>'`` (how repr shows a string)."""
    parts = []
    for literal, field, _spec, conversion in string.Formatter().parse(fmt):
        parts.append(literal)
        if field is not None:
            parts.append(f"'<{field}>'" if conversion == "r" else f"<{field}>")
    return "".join(parts)


def headings() -> set[str]:
    return set(re.findall(r"^### `(.*)`", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_heading_of_renders_fields_as_placeholders() -> None:
    assert heading_of("no account {account!r} in {path}; run {cmd:>4}") == (
        "no account '<account>' in <path>; run <cmd>"
    )


def test_every_error_template_has_its_heading() -> None:
    documented = headings()
    missing = [
        f"{cls.__name__}: ### `{heading_of(cls.fmt)}`"
        for cls in error_classes()
        if "fmt" in vars(cls) and heading_of(cls.fmt) not in documented
    ]
    assert missing == [], "add these headings to docs/troubleshooting.md:\n" + "\n".join(missing)


def test_every_error_class_has_a_template_of_its_own() -> None:
    # A class without one would show its base's generic sentence, which says less about what to do.
    assert [cls.__name__ for cls in error_classes() if "fmt" not in vars(cls)] == []


def test_generic_bases_are_the_listed_ones() -> None:
    classes = error_classes()
    bases = {cls.__name__ for cls in classes if any(cls in other.__bases__ for other in classes)}
    assert bases == GENERIC_BASES


def test_every_heading_is_an_error_template_or_a_line_of_the_cli() -> None:
    templates = {heading_of(cls.fmt) for cls in error_classes()}
    stale = sorted(
        heading
        for heading in headings()
        if heading not in templates
        and heading not in CLI_LINES
        and not heading.startswith(NOTICE_PREFIXES)
    )
    assert stale == [], "headings that match no message (reworded?):\n" + "\n".join(stale)
