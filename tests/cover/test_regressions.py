"""Saving minimal divergences as `.pte` files: content, replay, dedup, atomicity, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ptediff.core.program import Config, Expect, Program, Swapon
from ptediff.dsl.parse import parse_file
from ptediff.judge.check import check
from ptediff.judge.differ import Judgement
from ptediff.judge.verdict import evaluate
from ptediff.search.regressions import SaveError, content_hash, save

SWAPONS = Program((Swapon(1), Swapon(1), Swapon(1)), config=Config(swap_bits=2))
CLS = "kernel-bug:sys_swapon"


@pytest.fixture
def judgement() -> Judgement:
    found = check(SWAPONS, "prefix-swapon-range", check_invariants=False)
    assert found.divergence is not None and found.divergence.primary.cls == CLS
    return found


def test_saved_file_names_the_divergence_and_replays_to_it(
    tmp_path: Path, judgement: Judgement
) -> None:
    path = save(SWAPONS, judgement, "prefix-swapon-range", tmp_path)
    digest = content_hash(SWAPONS, CLS)
    assert path == tmp_path / f"prefix-swapon-range-kernel-bug_sys_swapon-{digest}.pte"
    text = path.read_text()
    assert text.startswith(
        "# Found by ptediff hunt: prefix-swapon-range diverges from the spec with "
        "kernel-bug:sys_swapon\n# first showing at op 2: swapon 1\n"
    )
    saved = parse_file(path)
    assert saved.steps == SWAPONS.steps and saved.config == SWAPONS.config
    assert saved.expects == (
        Expect("postfix", "agrees"),
        Expect("prefix-swapon-range", "diverges", (CLS,)),
    )
    for expect in saved.expects:
        verdict = evaluate(saved, expect.impl, check_invariants=False)
        assert verdict.passed, verdict.messages
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_same_class_and_program_is_saved_once_whoever_finds_it(
    tmp_path: Path, judgement: Judgement
) -> None:
    first = save(SWAPONS, judgement, "prefix-swapon-range", tmp_path)
    assert first is not None
    before = first.read_text()
    assert save(SWAPONS, judgement, "prefix-swapon-range", tmp_path) is None
    assert save(SWAPONS, judgement, "prefix", tmp_path) is None
    assert first.read_text() == before
    assert len(list(tmp_path.iterdir())) == 1
    other = Program((*SWAPONS.steps, Swapon(2)), config=SWAPONS.config)
    second = save(other, check(other, "prefix", check_invariants=False), "prefix", tmp_path)
    assert second is not None and second != first


def test_an_existing_file_is_never_overwritten(tmp_path: Path, judgement: Judgement) -> None:
    name = f"prefix-swapon-range-kernel-bug_sys_swapon-{content_hash(SWAPONS, CLS)}.pte"
    (tmp_path / name).write_text("# someone else's file\n")
    assert save(SWAPONS, judgement, "prefix-swapon-range", tmp_path) is None
    assert (tmp_path / name).read_text() == "# someone else's file\n"


def test_a_file_appearing_during_the_write_wins(
    tmp_path: Path, judgement: Judgement, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def racing_link(source: str, target: Path) -> None:
        Path(target).write_text("# written by a concurrent hunt\n")
        real_link(source, target)

    monkeypatch.setattr(os, "link", racing_link)
    assert save(SWAPONS, judgement, "prefix-swapon-range", tmp_path) is None
    (only,) = tmp_path.iterdir()
    assert only.read_text() == "# written by a concurrent hunt\n"


def test_expect_lines_for_every_impl_and_postfix_only_when_it_agrees(
    tmp_path: Path, judgement: Judgement
) -> None:
    diverging_postfix = judgement  # stands in for a post-fix model that diverges too
    path = save(
        SWAPONS,
        judgement,
        "prefix-swapon-range",
        tmp_path,
        also=["prefix"],
        postfix_judgement=diverging_postfix,
    )
    assert path is not None
    saved = parse_file(path)
    assert saved.expects == (
        Expect("prefix-swapon-range", "diverges", (CLS,)),
        Expect("prefix", "diverges", (CLS,)),
    )
    assert "prefix-swapon-range and prefix diverge from the spec" in saved.comments[0]


def test_bad_directories_are_clear_errors(tmp_path: Path, judgement: Judgement) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(SaveError, match="not-a-dir"):
        save(SWAPONS, judgement, "prefix-swapon-range", blocker)
    with pytest.raises(SaveError, match="cannot create"):
        save(SWAPONS, judgement, "prefix-swapon-range", blocker / "below")
    agreeing = check(SWAPONS, "postfix", check_invariants=False)
    with pytest.raises(ValueError, match="diverging"):
        save(SWAPONS, agreeing, "postfix", tmp_path)


def test_save_creates_the_directory(tmp_path: Path, judgement: Judgement) -> None:
    path = save(SWAPONS, judgement, "prefix-swapon-range", tmp_path / "new" / "dir")
    assert path is not None and path.parent == tmp_path / "new" / "dir"
