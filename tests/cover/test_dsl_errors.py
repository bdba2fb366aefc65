"""Each broken file in dsl_errors/ gives exactly the error its first line announces.

The first line of every file reads `# error: CLASS LINE:COLUMN MESSAGE-START`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ptediff.core import errors
from ptediff.dsl.parse import parse, parse_file

ERROR_DIR = Path(__file__).with_name("dsl_errors")
HEADER = re.compile(r"# error: (\w+) (\d+):(\d+) (.+)")
BROKEN_FILES = sorted(ERROR_DIR.glob("*.pte"))


def announced(path: Path) -> tuple[type[errors.DslError], int, int, str]:
    match = HEADER.fullmatch(path.read_text(encoding="utf-8").split("\n", 1)[0])
    assert match, f"{path.name} lacks its '# error: CLASS LINE:COL MESSAGE' first line"
    cls = getattr(errors, match[1])
    return cls, int(match[2]), int(match[3]), match[4]


def test_there_is_a_file_for_each_kind_of_error() -> None:
    kinds = {announced(path)[0] for path in BROKEN_FILES}
    assert kinds == {errors.DslSyntaxError, errors.DslValidationError}
    assert len(BROKEN_FILES) >= 35


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda path: path.stem)
def test_broken_file_gives_the_announced_error(path: Path) -> None:
    cls, line, column, message = announced(path)
    with pytest.raises(errors.DslError) as caught:
        parse_file(path)
    error = caught.value
    assert type(error) is cls
    assert (error.line, error.column) == (line, column)
    assert error.message.startswith(message)
    assert error.filename == str(path)
    assert error.hint, "every error carries a hint"
    # The rendered error shows the offending line with a caret under the column.
    rendered = str(error).split("\n")
    assert rendered[0] == f"{path}:{line}:{column}: {error.message}"
    source_line = path.read_text(encoding="utf-8").split("\n")[line - 1]
    assert rendered[1] == "    " + source_line
    assert rendered[2] == "    " + " " * (column - 1) + "^"


def test_unknown_operation_hint_lists_the_operations() -> None:
    with pytest.raises(errors.DslSyntaxError) as caught:
        parse("mapp p0 0x1000 1 rw\n")
    assert caught.value.hint == (
        "expected an operation (map, munmap, mprotect, fault, fork, exit, migrate, swapon, "
        "pageout, madvise, pin, unpin, pinread, pinwrite, mlock, munlock, mremap), `config`, "
        "`expect` or `parallel`"
    )


def test_syntax_hints_name_only_what_can_follow() -> None:
    """A top-level operation cannot be followed by `}`, though lark's merged LALR state says so."""
    with pytest.raises(errors.DslSyntaxError) as caught:
        parse("map p0 0x1000 1 rw $\n")
    assert caught.value.hint == "expected `=>` or the end of the line"


def test_unknown_errno_hint_lists_the_errno_names() -> None:
    with pytest.raises(errors.DslValidationError) as caught:
        parse("swapon 1 => -EWHAT\n")
    assert caught.value.hint is not None
    assert "EPERM" in caught.value.hint and "ENOSPC" in caught.value.hint


def test_no_message_names_a_grammar_terminal() -> None:
    for path in BROKEN_FILES:
        with pytest.raises(errors.DslError) as caught:
            parse_file(path)
        text = str(caught.value)
        assert "__ANON" not in text and "_NL" not in text and "$END" not in text
        assert not re.search(r"\b[A-Z]+_[A-Z]+\b", text.replace("DslSyntaxError", "")), text


def test_missing_file_is_a_dsl_error(tmp_path: Path) -> None:
    with pytest.raises(errors.DslError, match="no such file"):
        parse_file(tmp_path / "absent.pte")


def test_binary_file_is_a_dsl_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.pte"
    path.write_bytes(b"map p0 \xff\xfe\n")
    with pytest.raises(errors.DslError, match="not UTF-8"):
        parse_file(path)
