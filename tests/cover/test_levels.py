"""Contract vs implementation levels: the class mapping, `--level contract` and the reports."""

from __future__ import annotations

from pathlib import Path

from ptediff.core.outcome import Outcome, PteState
from ptediff.dsl.parse import parse as parse_program
from ptediff.judge.differ import judge
from ptediff.judge.signature import FAMILIES, FIELD_CLASS, FIELD_LEVELS, LEVELS, level_of

REGRESSIONS = Path(__file__).resolve().parents[1] / "regressions"


def test_every_family_and_field_has_a_level() -> None:
    assert set(LEVELS) == set(FAMILIES)
    assert set(FIELD_LEVELS) == set(FIELD_CLASS)
    for name, cls in FIELD_CLASS.items():
        assert FIELD_LEVELS[name] == LEVELS[cls]
    assert level_of("result:swapon") == "contract"
    assert level_of("invariant:I3") == "implementation"


PROGRAM = parse_program("map p0 0x1000 1 rw\nfault p0 0x1000 write 7\nmprotect p0 0x1000 1 r\n"
                        "mprotect p0 0x1000 1 rw\n")


def _outcome(writable: bool, data: int = 7, frame: int = 1) -> Outcome:
    state = {("p0", 0x1000): PteState("present", writable, frame, 0, data)}
    return Outcome(results={0: 0, 1: 0, 2: 0, 3: 0}, state=state,
                   vma_prot={("p0", 0x1000): "rw"})


def test_a_write_bit_difference_is_implementation_level() -> None:
    from ptediff import spec

    allowed = spec.run(PROGRAM)
    eager = _outcome(writable=True)  # a modern kernel's eager write bit after mprotect r->rw
    full = judge(PROGRAM, allowed, eager)
    assert full.divergence is not None
    assert full.divergence.classes == ("pte-writable",)
    assert full.divergence.level == "implementation"
    assert judge(PROGRAM, allowed, eager, level="contract").agrees


def test_a_data_difference_is_contract_level() -> None:
    from ptediff import spec

    allowed = spec.run(PROGRAM)
    wrong = judge(PROGRAM, allowed, _outcome(writable=False, data=9), level="contract")
    assert wrong.divergence is not None
    assert wrong.divergence.classes == ("data",)
    assert wrong.divergence.level == "contract"


def test_shared_writable_is_seen_at_contract_level() -> None:
    from ptediff import spec

    program = parse_program("map p0 0x1000 1 rw\nfault p0 0x1000 write 7\nfork p0 p1\n")
    allowed = spec.run(program)
    state = {("p0", 0x1000): PteState("present", True, 1, 0, 7),
             ("p1", 0x1000): PteState("present", False, 1, 0, 7)}
    prot = {key: "rw" for key in state}
    broken = Outcome(results={0: 0, 1: 0, 2: 0}, state=state, vma_prot=prot)
    judgement = judge(program, allowed, broken, level="contract")
    assert judgement.divergence is not None
    assert judgement.divergence.primary.cls == "shared-writable"


def test_run_level_contract_ignores_implementation_classes(capsys) -> None:
    from ptediff.cli.main import main

    # fix1: the pre-fix model leaves an orphan migration entry (implementation level) and more
    code = main(["run", str(REGRESSIONS / "fix3.pte"), "--level", "contract", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    import json

    for verdict in json.loads(out)["files"][0]["verdicts"]:
        divergence = verdict["divergence"]
        if divergence is not None:
            assert {s["level"] for s in divergence["signatures"]} == {"contract"}


def test_regressions_pass_at_the_contract_level(capsys) -> None:
    """Expected implementation-level classes are not compared at --level contract: a variant
    expected to show only `orphan-migration-entry` passes whether or not it diverges there."""
    from ptediff.cli.main import main

    code = main(["run", str(REGRESSIONS), "--level", "contract"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out


def test_a_page_mapped_on_one_side_only_is_a_contract_difference() -> None:
    from ptediff import spec

    program = parse_program("map p0 0x1000 1 rw\n")
    allowed = spec.run(program)
    extra = Outcome(results={0: 0}, state={("p0", 0x1000): PteState("none"),
                                            ("p0", 0x2000): PteState("none")},
                    vma_prot={("p0", 0x1000): "rw", ("p0", 0x2000): "rw"})
    judgement = judge(program, allowed, extra, level="contract")
    assert judgement.divergence is not None  # a read of 0x2000 gives 0 here, SIGSEGV in the spec
    assert judgement.divergence.classes == ("data",)
    prot_none = Outcome(results={0: 0}, state={("p0", 0x1000): PteState("none")},
                        vma_prot={("p0", 0x1000): "none"})
    assert judge(program, allowed, prot_none, level="contract").divergence is not None
