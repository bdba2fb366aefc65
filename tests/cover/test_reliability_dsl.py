"""Audit 2026-12 (reliability), DSL defects: every bad input a one-line file:line:col error.

The reproducers of the audit (`tests/cover/reliability/`, copied from its report) and their
generated equivalents; each test names the defect of the ranked list it covers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ptediff.cli.main import main
from ptediff.core.errors import DslError, DslValidationError
from ptediff.dsl import validate as validate_module
from ptediff.dsl.parse import parse, parse_file
from ptediff.dsl.printer import format_program

REPROS = Path(__file__).parent / "reliability"

# (file, line, column, message) of the error each reproducer must give.
HUGE_NUMBERS = [
    ("p01-decimal-4301-digits.pte", 1, 8, "a number of 4301 digits is too large"),
    ("p02-hex-npages-3600-digits.pte", 1, 15, "a number of 3600 digits is too large"),
    ("p03-hex-swapon-nslots.pte", 1, 8, "a number of 3600 digits is too large"),
    ("p04-hex-migrate-node.pte", 2, 19, "a number of 3600 digits is too large"),
    ("p05-hex-schedule-entry.pte", 4, 12, "a number of 3600 digits is too large"),
    ("p06-hex-config-nodes.pte", 1, 14, "a number of 3600 digits is too large"),
    ("p07-hex-negative-result.pte", 1, 14, "a number of 3600 digits is too large"),
    ("p08-hex-migrate-result-accepted-then-crash.pte", 2, 24,
     "a number of 3600 digits is too large"),
]


@pytest.mark.parametrize(("name", "line", "column", "message"), HUGE_NUMBERS)
def test_defect7_huge_numbers_are_validation_errors(
    name: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(DslValidationError) as error:
        parse_file(REPROS / name)
    assert (error.value.line, error.value.column, error.value.message) == (line, column, message)
    assert "2**64" in (error.value.hint or "")


@pytest.mark.parametrize("name", [case[0] for case in HUGE_NUMBERS])
def test_defect7_cli_gives_exit_2_and_a_short_error(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("check", "run", "fmt"):
        assert main([command, str(REPROS / name)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert f"{name}:" in err.splitlines()[0]
        # the 3,600-digit source line is cut around the caret: one screen line
        assert max(len(line) for line in err.splitlines()) < 200


def test_defect7_one_bad_file_does_not_stop_check_of_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.pte").write_text((REPROS / "p01-decimal-4301-digits.pte").read_text())
    (tmp_path / "good.pte").write_text("swapon 1\n")
    assert main(["check", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "good.pte" in out and "ok" in out


def test_defect12_nesting_at_any_depth_is_an_error_not_a_recursion_error() -> None:
    with pytest.raises(DslValidationError, match="parallel blocks do not nest") as error:
        parse_file(REPROS / "p09-nested-parallel-260-deep.pte")
    assert error.value.line == 2
    deep = "parallel {\n" + "thread {\nparallel {\n" * 2000 + "}\n" * 4001
    with pytest.raises(DslError) as error:
        parse(deep)
    assert not isinstance(error.value, RecursionError)


def test_defect13_a_lone_cr_means_the_same_program_to_parse_and_to_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = REPROS / "p10-lone-cr-in-comment.pte"
    text = path.read_bytes().decode()
    assert len(parse(text).ops()) == len(parse_file(path).ops()) == 2
    assert main(["check", str(path)]) == 0
    capsys.readouterr()


def test_defect13_caret_stays_inside_its_line_with_bare_cr() -> None:
    with pytest.raises(DslError) as error:
        parse("swapon 1\rmapp p0 0x1000 1 rw\n")
    shown = str(error.value).splitlines()
    assert error.value.line == 2
    assert len(shown[2]) <= len(shown[1]) + 1  # the caret line is no longer than the source


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "expect postfix agrees\n"])
def test_defect13_an_empty_or_comment_only_file_is_a_validation_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.pte"
    path.write_text(text)
    for command in ("check", "run", "explore"):
        assert main([command, str(path)]) == 2
        assert "empty.pte:1:1:" in capsys.readouterr().err
    assert main(["check", str(REPROS / "r12-empty-file-passes.pte")]) == 2
    capsys.readouterr()


def test_defect13_alignment_hint_stays_inside_the_address_space() -> None:
    with pytest.raises(DslValidationError) as error:
        parse("map p0 0xfffffffffffff001 1 rw\n")
    assert "try" not in (error.value.hint or "")
    with pytest.raises(DslValidationError) as error:
        parse("map p0 0x1001 1 rw\n")
    assert "try 0x1000" in (error.value.hint or "")


def test_defect9_validation_is_linear_in_the_number_of_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Counted, not timed: the entries a thread's process checks look at. The old validation
    # merged every other thread's forks for each thread (10,000 threads took 22 s).
    looked_at = 0
    real = validate_module._by_other

    def counting(entries: list[tuple[int, object]], index: int) -> tuple[bool, object]:
        nonlocal looked_at
        looked_at += len(entries)
        return real(entries, index)  # type: ignore[arg-type]

    monkeypatch.setattr(validate_module, "_by_other", counting)
    threads = 3000
    text = "parallel {\n" + "".join(
        f"  thread {{ fork p0 p{i + 1} }}\n" for i in range(threads)
    ) + "}\n"
    assert len(parse(text).ops()) == threads
    assert looked_at <= 4 * threads


# ---- fmt keeps what a person wrote ------------------------------------------------------------

COMMENTED = """\
# Fix 3 again: a header
#
# in two paragraphs

config nodes=3         # three nodes
expect postfix agrees  # must agree

# the mapping
map      p0 0x1000 1 rw  # map it
fault    p0 4096 read => 0

parallel {  # the race
  # the migration
  thread { migrate p0 0x1000 1 }  # moves the page
  thread {
    fork     p0 p1                # then a fork
    # nothing after the fork
  }  # end of thread 1
  # end of the block
} schedule 0 1  # thread 0 first
# the end
"""


def test_fmt_keeps_every_comment_blank_line_and_number_spelling() -> None:
    program = parse(COMMENTED)
    text = format_program(program)
    assert text == COMMENTED
    assert "=> 0\n" in text and "4096" in text  # not 0x0, not 0x1000


def test_fmt_canonicalises_spacing_case_and_leading_zeros_around_the_comments() -> None:
    messy = "  map p0   0X01000 1 rw#c\n\n\n\nfault p0 0x1000 write 0xAA   #   spaced\n"
    assert format_program(parse(messy)) == (
        "map      p0 0x1000 1 rw  # c\n\nfault    p0 0x1000 write 0xaa  #   spaced\n"
    )


def test_a_default_config_line_goes_but_its_comment_stays() -> None:
    text = format_program(parse("config swap_bits=5  # the default\nswapon 1\n"))
    assert text == "# the default\n\nswapon   1\n"
