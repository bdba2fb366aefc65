"""Audit 2026-12 (reliability), pytest plugin defects (defect 1 first): one bad file never
aborts the session, failures read as findings, not tracebacks through pytest's internals."""

from __future__ import annotations

import ptediff.dsl.parse
import ptediff.dsl.values
import ptediff.judge.verdict
import ptediff.report.divergence
import pytest

# Imported here, before pytester's in-process runs: modules first imported inside one are
# dropped after it, and a later run would mix two copies of the AST classes.
PRELOADED = (ptediff.dsl.parse, ptediff.dsl.values, ptediff.judge.verdict,
             ptediff.report.divergence)
pytest_plugins = ["pytester"]

GOOD = "expect postfix agrees\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 0x5\n"
PARSER_BUG = '''
import ptediff.dsl.parse as parse

_real = parse.parse_file


def parse_file(path):
    if path.name == "crash.pte":
        raise ValueError("a parser bug")
    return _real(path)


def pytest_configure(config):
    parse.parse_file = parse_file


def pytest_unconfigure(config):
    parse.parse_file = _real
'''
SMALL_BUDGET = '''
import ptediff.impls.sched as sched

_real = sched.MAX_STEPS


def pytest_configure(config):
    sched.MAX_STEPS = 5


def pytest_unconfigure(config):
    sched.MAX_STEPS = _real
'''
BUGGY_MODEL = '''
from ptediff import Kernel


class Buggy(Kernel):
    def sys_swapon(self, *args, **kwargs):
        yield from ()
        return 1 // 0
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npte_paths = regs\n")
    pytester.mkdir("regs")
    (pytester.path / "regs" / "good.pte").write_text(GOOD)
    return pytester


def test_defect1_a_collection_crash_is_reported_not_an_internal_error(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(PARSER_BUG)
    (project.path / "regs" / "crash.pte").write_text(GOOD)
    result = project.runpytest("--continue-on-collection-errors", "-q")
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text
    assert result.ret == 1
    result.assert_outcomes(passed=1, errors=1)
    assert "crash.pte" in text and "ValueError: a parser bug" in text
    assert "pluggy" not in text  # the traceback is pruned to ptediff's frames


def test_defect1_huge_numbers_among_the_regression_files(project: pytest.Pytester) -> None:
    (project.path / "regs" / "huge.pte").write_text("swapon " + "1" * 5000 + "\n")
    result = project.runpytest("--continue-on-collection-errors", "-q")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*huge.pte:1:8: a number of 5000 digits is too large"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_defect8_a_model_that_raises_fails_as_a_located_crash(project: pytest.Pytester) -> None:
    project.makepyfile(plugkernel=BUGGY_MODEL)
    project.syspathinsert()
    (project.path / "regs" / "swap.pte").write_text("expect plugkernel:Buggy agrees\nswapon 1\n")
    result = project.runpytest("-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*swap.pte:1: plugkernel:Buggy diverges: crash:ZeroDivisionError: *plugkernel.py:7 in "
        "sys_swapon*"
    ])
    assert "pluggy" not in result.stdout.str()
    assert len(result.stdout.lines) < 40  # the audit saw ~960 lines


def test_a_budget_exceeded_item_fails_as_no_verdict(project: pytest.Pytester) -> None:
    project.makeconftest(SMALL_BUDGET)
    (project.path / "regs" / "good.pte").unlink()
    (project.path / "regs" / "long.pte").write_text(
        "expect postfix agrees\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 0x5\nparallel {\n"
        "  thread {\n    migrate p0 0x1000 1\n    migrate p0 0x1000 0\n  }\n"
        "  thread { swapon 1 }\n}\n"
    )
    result = project.runpytest("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*long.pte:1: no verdict for postfix: budget exceeded: 5 sched*"])
    assert "deadlock" not in result.stdout.str()


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_defect13_an_empty_regression_file_is_a_collection_error(
    project: pytest.Pytester, text: str
) -> None:
    (project.path / "regs" / "empty.pte").write_text(text)
    result = project.runpytest("--continue-on-collection-errors", "-q")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*empty.pte:1:1: *"])


def test_defect13_a_directory_named_on_the_command_line_is_collected(
    project: pytest.Pytester,
) -> None:
    elsewhere = project.mkdir("elsewhere")
    (elsewhere / "x.pte").write_text(GOOD)
    (elsewhere / ".tmp-abcd1234.pte").write_text(GOOD)  # a killed save's leftover
    result = project.runpytest("elsewhere", "-q")
    result.assert_outcomes(passed=1)


def test_defect13_naming_the_plugin_with_p_is_harmless(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "ptediff.pytest_plugin", "-q")
    result.assert_outcomes(passed=1)
