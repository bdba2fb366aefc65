"""The `.pte` pytest plugin, run in a scratch pytest session (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

AGREEING = """\
# Map, write, read back.
expect postfix agrees
map      p0 0x1000 1 rw
fault    p0 0x1000 write 0x5
fault    p0 0x1000 read => 0x5
"""

SWAPON_OVERRUN = """\
config swap_bits=2
expect postfix agrees
expect prefix-swapon-range diverges result:swapon
swapon   1
swapon   1
swapon   1 => -EPERM
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A scratch project whose ini file points pte_paths at `regressions/`."""
    pytester.makeini("[pytest]\npte_paths = regressions\n")
    pytester.mkdir("regressions")
    return pytester


def write(pytester: pytest.Pytester, name: str, text: str) -> None:
    (pytester.path / "regressions" / name).write_text(text, encoding="utf-8")


def test_collection(project: pytest.Pytester) -> None:
    """One item per expect line; every registered impl without them; pte_paths only."""
    from ptediff.dsl.values import registered_impls

    write(project, "swapon.pte", SWAPON_OVERRUN)
    write(project, "plain.pte", "map p0 0x1000 1 rw\n")
    project.mkdir("elsewhere")
    (project.path / "elsewhere" / "stray.pte").write_text("fork p0 p0\n", encoding="utf-8")
    result = project.runpytest("--collect-only", "-q")
    assert result.ret == 0
    collected = [line for line in result.stdout.lines if ".pte::" in line]
    assert collected == [
        *(f"regressions/plain.pte::{name}" for name in registered_impls()),
        "regressions/swapon.pte::postfix",
        "regressions/swapon.pte::prefix-swapon-range",
    ]


def test_verdicts_and_failure_reports(project: pytest.Pytester) -> None:
    write(project, "agree.pte", AGREEING)
    write(project, "swapon.pte", SWAPON_OVERRUN)
    write(project, "unexpected.pte", SWAPON_OVERRUN.replace("diverges result:swapon", "agrees"))
    write(project, "unmet.pte", SWAPON_OVERRUN.replace("result:swapon", "shared-writable"))
    write(project, "wrong.pte", AGREEING.replace("=> 0x5", "=> 0x6"))
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=5, failed=3)
    output = result.stdout.str()
    assert "Traceback" not in output and "runtest" not in output
    # A divergence where agreement was expected: the messages, then the tables.
    result.stdout.fnmatch_lines(
        [
            "*unexpected.pte:3: prefix-swapon-range did not meet its expectation",
            "*expected to agree with the spec, but diverges: *result:swapon*",
            "*line 6: `swapon 1*` expected -EPERM, got 0*",
            "*results that differ*",
            "line*operation*spec*prefix-swapon-range*",
            "6*swapon 1*-EPERM*0*",
        ]
    )
    # A divergence without the expected signature.
    result.stdout.fnmatch_lines(["*unmet.pte:3:*", "*diverges, but without shared-writable*"])
    # A `=>` the spec itself does not meet: the file is wrong, and the line is named.
    result.stdout.fnmatch_lines(["*line 5*fault p0 0x1000 read*expected 0x6, got 0x5*"])


def test_broken_file_is_a_collection_error_with_the_dsl_message(project: pytest.Pytester) -> None:
    write(project, "broken.pte", "map p0 0x1000 1 rw\nfork p0 p0\n")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting regressions/broken.pte*",
            "*regressions/broken.pte:2:9: process p0 already exists",
            "    fork p0 p0",
            "            ^",
            "hint: fork needs a new name*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_file_named_on_the_command_line_is_collected_anywhere(
    project: pytest.Pytester,
) -> None:
    project.mkdir("elsewhere")
    (project.path / "elsewhere" / "one.pte").write_text(AGREEING, encoding="utf-8")
    result = project.runpytest("-v", "elsewhere/one.pte")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["elsewhere/one.pte::postfix PASSED*"])
