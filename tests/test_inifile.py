"""IniDocument keeps what people wrote; edit_ini rewrites files safely."""

from __future__ import annotations

import configparser
import io
import os
import stat
from pathlib import Path

import filelock
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jcsaml.errors import FileLockedError
from jcsaml.ini_edit import edit_ini, lock_path_for
from jcsaml.inifile import IniDocument, IniSyntaxError, read_ini

HAND_WRITTEN = (
    "# my AWS credentials\r\n"
    "; do not share\r\n"
    "\r\n"
    "[default]\r\n"
    "aws_access_key_id=AKIAEXAMPLE\r\n"
    "Output : json   \r\n"
    "  ; indented comment\r\n"
    "notes =\r\n"
    "    first line\r\n"
    "\r\n"
    "    second line\r\n"
    "\r\n"
    "# the production profile\r\n"
    "[production]\r\n"
    "region = eu-west-1"
)


def configparser_view(text: str) -> dict[str, dict[str, str]]:
    """What botocore sees: RawConfigParser reading the text as a file (universal newlines)."""
    parser = configparser.RawConfigParser()
    parser.read_file(io.StringIO(text, newline=None))
    return {name: dict(parser.items(name)) for name in parser.sections()}


def our_view(doc: IniDocument) -> dict[str, dict[str, str]]:
    view = {}
    for name in doc.sections():
        values = doc.section(name)
        assert values is not None
        view[name] = values
    return view


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- parsing ----------------------------------------------------------------------------------


def test_hand_written_file_round_trips_and_reads_like_configparser():
    doc = IniDocument.parse(HAND_WRITTEN)
    assert doc.render() == HAND_WRITTEN
    assert doc.sections() == ["default", "production"]
    assert doc.section("default") == {
        "aws_access_key_id": "AKIAEXAMPLE",
        "output": "json",
        "notes": "\nfirst line\n\nsecond line",
    }
    assert our_view(doc) == configparser_view(HAND_WRITTEN)
    assert doc.section("missing") is None


def test_empty_text_is_an_empty_document():
    doc = IniDocument.parse("")
    assert doc.sections() == []
    assert doc.render() == ""


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("key = value\n[a]\n", 1, "before the first [section]"),
        ("# c\n\n[a]\nk = 1\n[b]\n[a]\n", 6, "section [a] appears a second time"),
        ("[a]\nK = 1\nk = 2\n", 3, "key 'k' appears a second time"),
        ("[a]\nk = 1\nsupersecretvalue\n", 3, "expected 'key = value'"),
        ("[a]\n = supersecretvalue\n", 2, "without a key"),
        ("\ufeff[a]\nk = 1\n", 1, "byte-order mark"),
    ],
)
def test_unreadable_text_names_the_line_without_quoting_it(text, line, reason):
    with pytest.raises(IniSyntaxError) as caught:
        IniDocument.parse(text)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"line {line}: ")
    assert "supersecret" not in str(caught.value)
    with pytest.raises(configparser.Error):  # botocore would refuse these files too
        configparser_view(text)


# Small alphabets so that generated files hit duplicates, delimiters and comment markers.
_SPACE = st.sampled_from(["", " ", "  ", "\t", "\x0c"])
_TEXT = st.text(alphabet="ab =:#;[]\t", max_size=8)
_SECTION_NAMES = st.sampled_from(["default", "prod", "Prod", " dev ", "a]b", "profile x", "#c"])
_KEYS = st.sampled_from(["k", "K", "key", "aws_session_token", "a b", "[x", "x]"])
_ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


_blank_lines = _SPACE
_comment_lines = st.builds(
    lambda indent, prefix, text: indent + prefix + text, _SPACE, st.sampled_from("#;"), _TEXT
)
_header_lines = st.builds(
    lambda indent, name, tail: f"{indent}[{name}]{tail}",
    _SPACE,
    _SECTION_NAMES,
    st.sampled_from(["", " ", "x", "] ; c"]),
)
_option_lines = st.builds(
    lambda indent, key, before, delimiter, after, value: (
        f"{indent}{key}{before}{delimiter}{after}{value}"
    ),
    st.sampled_from(["", "", "", " ", "\t"]),
    _KEYS,
    _SPACE,
    st.sampled_from("=:"),
    _SPACE,
    _TEXT,
)
_continuation_lines = st.builds(
    lambda indent, text: indent + text, st.sampled_from([" ", "  ", "    ", "\t"]), _TEXT
)
_junk_lines = st.text(alphabet="ab[]=#; \t\x0b\u00e9\u2028", max_size=6)


