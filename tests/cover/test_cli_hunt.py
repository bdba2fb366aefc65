"""`ptediff hunt`: the summary table, minimal programs, saving, JSON, exit codes.

Small budgets on the fix-2 variant: its bug needs no concurrency (a migration with highpte on),
so a few hundred examples of the derandomized `ci` profile find it in seconds.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from ptediff.cli.main import main
from ptediff.impls.variants import PteUnmapArg
from test_report_schema import validate_report

# Fix 2 shows within a few dozen examples; the race phase finds the documented latent
# use-after-free of unlocked migrations (latent-unlocked-munmap.pte) after about 300.
BUDGET = ("--max-examples", "150", "--seed", "1", "--profile", "ci")
FIX2 = "kmap-leak:remove_migration_pte"


class Unlabelled(PteUnmapArg):
    """The fix-2 bug in a class that claims to revert nothing: its divergence is unexpected."""

    NAME: ClassVar[str] = "unlabelled"
    REVERTS: ClassVar[str] = ""


def ptediff(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture(scope="module")
def saved_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("found")


@pytest.fixture(scope="module")
def hunted(saved_dir: Path) -> tuple[int, Any, str]:
    """One JSON hunt of the fix-2 variant and postfix, saving what it finds."""
    capture = pytest.MonkeyPatch()  # capsys is per test; this hunt is shared by several
    out, err = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", out)
    capture.setattr(sys, "stderr", err)
    try:
        # Drawn programs only: the small-scope phase would also find postfix's documented
        # latent race (tests/cover/test_small_scope.py covers the phase).
        code = main(["hunt", "--impl", "prefix-pte-unmap-arg", "--impl", "postfix", *BUDGET,
                     "--save", str(saved_dir), "--format", "json", "--no-small-scope"])
    finally:
        capture.undo()
    return code, json.loads(out.getvalue()), err.getvalue()


def test_hunt_json_follows_the_schema_and_finds_fix2(hunted: tuple[int, Any, str]) -> None:
    code, document, _ = hunted
    validate_report(document)
    assert code == 0
    assert document["passed"] is True
    assert document["impls"] == ["prefix-pte-unmap-arg", "postfix"]
    assert (document["seed"], document["profile"], document["max_examples"]) == (1, "ci", 150)
    [finding] = document["findings"]
    assert (finding["impl"], finding["signature"], finding["expected"]) == (
        "prefix-pte-unmap-arg", FIX2, True
    )
    assert finding["classification"] == "fixed"
    assert finding["concurrency"] == "sequential"
    assert finding["size"] == {"ops": 3, "threads": 1, "preemptions": 0, "lines": 5}
    assert finding["program"] == (
        "config highpte=on\n\nmap      p0 0x1000 1 rw\nfault    p0 0x1000 write 0x1\n"
        "migrate  p0 0x1000 1\n"
    )
    assert (finding["op"], finding["line"]) == (2, 5)  # the migrate
    assert finding["divergence"]["bugs"][0]["function"] == "remove_migration_pte"
    assert 1 <= finding["examples_to_first"] <= document["examples"]


def test_hunt_shows_progress_on_stderr(hunted: tuple[int, Any, str]) -> None:
    _, document, err = hunted
    lines = err.splitlines()
    assert lines
    assert all(line.startswith("hunt: ") for line in lines)
    assert lines[-1].startswith(f"hunt: {document['examples']} examples, 1 divergence")


def test_saved_finding_is_a_passing_regression_file(
    hunted: tuple[int, Any, str], saved_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [finding] = hunted[1]["findings"]
    saved = Path(finding["saved"])
    assert saved.parent == saved_dir
    assert sorted(saved_dir.iterdir()) == [saved]
    text = saved.read_text()
    assert "expect postfix agrees" in text
    assert f"expect prefix-pte-unmap-arg diverges {FIX2}" in text
    code, out, _ = ptediff(capsys, "run", saved)
    assert code == 0
    assert out.count(" ok") == 2


def test_hunt_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ptediff(capsys, "hunt", "--impl", "prefix-pte-unmap-arg", *BUDGET,
                             "--no-progress")
    assert (code, err) == (0, "")
    row = next(line for line in out.splitlines() if line.startswith("prefix-pte-unmap-arg "))
    words = row.split()
    assert words[1:3] == [FIX2, "yes"]
    # then examples and seconds to the first failure, ops, lines, concurrency; no
    # classification (no post-fix model ran) and nothing saved: empty cells
    assert words[5:] == ["3", "5", "sequential"]
    assert f"prefix-pte-unmap-arg: {FIX2}" in out
    assert "first shows at L5 migrate p0 0x1000 1; sequential." in out
    assert "\n    config highpte=on\n\n    map      p0 0x1000 1 rw\n" in out


def test_a_divergence_of_an_implementation_that_reverts_nothing_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = ptediff(capsys, "hunt", "--impl", f"{__name__}:Unlabelled", *BUDGET,
                           "--no-progress", "--format", "markdown")
    assert code == 1
    assert f"| {__name__}:Unlabelled" in out
    assert "UNEXPECTED" in out
    assert "```\nconfig highpte=on\n" in out


def test_an_unknown_profile_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ptediff(capsys, "hunt", "--profile", "fast")
    assert (code, out) == (2, "")
    assert err == "ptediff: error: unknown profile 'fast': use one of ci, dev, deep\n"


def test_the_same_seed_and_budget_find_the_same(
    hunted: tuple[int, Any, str], capsys: pytest.CaptureFixture[str]
) -> None:
    def stable(document: Any) -> Any:
        timeless = {k: v for k, v in document.items() if k != "seconds"}
        timeless["findings"] = [
            {k: v for k, v in f.items() if k not in ("seconds_to_first", "saved")}
            for f in document["findings"]
        ]
        timeless["bugs"] = [
            {k: v for k, v in b.items() if k != "seconds_to_first"} for b in document["bugs"]
        ]
        return timeless

    code, out, _ = ptediff(capsys, "hunt", "--impl", "prefix-pte-unmap-arg", "--impl",
                           "postfix", *BUDGET, "--no-progress", "--format", "json",
                           "--no-small-scope")
    assert code == 0
    assert stable(json.loads(out)) == stable(hunted[1])


def test_saving_into_a_file_is_refused_before_hunting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "plain-file"
    target.write_text("")
    code, out, err = ptediff(capsys, "hunt", "--save", target, "--max-examples", "1")
    assert (code, out) == (2, "")
    assert err == f"ptediff: error: --save {target}: not a directory\n"


def test_a_documented_latent_class_is_known_on_postfix_and_its_subclasses() -> None:
    from types import SimpleNamespace

    from ptediff.cli.hunt import known_latent

    def finding(impl: str, cls: str) -> Any:
        return SimpleNamespace(impl=impl, signature=cls)

    assert known_latent(finding("postfix", "use-after-free:anon_vma"))
    assert known_latent(finding("prefix", "invariant:I8"))
    assert not known_latent(finding("postfix", "shared-writable"))
    assert not known_latent(finding(f"{__name__}:Unlabelled", "kmap-leak:remove_migration_pte"))
