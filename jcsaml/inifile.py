"""Comment-preserving INI editing, and the locked, atomic way to rewrite such a file.

Both the jcsaml config file and ``~/.aws/credentials`` are files people edit by hand.
``configparser`` would drop their comments and layout on a rewrite, so :class:`IniDocument` keeps
the file as lines and changes only the lines it is asked to change: everything else survives byte
for byte, line endings included.

It reads a file the way botocore does (``configparser.RawConfigParser`` with its defaults), so
the files it accepts and the values it sees are the ones the AWS tools see: ``key = value`` or
``key: value``, keys compared case-insensitively, full-line ``#``/``;`` comments only (a ``#``
after a value is part of the value), values continued on more-indented lines. One difference:
a repeated ``[DEFAULT]`` section is an error here, like any repeated section.

Reading imports only ``os`` and ``re``: it is on the hot path of ``jcsaml exec``
(:mod:`jcsaml.cached`); writers import what they need when they write.
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

__all__ = ["IniDocument", "IniSyntaxError", "edit_ini", "read_ini"]

# Line breaks as Python's universal-newline reading (hence configparser) sees them.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# The same grammar RawConfigParser uses, applied to the stripped line.
_HEADER = re.compile(r"\[(?P<name>.+)\]")
_OPTION = re.compile(r"(?P<key>.*?)\s*[=:]\s*(?P<value>.*)$")
# The same, on the unstripped line, to find where the value starts (to rewrite it in place).
_OPTION_LINE = re.compile(r"(?P<prefix>\s*(?P<key>.*?)(?P<space>\s*)[=:]\s*)(?P<value>.*)$")
_NON_SPACE = re.compile(r"\S")
_COMMENT_PREFIXES = ("#", ";")

_TEMP_SUFFIX = ".jcsaml-tmp"
DEFAULT_LOCK_TIMEOUT = 10.0


class IniSyntaxError(ValueError):
    """The text is not an INI file botocore could read.

    ``reason`` never quotes the offending line: in a credentials file it may hold a secret.
    """

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


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

    __slots__ = ("key", "lines")

    def __init__(self, key: str, lines: list[str]) -> None:
        self.key = key
        self.lines = lines

    def value(self) -> str:
        # Mirrors RawConfigParser: stripped parts joined by newlines, comment lines skipped,
        # blank lines kept as empty parts, trailing whitespace dropped.
        match = _OPTION.match(self.lines[0].strip())
        assert match is not None  # the parser only builds entries from lines that match
        parts = [match.group("value").strip()]
        for raw in self.lines[1:]:
            if _is_blank(raw):
                parts.append("")
            elif not _is_comment(raw):
                parts.append(raw.strip())
        return "\n".join(parts).rstrip()


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

    def __init__(self) -> None:
        """An empty document."""
        self._preamble: list[str] = []  # blank and comment lines before the first section
        self._sections: list[_Section] = []
        self._newline = "\n"  # used for new lines: the file's own convention

    @classmethod
    def parse(cls, text: str) -> IniDocument:
        """Parse ``text``; raises :class:`IniSyntaxError` for text botocore would reject
        (a line outside any section, a line that is neither ``key = value``, a ``[section]``
        header nor a comment, an empty key, a repeated section, a repeated key in a section)."""
        doc = cls()
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
            entry = _Entry(key, [raw])
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
        return {entry.key.lower(): entry.value() for entry in section.entries()}

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
                _check_value(key, value)
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
            elif entry.value() != value:
                entry.lines = [_rewrite_option_line(entry, value)]
        if additions:
            position = self._insertion_point(section)
            indent = self._indent_for_insertion(section, position)
            self._terminate_line_before(section, position)
            section.body[position:position] = [
                _Entry(entry.key, [indent + entry.lines[0]]) for entry in additions.values()
            ]

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


def _rewrite_option_line(entry: _Entry, value: str) -> str:
    """The entry's key line with a new value, keeping indentation, key spelling and the
    spacing around the delimiter; the continuation lines are dropped."""
    ending = _ending(entry.lines[-1])
    match = _OPTION_LINE.match(_content(entry.lines[0]))
    assert match is not None  # entries are only built from lines that match
    prefix = match.group("prefix")
    if not match.group("value"):
        # ``key =`` had nothing to space the value from: mirror the space before the delimiter.
        prefix = prefix.rstrip() + (" " if match.group("space") else "")
    return (prefix + value).rstrip() + ending


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


def _check_value(key: str, value: str) -> None:
    # The value is not quoted: it may be a secret.
    if _LINE_BREAK.search(value) or value != value.strip():
        raise ValueError(
            f"the value for INI key {key!r} has line breaks or surrounding whitespace, "
            "which would not read back"
        )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line = len(_LINE_BREAK.findall(before)) + 1
        # ``from None``: the decode error carries the whole file, secrets included.
        raise IniSyntaxError(line, "not valid UTF-8 text") from None


def read_ini(path: str | os.PathLike[str]) -> IniDocument | None:
    """The parsed file, or None when it does not exist.

    Raises :class:`IniSyntaxError` when it cannot be parsed (or is not UTF-8), and OSError when
    it cannot be read.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return None
    return IniDocument.parse(_decode(data))