@st.composite
def ini_texts(draw: st.DrawFn, *, junk: bool = True) -> str:
    kinds = [_blank_lines, _comment_lines, _header_lines, _option_lines, _continuation_lines]
    if junk:
        kinds.append(_junk_lines)
    lines = draw(st.lists(st.one_of(kinds), max_size=25))
    if draw(st.booleans()):
        lines.insert(0, draw(_header_lines))
    endings = draw(st.lists(_ENDINGS, min_size=len(lines), max_size=len(lines)))
    text = "".join(line + ending for line, ending in zip(lines, endings, strict=True))
    if text and draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line ending at the end of the file
    return text


@settings(max_examples=400, deadline=None)
@given(ini_texts())
def test_parse_accepts_and_reads_exactly_what_configparser_does(text):
    try:
        expected = configparser_view(text)
    except configparser.Error:
        expected = None
    try:
        doc = IniDocument.parse(text)
    except IniSyntaxError:
        assert expected is None
        return
    assert our_view(doc) == expected
    assert doc.render() == text


@settings(max_examples=300, deadline=None)
@given(st.one_of(ini_texts(), st.text()))
def test_render_gives_back_the_parsed_text(text):
    try:
        doc = IniDocument.parse(text)
    except IniSyntaxError:
        return
    assert doc.render() == text


# --- editing ----------------------------------------------------------------------------------


def test_update_sets_keys_in_place_and_appends_new_keys_before_the_next_sections_comments():
    text = (
        "[default]\n"
        "aws_access_key_id=OLD\n"
        "  # about the token\n"
        "Aws_Session_Token = old\n"
        "    continued\n"
        "output = json\n"
        "\n"
        "# production follows\n"
        "[production]\n"
        "region = eu-west-1\n"
    )
    doc = IniDocument.parse(text)
    doc.update_section(
        "default",
        {"aws_access_key_id": "NEW", "aws_session_token": "new", "output": None, "region": "x"},
    )
    assert doc.render() == (
        "[default]\n"
        "aws_access_key_id=NEW\n"
        "  # about the token\n"
        "Aws_Session_Token = new\n"
        "region = x\n"
        "\n"
        "# production follows\n"
        "[production]\n"
        "region = eu-west-1\n"
    )


def test_update_of_an_unchanged_value_leaves_its_line_alone():
    text = "[a]\nk   =   v   \nother=1\n"
    doc = IniDocument.parse(text)
    doc.update_section("a", {"K": "v", "missing": None})
    assert doc.render() == text


def test_update_creates_a_missing_section_after_one_blank_line_with_the_files_line_endings():
    doc = IniDocument.parse("# top\r\n[a]\r\nk = 1")
    doc.update_section("b", {"x": "1", "y": ""})
    doc.update_section("c", {"gone": None})  # nothing to set: no section
    assert doc.render() == "# top\r\n[a]\r\nk = 1\r\n\r\n[b]\r\nx = 1\r\ny =\r\n"
    assert doc.sections() == ["a", "b"]

    empty = IniDocument.parse("")
    empty.update_section("only", {"k": "v"})
    assert empty.render() == "[only]\nk = v\n"

    ends_blank = IniDocument.parse("[a]\nk = 1\n\n")
    ends_blank.update_section("b", {"k": "2"})
    assert ends_blank.render() == "[a]\nk = 1\n\n[b]\nk = 2\n"


def test_new_keys_in_a_section_without_keys_go_after_the_headers_comments():
    doc = IniDocument.parse("[a]\n# describes a\n\n# describes b\n[b]\n")
    doc.update_section("a", {"k": "1"})
    assert doc.render() == "[a]\n# describes a\nk = 1\n\n# describes b\n[b]\n"


def test_new_keys_are_indented_so_that_an_indented_header_stays_a_header():
    text = "[a]\n  [b]\n  k = 1\n"
    doc = IniDocument.parse(text)
    doc.update_section("a", {"new": "v"})
    assert doc.render() == "[a]\n  new = v\n  [b]\n  k = 1\n"
    assert configparser_view(doc.render()) == {"a": {"new": "v"}, "b": {"k": "1"}}


