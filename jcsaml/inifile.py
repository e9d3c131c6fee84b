"""Comment-preserving INI reading and editing in memory; :mod:`jcsaml.ini_edit` rewrites such a
file on disk, locked and atomically.

Both the jcsaml config file and ``~/.aws/credentials`` are files people edit by hand.
``configparser`` would drop their comments and layout on a rewrite, so :class:`IniDocument` keeps
the file as lines and changes only the lines it is asked to change: everything else survives byte
for byte, line endings included.

It reads a file the way botocore does (``configparser.RawConfigParser`` with its defaults), so
the files it accepts and the values it sees are the ones the AWS tools see: ``key = value`` or
``key: value``, keys compared case-insensitively, full-line ``#``/``;`` comments only (a ``#``
after a value is part of the value), values continued on more-indented lines. One difference:
a repeated ``[DEFAULT]`` section is an error here, like any repeated section.

The jcsaml config file also allows what saml2aws allows in ``~/.saml2aws``: an inline comment,
a ``;`` or ``#`` preceded by whitespace, which ends the value (``inline_comments=True``). A
rewritten value keeps the comment that followed it.

Reading imports only ``os`` and ``re``: it is on the hot path of ``jcsaml exec``
(:mod:`jcsaml.light_lookup`).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

__all__ = ["IniAccessError", "IniDocument", "IniSyntaxError", "go_ini_value", "read_ini"]

# Line breaks as Python's universal-newline reading (hence configparser) sees them.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# The same grammar RawConfigParser uses, applied to the stripped line.
_HEADER = re.compile(r"\[(?P<name>.+)\]")
_OPTION = re.compile(r"(?P<key>.*?)\s*[=:]\s*(?P<value>.*)$")
# The same, on the unstripped line, to find where the value starts (to rewrite it in place).
_OPTION_LINE = re.compile(r"(?P<prefix>\s*(?P<key>.*?)(?P<space>\s*)[=:]\s*)(?P<value>.*)$")
_NON_SPACE = re.compile(r"\S")
# An inline comment: ``;`` or ``#`` after whitespace (saml2aws's rule for its config file).
_INLINE_COMMENT = re.compile(r"\s[;#]")
_COMMENT_PREFIXES = ("#", ";")


class IniSyntaxError(ValueError):
    """The text is not an INI file botocore could read.

    ``reason`` never quotes the offending line: in a credentials file it may hold a secret.
    """

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class IniAccessError(OSError):
    """Reading or writing the file itself failed; ``operation`` is ``"read"`` or ``"write"``,
    ``path`` the file (or directory) concerned and ``reason`` the system's words."""

    def __init__(self, operation: str, path: Path, reason: str) -> None:
        super().__init__(f"cannot {operation} {path}: {reason}")
        self.operation = operation
        self.path = path
        self.reason = reason


def os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _split_comment(value: str, spaced: bool) -> tuple[str, str]:
    """(value, ``gap + comment``) for a value that may end in an inline comment; ``spaced``
    says whether whitespace came right before the value (so a leading ``;`` starts one)."""
    if spaced and value.startswith(_COMMENT_PREFIXES):
        return "", value
    found = _INLINE_COMMENT.search(value)
    if found is None:
        return value, ""
    start = found.start()
    while start and value[start - 1].isspace():
        start -= 1
    return value[:start], value[start:]


def _content(raw: str) -> str:
    """The line without its line ending."""
    return raw.rstrip("\r\n")


def _ending(raw: str) -> str:
    return raw[len(_content(raw)) :]


def _is_blank(raw: str) -> bool:
    return not raw.strip()


def _is_comment(raw: str) -> bool:
    return raw.strip().startswith(_COMMENT_PREFIXES)


def _is_free(raw: str) -> bool:
    """Blank and comment lines: the ones that carry no data."""
    return _is_blank(raw) or _is_comment(raw)