def edit_ini(
    path: Path,
    edit: Callable[[IniDocument], None],
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Apply ``edit`` to the file at ``path`` safely.

    - Concurrent editors are serialised by a lock on ``<path>.lock`` (mode 0600, left in place
      as lock files are); waiting longer than ``lock_timeout`` seconds raises
      :class:`~jcsaml.errors.FileLockedError`.
    - The file is re-read under the lock, so no other editor's change is lost. A file that
      cannot be parsed raises :class:`IniSyntaxError`; an exception from ``edit`` propagates.
      Either way the file is not touched.
    - The new text is written to a temporary file in the same directory, created 0600 (never
      readable by others, even for a moment), fsynced, then renamed over the file, and the
      directory is fsynced: a crash at any moment leaves the old or the new file, complete.
      The result is mode 0600 whatever the old mode was. Temporary files left by an editor
      that was killed are removed by the next edit.
    - A missing parent directory is created with mode 0700; a missing file is created unless
      the edit leaves it empty. When the text does not change and the mode is already 0600,
      nothing is written.
    - A symlink at ``path`` is followed: its target is replaced, the link stays.

    Raises OSError when the directory or the file cannot be read or written.
    """
    import contextlib
    from pathlib import Path

    import filelock  # only writers need it; readers stay on the standard library

    from jcsaml.errors import FileLockedError

    target = Path(os.path.realpath(path))
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_path = target.with_name(target.name + ".lock")
    lock = filelock.FileLock(lock_path, timeout=lock_timeout, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise FileLockedError(
            path=str(path), lock_path=str(lock_path), timeout=lock_timeout
        ) from None
    try:
        # filelock sets the mode only on a lock file it creates.
        with contextlib.suppress(OSError):
            os.chmod(lock_path, 0o600)
        # Holding the lock, no other editor is writing: any temporary file is a leftover.
        _remove_temp_files(target)
        try:
            data: bytes | None = target.read_bytes()
        except FileNotFoundError:
            data = None
        old_text = "" if data is None else _decode(data)
        doc = IniDocument.parse(old_text)
        edit(doc)
        new_text = doc.render()
        if data is None and not new_text:
            return
        if data is not None and new_text == old_text and _mode(target) == 0o600:
            return
        _replace_atomically(target, new_text.encode("utf-8"))
    finally:
        lock.release()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def _temp_file_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}{re.escape(_TEMP_SUFFIX)}")


def _remove_temp_files(target: Path) -> None:
    import contextlib

    pattern = _temp_file_pattern(target)
    with os.scandir(target.parent) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _replace_atomically(target: Path, data: bytes) -> None:
    import contextlib

    temp = target.with_name(f".{target.name}.{os.urandom(6).hex()}{_TEMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    # Created 0600 (the umask can only narrow it), never opened up afterwards.
    fd = os.open(temp, flags, 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask removed
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; best effort where directories cannot be opened or synced."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