def test_empty_value_gets_its_new_value_spaced_like_the_key():
    doc = IniDocument.parse("[a]\nk =\nj=\n")
    doc.update_section("a", {"k": "1", "j": "2"})
    assert doc.render() == "[a]\nk = 1\nj=2\n"


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("a\nb", {"k": "v"}),
        ("", {"k": "v"}),
        ("a", {"k\n[evil]": "v"}),
        ("a", {"k=j": "v"}),
        ("a", {"#k": "v"}),
        ("a", {" k": "v"}),
        ("a", {"k": "v\n[evil]\nx = y"}),
        ("a", {"k": " padded"}),
    ],
)
def test_update_refuses_what_would_not_read_back(name, values):
    doc = IniDocument.parse("[a]\nk = 1\n")
    with pytest.raises(ValueError, match=r"invalid|would not read back"):
        doc.update_section(name, values)
    assert doc.render() == "[a]\nk = 1\n"


def test_remove_section_takes_its_comment_block_and_leaves_the_rest():
    text = "# file\n\n[a]\nk = 1\n# disabled: j = 2\n\n# about b\n[b]\nk = 2\n\n[c]\nk = 3\n"
    doc = IniDocument.parse(text)
    assert doc.remove_section("b") is True
    assert doc.render() == "# file\n\n[a]\nk = 1\n# disabled: j = 2\n\n[c]\nk = 3\n"
    assert doc.remove_section("b") is False
    assert doc.remove_section("c") is True
    assert doc.render() == "# file\n\n[a]\nk = 1\n# disabled: j = 2\n"


_VALUES = st.one_of(st.none(), st.sampled_from(["", "v", "x = y", "#not a comment", "a;b", "é"]))


@settings(max_examples=300, deadline=None)
@given(
    ini_texts(junk=False),
    st.one_of(_SECTION_NAMES, st.just("new one")),
    st.dictionaries(
        st.one_of(_KEYS.filter(lambda key: key[0] != "["), st.just("aws_access_key_id")),
        _VALUES,
        max_size=4,
    ),
)
def test_update_changes_only_the_updated_section(text, name, values):
    try:
        doc = IniDocument.parse(text)
    except IniSyntaxError:
        assume(False)
        return
    before = our_view(doc)
    doc.update_section(name, values)
    new_text = doc.render()

    expected = dict(before.get(name, {}))
    for key, value in values.items():
        if value is None:
            expected.pop(key.lower(), None)
        else:
            expected[key.lower()] = value
    after = configparser_view(new_text)  # botocore can still read it ...
    assert our_view(IniDocument.parse(new_text)) == after  # ... and sees what we see
    if name in before or any(value is not None for value in values.values()):
        assert after[name] == expected
    else:
        assert name not in after
    assert {k: v for k, v in after.items() if k != name} == {
        k: v for k, v in before.items() if k != name
    }

    # Every line outside the section is unchanged.
    prefix, suffix = split_around_section(text, name)
    assert new_text.startswith(prefix)
    assert new_text.endswith(suffix)
    assert len(new_text) >= len(prefix) + len(suffix)


def split_around_section(text: str, name: str) -> tuple[str, str]:
    """The text before and after section ``name``'s lines (its comment block included)."""
    doc = IniDocument.parse(text)
    names = doc.sections()
    if name not in names:
        return text, ""
    without = IniDocument.parse(text)
    without.remove_section(name)
    block_length = len(text) - len(without.render())
    for later in names[names.index(name) :]:
        doc.remove_section(later)
    prefix = doc.render()
    return prefix, text[len(prefix) + block_length :]


# --- files ------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A directory of its own (tmp_path also holds the test's HOME)."""
    directory = tmp_path / "files"
    directory.mkdir()
    return directory


def test_read_ini_of_a_missing_file_is_none(files):
    assert read_ini(files / "missing") is None


def test_read_ini_keeps_line_endings(files):
    path = files / "config"
    path.write_bytes(HAND_WRITTEN.encode())
    doc = read_ini(path)
    assert doc is not None
    assert doc.render() == HAND_WRITTEN


def test_read_ini_reports_bad_utf8_with_its_line(files):
    path = files / "config"
    path.write_bytes(b"[a]\r\nk = 1\r\nsecret = \xff\xfe\n")
    with pytest.raises(IniSyntaxError) as caught:
        read_ini(path)
    assert caught.value.line == 3
    assert "UTF-8" in str(caught.value)