class _Entry:
    """One key: its ``key = value`` line, then its continuation lines (and any blank or comment
    lines found between them)."""

    __slots__ = ("key", "line", "lines")

    def __init__(self, key: str, lines: list[str], line: int = 0) -> None:
        self.key = key
        self.lines = lines
        self.line = line  # where the key line was when parsed; 0 for one added since

    def value(self, inline_comments: bool = False) -> str:
        # Mirrors RawConfigParser: stripped parts joined by newlines, comment lines skipped,
        # blank lines kept as empty parts, trailing whitespace dropped.
        match = _OPTION_LINE.match(_content(self.lines[0]))
        assert match is not None  # the parser only builds entries from lines that match
        first = match.group("value")
        if inline_comments:
            first = _split_comment(first, match.group("prefix")[-1:].isspace())[0]
        parts = [first.strip()]
        for raw in self.lines[1:]:
            if _is_blank(raw):
                parts.append("")
            elif not _is_comment(raw):
                text = raw.strip()
                parts.append(_split_comment(text, True)[0].strip() if inline_comments else text)
        return "\n".join(parts).rstrip()

    def continuation_line(self) -> int | None:
        """The line number of the first line continuing the value, if any."""
        for offset, raw in enumerate(self.lines[1:], start=1):
            if not _is_free(raw):
                return self.line + offset if self.line else None
        return None


class _Section:
    """A section: the comment block above its header, the header, then entries and free lines."""

    __slots__ = ("body", "header", "leading", "name")

    def __init__(self, name: str, leading: list[str], header: str) -> None:
        self.name = name
        self.leading = leading
        self.header = header
        self.body: list[_Entry | str] = []

    def entries(self) -> Iterator[_Entry]:
        return (item for item in self.body if isinstance(item, _Entry))

    def find(self, key: str) -> _Entry | None:
        folded = key.lower()
        return next((entry for entry in self.entries() if entry.key.lower() == folded), None)

    def lines(self) -> Iterator[str]:
        yield from self.leading
        yield self.header
        for item in self.body:
            if isinstance(item, _Entry):
                yield from item.lines
            else:
                yield item


def _split_leading(free: list[str]) -> tuple[list[str], list[str]]:
    """Split the free lines above a header into (what stays with the part above, the new
    section's leading block): the comments directly above the header and the blank lines
    above those belong to the section they introduce."""
    start = len(free)
    while start and _is_comment(free[start - 1]):
        start -= 1
    while start and _is_blank(free[start - 1]):
        start -= 1
    return free[:start], free[start:]


