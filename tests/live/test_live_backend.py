"""The live backend against the running kernel: operations, observations, declared differences,
real concurrency, and the CLI."""

from __future__ import annotations

import json

import pytest
from live_support import needs_live, program, validate_report
from ptediff.cli.main import main
from ptediff.judge.check import spec_outcomes
from ptediff.judge.differ import judge
from ptediff.live.compare import judge_live
from ptediff.live.explore import explore_live
from ptediff.live.runner import LiveUnsupported, run_live

pytestmark = needs_live

COW = program("""
map p0 0x1000 3 rw
fault p0 0x1000 write 0x11
fault p0 0x3000 read
fork p0 p1
fault p1 0x1000 write 0x22
fault p0 0x1000 read
fault p1 0x2000 read
mprotect p0 0x2000 1 r
fault p0 0x2000 write 5
munmap p1 0x3000 1
fault p1 0x3000 read
""")


def test_a_fork_and_cow_program_agrees_at_every_level(session) -> None:
    run = run_live(session, COW)
    results = run.outcome.results
    assert results[5] == 0x11  # the parent still reads its own value after the child's write
    assert results[8] == "SIGSEGV" and results[10] == "SIGSEGV"
    state = run.outcome.state
    assert state[("p1", 0x1000)].data == 0x22 and state[("p0", 0x1000)].data == 0x11
    assert state[("p1", 0x1000)].writable  # the child's copy, read through the BPF reader
    assert ("p1", 0x3000) not in state  # unmapped in the child
    assert run.write_bits
    judged = judge_live(COW, run, level="all")
    assert judged.agrees, judged.judgement.signatures


def test_eager_write_after_mprotect_is_declared_not_hidden(session) -> None:
    prog = program("map p0 0x1000 1 rw\nfault p0 0x1000 write 7\n"
                   "mprotect p0 0x1000 1 r\nmprotect p0 0x1000 1 rw\n")
    run = run_live(session, prog)
    raw = judge(prog, spec_outcomes(prog), run.outcome)
    assert raw.divergence is not None and raw.divergence.classes == ("pte-writable",)
    judged = judge_live(prog, run, level="all")
    assert judged.agrees
    assert judged.fired == {"eager-write-after-mprotect": 1}


def test_pageout_of_a_shared_page_is_declared(session) -> None:
    prog = program("swapon 4\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 7\nfork p0 p1\n"
                   "pageout p0 0x1000\n")
    run = run_live(session, prog)
    assert run.outcome.state[("p0", 0x1000)].kind == "present"  # the kernel left it alone
    assert run.shared_pageouts
    judged = judge_live(prog, run, level="all")
    assert judged.agrees
    assert judged.fired["pageout-skips-shared"] == 2


def test_pageout_and_swap_in_keep_the_data(session) -> None:
    prog = program("swapon 2\nmap p0 0x1000 2 rw\nfault p0 0x1000 write 5\n"
                   "fault p0 0x2000 write 6\npageout p0 0x1000\npageout p0 0x2000\n"
                   "fault p0 0x2000 read\n")
    run = run_live(session, prog)
    assert run.outcome.state[("p0", 0x1000)].kind == "swap"
    assert run.outcome.state[("p0", 0x1000)].data == 5
    assert run.outcome.results[6] == 6
    assert judge_live(prog, run, level="contract").agrees
    assert judge_live(prog, run, level="all").agrees  # the write bit after swap-in: declared


def test_swapoff_brings_the_pages_back_and_frees_the_type(session) -> None:
    prog = program("swapon 2\nswapon 1\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 5\n"
                   "pageout p0 0x1000\nswapoff 0\nswapoff 0\nswapoff 7\nswapon 1\n"
                   "fault p0 0x1000 read\n")
    run = run_live(session, prog)
    assert [run.outcome.results[i] for i in (5, 6, 7, 8)] == [0, -22, -22, 0]
    assert run.outcome.results[9] == 5
    assert run.outcome.state[("p0", 0x1000)].kind == "present"
    assert judge_live(prog, run, level="contract").agrees


def test_a_merged_vma_copies_its_zero_page_on_fork(session) -> None:
    prog = program("map p0 0x2000 1 rw\nfault p0 0x2000 write 1\nmap p0 0x1000 1 rw\n"
                   "fault p0 0x1000 read\nmunmap p0 0x2000 1\nfork p0 p1\n")
    run = run_live(session, prog)
    assert run.outcome.state[("p1", 0x1000)].kind == "present"  # the spec: none
    judged = judge_live(prog, run, level="all")
    assert judged.agrees
    assert judged.fired == {"vma-merge": 1}