def test_edit_creates_a_private_directory_and_file(files):
    path = files / "new" / "dir" / "config"
    old_umask = os.umask(0)  # even a permissive umask must not open the file up
    try:
        edit_ini(path, lambda doc: doc.update_section("a", {"k": "v"}))
    finally:
        os.umask(old_umask)
    assert path.read_text() == "[a]\nk = v\n"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(lock_path_for(path)) == 0o600
    assert mode(lock_path_for(path).parent) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["config"]


def test_edit_makes_an_open_file_private_and_keeps_other_content(files):
    path = files / "config"
    path.write_bytes(HAND_WRITTEN.encode())
    path.chmod(0o644)
    lock = lock_path_for(path)
    lock.parent.mkdir(parents=True)
    lock.write_bytes(b"")
    lock.chmod(0o666)
    edit_ini(path, lambda doc: doc.update_section("production", {"region": "us-east-1"}))
    assert path.read_bytes() == HAND_WRITTEN.replace("eu-west-1", "us-east-1").encode()
    assert mode(path) == 0o600
    assert mode(lock) == 0o600


def test_edit_that_changes_nothing_does_not_rewrite(files):
    path = files / "config"
    edit_ini(path, lambda doc: None)
    assert not path.exists()  # nothing to write, no empty file left behind
    edit_ini(path, lambda doc: doc.update_section("a", {"k": "v"}))
    inode = path.stat().st_ino
    edit_ini(path, lambda doc: doc.update_section("a", {"k": "v"}))
    assert path.stat().st_ino == inode


def test_edit_refuses_a_file_it_cannot_parse_and_leaves_it_alone(files):
    path = files / "credentials"
    original = b"[a]\nk = 1\nline without delimiter\n"
    path.write_bytes(original)
    path.chmod(0o644)
    before = path.stat()
    with pytest.raises(IniSyntaxError) as caught:
        edit_ini(path, lambda doc: doc.update_section("a", {"k": "2"}))
    assert caught.value.line == 3
    assert path.read_bytes() == original
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, mode(path)) == (
        before.st_ino,
        before.st_mtime_ns,
        0o644,
    )
    assert sorted(p.name for p in files.iterdir()) == ["credentials"]


def test_edit_that_fails_leaves_the_file_and_no_temporary_file(files):
    path = files / "config"
    path.write_text("[a]\nk = 1\n")

    def failing(doc: IniDocument) -> None:
        doc.update_section("a", {"k": "2"})
        raise RuntimeError("edit failed")

    with pytest.raises(RuntimeError, match="edit failed"):
        edit_ini(path, failing)
    assert path.read_text() == "[a]\nk = 1\n"
    assert sorted(p.name for p in files.iterdir()) == ["config"]


def test_edit_removes_temporary_files_left_by_a_killed_editor(files):
    path = files / "config"
    leftover = files / ".config.0123456789ab.jcsaml-tmp"
    leftover.write_text("[a]\nk = half-writ")
    unrelated = files / ".config.notours.tmp"
    unrelated.write_text("keep me")
    edit_ini(path, lambda doc: doc.update_section("a", {"k": "v"}))
    assert not leftover.exists()
    assert unrelated.read_text() == "keep me"


def test_edit_through_a_symlink_replaces_the_target_and_keeps_the_link(files):
    target = files / "dotfiles" / "credentials"
    target.parent.mkdir()
    target.write_text("[a]\nk = 1\n")
    link = files / "credentials"
    link.symlink_to(target)
    edit_ini(link, lambda doc: doc.update_section("a", {"k": "2"}))
    assert link.is_symlink()
    assert target.read_text() == "[a]\nk = 2\n"
    assert mode(target) == 0o600


def test_edit_waits_for_the_lock_then_says_who_holds_it(files):
    path = files / "config"
    path.write_text("[a]\nk = 1\n")
    holder = filelock.FileLock(lock_path_for(path))
    with holder, pytest.raises(FileLockedError) as caught:
        edit_ini(path, lambda doc: doc.update_section("a", {"k": "2"}), lock_timeout=0.2)
    assert isinstance(caught.value, TimeoutError)
    assert str(lock_path_for(path)) in str(caught.value)
    assert "try again" in str(caught.value)
    assert path.read_text() == "[a]\nk = 1\n"
    edit_ini(path, lambda doc: doc.update_section("a", {"k": "2"}), lock_timeout=0.2)
    assert path.read_text() == "[a]\nk = 2\n"