class IniDocument:
    """An INI file as lines, editable without disturbing the lines that are not edited.

    ``IniDocument.parse(text).render() == text`` for every text ``parse`` accepts.
    """

    def __init__(self, *, inline_comments: bool = False) -> None:
        """An empty document; ``inline_comments`` as for :meth:`parse`."""
        self._preamble: list[str] = []  # blank and comment lines before the first section
        self._sections: list[_Section] = []
        self._newline = "\n"  # used for new lines: the file's own convention
        self.inline_comments = inline_comments

    @classmethod
    def parse(cls, text: str, *, inline_comments: bool = False) -> IniDocument:
        """Parse ``text``; raises :class:`IniSyntaxError` for text botocore would reject
        (a line outside any section, a line that is neither ``key = value``, a ``[section]``
        header nor a comment, an empty key, a repeated section, a repeated key in a section).

        With ``inline_comments``, a ``;`` or ``#`` preceded by whitespace ends a value (the
        jcsaml config file's rule, as in saml2aws's); without, it is part of it (botocore's)."""
        doc = cls(inline_comments=inline_comments)
        first_break = _LINE_BREAK.search(text)
        if first_break:
            doc._newline = first_break.group()
        section: _Section | None = None
        entry: _Entry | None = None
        indent_level = 0
        free: list[str] = []  # blank/comment lines not yet given a home
        names: set[str] = set()
        keys: set[str] = set()  # the current section's, folded

        def flush_free() -> None:
            (section.body if section else doc._preamble).extend(free)
            free.clear()

        for number, match in enumerate(_LINE.finditer(text), start=1):
            raw = match.group()
            if _is_free(raw):
                # Neither kind ends a value: a more-indented line after them still continues it.
                free.append(raw)
                continue
            content = _content(raw)
            stripped = content.strip()
            space = _NON_SPACE.search(content)
            indent = space.start() if space else 0
            if entry is not None and indent > indent_level:
                entry.lines.extend(free)
                free.clear()
                entry.lines.append(raw)
                continue
            indent_level = indent
            header = _HEADER.match(stripped)
            if header:
                name = header.group("name")
                if name in names:
                    raise IniSyntaxError(number, f"section [{name}] appears a second time")
                above, leading = _split_leading(free)
                free[:] = above
                flush_free()
                section = _Section(name, leading, raw)
                doc._sections.append(section)
                names.add(name)
                keys = set()
                entry = None
                continue
            if section is None:
                if stripped.startswith("\ufeff"):
                    reason = "the file starts with a byte-order mark, which the AWS tools reject"
                else:
                    reason = "text before the first [section] header"
                raise IniSyntaxError(number, reason)
            option = _OPTION.match(stripped)
            if option is None:
                raise IniSyntaxError(
                    number, "expected 'key = value', a [section] header or a comment"
                )
            key = option.group("key")
            if not key:
                raise IniSyntaxError(number, "a value without a key")
            if key.lower() in keys:
                raise IniSyntaxError(
                    number, f"key {key.lower()!r} appears a second time in [{section.name}]"
                )
            keys.add(key.lower())
            flush_free()
            entry = _Entry(key, [raw], number)
            section.body.append(entry)
        flush_free()
        return doc

    def sections(self) -> list[str]:
        """Section names in file order, as written (case-sensitive, like botocore)."""
        return [section.name for section in self._sections]

    def section(self, name: str) -> dict[str, str] | None:
        """The section's keys and values in file order, or None when there is no such section.

        Keys are lower-cased, as botocore sees them; a value continued over several lines is
        joined with newlines, as configparser joins it.
        """
        section = self._find(name)
        if section is None:
            return None
        return {entry.key.lower(): entry.value(self.inline_comments) for entry in section.entries()}

    def continuation_line(self, name: str, key: str) -> int | None:
        """The line number at which the value of ``key`` in section ``name`` continues onto a
        further line, as parsed; None when it is on one line (or absent)."""
        section = self._find(name)
        entry = section.find(key) if section else None
        return entry.continuation_line() if entry else None

    def update_section(self, name: str, values: Mapping[str, str | None]) -> None:
        """Set (or, for None, remove) keys of section ``name``.

        A key that exists (matched case-insensitively) keeps its line, its spelling and its
        ``key = `` layout; a key whose value is unchanged is not touched at all. New keys go
        after the section's last key, so comment lines introducing the next section stay
        there. A missing section is created at the end of the file, after one blank line,
        unless ``values`` holds nothing to set. Raises ValueError for a name, key or value that
        would not read back as given (line breaks, surrounding whitespace, ``=`` or ``:`` in
        a key ...).
        """
        _check_section_name(name)
        for key, value in values.items():
            _check_key(key)
            if value is not None:
                _check_value(key, value, self.inline_comments)
        section = self._find(name)
        if section is None:
            if all(value is None for value in values.values()):
                return
            section = self._append_section(name)
        additions: dict[str, _Entry] = {}
        for key, value in values.items():
            entry = section.find(key)
            if entry is None:
                if value is None:
                    additions.pop(key.lower(), None)
                else:
                    additions[key.lower()] = _Entry(key, [self._option_line(key, value)])
            elif value is None:
                section.body.remove(entry)
            elif entry.value(self.inline_comments) != value:
                entry.lines = [_rewrite_option_line(entry, value, self.inline_comments)]
        if additions:
            position = self._insertion_point(section)
            indent = self._indent_for_insertion(section, position)
            self._terminate_line_before(section, position)
            section.body[position:position] = [
                _Entry(entry.key, [indent + entry.lines[0]]) for entry in additions.values()
            ]

    def rename_section(self, name: str, new_name: str) -> bool:
        """Give section ``name`` the header ``[new_name]``; its lines and comments stay as they
        are. Returns False (and changes nothing) when there is no such section; raises
        ValueError when ``new_name`` exists or cannot be a section name."""
        _check_section_name(new_name)
        section = self._find(name)
        if section is None:
            return False
        if self._find(new_name) is not None:
            raise ValueError(f"section {new_name!r} exists")
        section.name = new_name
        section.header = f"[{new_name}]" + _ending(section.header)
        return True

    def remove_section(self, name: str) -> bool:
        """Remove the section, its lines and the comment block directly above its header.

        Returns False (and changes nothing) when there is no such section.
        """
        section = self._find(name)
        if section is None:
            return False
        self._sections.remove(section)
        return True

    def render(self) -> str:
        """The document as text."""
        return "".join(self._lines())

    def __repr__(self) -> str:
        # Never the content: it may be a credentials file.
        return f"<IniDocument sections={self.sections()!r}>"

    # -- helpers -------------------------------------------------------------------------------

    def _lines(self) -> Iterator[str]:
        yield from self._preamble
        for section in self._sections:
            yield from section.lines()

    def _find(self, name: str) -> _Section | None:
        return next((section for section in self._sections if section.name == name), None)

    def _option_line(self, key: str, value: str) -> str:
        return f"{key} = {value}".rstrip() + self._newline

    def _append_section(self, name: str) -> _Section:
        last = next(reversed(list(self._lines())), None)
        leading = [] if last is None or _is_blank(last) else [self._newline]
        self._terminate_last_line()
        section = _Section(name, leading, f"[{name}]{self._newline}")
        self._sections.append(section)
        return section

    @staticmethod
    def _insertion_point(section: _Section) -> int:
        """After the last entry; in a section without entries, after the comment lines that
        directly follow the header (they describe the section)."""
        for index in range(len(section.body) - 1, -1, -1):
            if isinstance(section.body[index], _Entry):
                return index + 1
        position = 0
        while position < len(section.body):
            item = section.body[position]
            if not (isinstance(item, str) and _is_comment(item)):
                break
            position += 1
        return position

    def _indent_for_insertion(self, section: _Section, position: int) -> str:
        """Indentation for a key inserted at ``section.body[position]``.

        A more-indented line continues the key above it, so a new key must be indented as
        much as the next key or header it precedes (else that line would join its value), and
        no more than the key line above it (else it would join that key's value). The last
        key's indentation satisfies both; without keys, the next header's does.
        """
        above = [item for item in section.body[:position] if isinstance(item, _Entry)]
        if above:
            return _indentation(above[-1].lines[0])
        index = self._sections.index(section)
        if index + 1 < len(self._sections):
            return _indentation(self._sections[index + 1].header)
        return ""

    def _terminate_line_before(self, section: _Section, position: int) -> None:
        """Give the line before ``section.body[position]`` a line ending, so that lines can be
        inserted after it (only the file's last line can lack one)."""
        if position == 0:
            section.header = _terminated(section.header, self._newline)
            return
        item = section.body[position - 1]
        if isinstance(item, _Entry):
            item.lines[-1] = _terminated(item.lines[-1], self._newline)
        else:
            section.body[position - 1] = _terminated(item, self._newline)

    def _terminate_last_line(self) -> None:
        if self._sections:
            last = self._sections[-1]
            self._terminate_line_before(last, len(last.body))
        elif self._preamble:
            self._preamble[-1] = _terminated(self._preamble[-1], self._newline)