def test_the_swap_area_limit_is_declared(session) -> None:
    prog = program("config swap_bits=2\nswapon 1\nswapon 1\nswapon 1\nswapon 0\n")
    run = run_live(session, prog)
    assert [run.outcome.results[i] for i in range(4)] == [0, 0, 0, -22]
    judged = judge_live(prog, run, level="contract")
    assert judged.agrees
    assert judged.fired == {"max-swapfiles": 2}


def test_a_contract_difference_is_never_declared_away(session) -> None:
    prog = program("map p0 0x1000 1 rw\nfault p0 0x1000 write 7\n")
    run = run_live(session, prog)
    run.outcome.results[1] = "SIGSEGV"  # as if the kernel had refused the write
    judged = judge_live(prog, run, level="contract")
    assert judged.judgement.divergence is not None
    assert judged.judgement.divergence.primary.cls == "result:fault"


def test_migrate_is_unsupported_on_one_node(session) -> None:
    with pytest.raises(LiveUnsupported, match="1 node online"):
        run_live(session, program("map p0 0x1000 1 rw\nfault p0 0x1000 write 1\n"
                                  "migrate p0 0x1000 1\n"))


def test_parallel_blocks_run_concurrently_and_stay_allowed(session) -> None:
    prog = program("map p0 0x1000 1 rw\nfault p0 0x1000 write 1\nparallel {\n"
                   "  thread { fork p0 p1 }\n  thread { fault p0 0x1000 write 2 }\n}\n"
                   "fault p1 0x1000 read\n")
    report = explore_live(session, prog, runs=30, level="contract")
    assert len(report.spec_outcomes) == 2
    assert not report.unexpected
    assert sum(o.count for o in report.outcomes) == 30


def test_run_impl_linux_reports_skips_and_declared(tmp_path, capsys) -> None:
    unsupported = tmp_path / "migrate.pte"
    unsupported.write_text("map p0 0x1000 1 rw\nfault p0 0x1000 write 1\nmigrate p0 0x1000 1\n")
    declared = tmp_path / "swap.pte"
    declared.write_text("config swap_bits=2\nswapon 1\nswapon 1\nswapon 1\n")
    code = main(["run", str(unsupported), str(declared), "--impl", "linux", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    validate_report(document)
    assert code == 0
    first, second = document["files"]
    assert first["verdicts"] == [] and "move_pages" in first["skipped"][0]["reason"]
    assert second["verdicts"][0]["agrees"] is True
    assert second["declared"] == [{"impl": "linux", "fired": {"max-swapfiles": 1}}]


def test_conform_runs_generated_programs(tmp_path, capsys) -> None:
    code = main(["conform", "--max-examples", "40", "--seed", "3", "--save", str(tmp_path),
                 "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    validate_report(document)
    assert document["programs"] >= 40
    assert code == (1 if document["findings"] else 0)
    assert document["agreeing"] == document["programs"] or document["findings"]


def test_explore_impl_linux_json(tmp_path, capsys) -> None:
    path = tmp_path / "race.pte"
    path.write_text("map p0 0x1000 1 rw\nparallel {\n  thread { fault p0 0x1000 write 1 }\n"
                    "  thread { fault p0 0x1000 read }\n}\n")
    code = main(["explore", str(path), "--impl", "linux", "--runs", "20", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    validate_report(document)
    assert code == 0 and document["passed"]
    assert document["runs"] == 20
    assert sum(o["count"] for o in document["outcomes"]) == 20
    assert {o["observation"] for o in document["spec_outcomes"]} <= {"Never", "Sometimes",
                                                                      "Always"}


def test_conform_finds_and_shrinks_an_injected_contract_difference(session, monkeypatch) -> None:
    """A kernel whose reads return the value plus one: conform must report `data` (or the read's
    result) and shrink it to map, write, read."""
    from ptediff.core.program import Fault
    from ptediff.live import conform as campaign

    def broken_kernel(session_, prog):
        run = run_live(session_, prog)
        for op_id, op in enumerate(prog.ops()):
            value = run.outcome.results.get(op_id)
            if isinstance(op, Fault) and not op.write and isinstance(value, int) and value:
                run.outcome.results[op_id] = value + 1
        return run

    monkeypatch.setattr(campaign, "run_live", broken_kernel)
    report = campaign.conform(session, seconds=60, seed=5, stop_after=1, parallel=False)
    [finding] = report.findings
    assert finding.cls == "data"
    kinds = [op.KIND for op in finding.program.ops()]
    assert kinds == ["map", "fault", "fault"], kinds