def _indentation(raw: str) -> str:
    content = _content(raw)
    space = _NON_SPACE.search(content)
    return content[: space.start()] if space else ""


def _terminated(raw: str, newline: str) -> str:
    return raw if _ending(raw) else raw + newline


def _rewrite_option_line(entry: _Entry, value: str, inline_comments: bool = False) -> str:
    """The entry's key line with a new value, keeping indentation, key spelling, the spacing
    around the delimiter and (with ``inline_comments``) the comment after the value, in its
    column when the new value leaves room; the continuation lines are dropped."""
    ending = _ending(entry.lines[-1])
    match = _OPTION_LINE.match(_content(entry.lines[0]))
    assert match is not None  # entries are only built from lines that match
    prefix = match.group("prefix")
    old_value, comment = match.group("value"), ""
    if inline_comments:
        old_value, comment = _split_comment(old_value, prefix[-1:].isspace())
    if not old_value:
        # ``key =`` had nothing to space the value from: mirror the space before the delimiter.
        prefix = prefix.rstrip() + (" " if match.group("space") else "")
    line = (prefix + value).rstrip()
    if comment:
        text = comment.lstrip()
        column = len(_content(entry.lines[0])) - len(text)
        line += " " * max(1, column - len(line)) + text
    return line + ending


def _check_section_name(name: str) -> None:
    if not name or _LINE_BREAK.search(name):
        raise ValueError(f"invalid INI section name {name!r}")


def _check_key(key: str) -> None:
    if (
        not key
        or key != key.strip()
        or _LINE_BREAK.search(key)
        or "=" in key
        or ":" in key
        or key.startswith(("[", *_COMMENT_PREFIXES))
    ):
        raise ValueError(f"invalid INI key {key!r}")


def _check_value(key: str, value: str, inline_comments: bool = False) -> None:
    # The value is not quoted: it may be a secret.
    if _LINE_BREAK.search(value) or value != value.strip():
        raise ValueError(
            f"the value for INI key {key!r} has line breaks or surrounding whitespace, "
            "which would not read back"
        )
    if inline_comments and (value.startswith(_COMMENT_PREFIXES) or _INLINE_COMMENT.search(value)):
        raise ValueError(
            f"the value for INI key {key!r} holds a ';' or '#' after a space or at its start, "
            "which would read back as a comment"
        )


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line = len(_LINE_BREAK.findall(before)) + 1
        # ``from None``: the decode error carries the whole file, secrets included.
        raise IniSyntaxError(line, "not valid UTF-8 text") from None


def go_ini_value(raw: str) -> str:
    """A value as saml2aws's INI library (go-ini, with ``SpaceBeforeInlineComment``) reads it
    from ``raw``, the text after ``=`` (as :meth:`IniDocument.section` gives it without
    ``inline_comments``): a value in backquotes or triple double quotes is taken as written
    (go-ini writes a value holding ``#`` or ``;`` in backquotes); otherwise a ``#`` or ``;``
    after a space starts a comment, and one pair of surrounding quotes is removed."""
    line = raw.lstrip()
    for quote in ('"""', "`"):
        if line.startswith(quote) and len(line) > len(quote):
            end = line.find(quote, len(quote))
            if end >= 0:
                return line[len(quote) : end]
    line = line.strip()
    # go-ini's own order: the first " #", else the first " ;".
    cut = line.find(" #")
    if cut < 0:
        cut = line.find(" ;")
    if cut >= 0:
        line = line[:cut].strip()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":
        line = line[1:-1]
    return line


def read_ini(
    path: str | os.PathLike[str], *, inline_comments: bool = False, max_bytes: int | None = None
) -> IniDocument | None:
    """The parsed file, or None when it does not exist.

    Raises :class:`IniSyntaxError` when it cannot be parsed (or is not UTF-8), and
    :class:`IniAccessError` (an OSError) when it cannot be read or is larger than ``max_bytes``
    (only that much is read: a huge file is refused at once, not parsed).
    """
    try:
        with open(path, "rb") as file:
            data = file.read() if max_bytes is None else file.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        from pathlib import Path

        raise IniAccessError("read", Path(path), os_reason(exc)) from None
    if max_bytes is not None and len(data) > max_bytes:
        from pathlib import Path

        raise IniAccessError(
            "read",
            Path(path),
            f"it is larger than {max_bytes // 1024} KiB, far more than any config file needs",
        )
    return IniDocument.parse(decode(data), inline_comments=inline_comments)
