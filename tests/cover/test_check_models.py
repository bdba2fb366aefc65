"""Spec + differ + kernel models together.

The post-fix model must agree with the spec on hand-written programs covering every operation,
sequential and parallel (with schedules that make it take the racy paths the allowances cover);
each pre-fix variant must diverge on its fix's scenario with that fix's signature, at the right
operation.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from ptediff.core.program import Config, Fault, Migrate, Parallel, Program, Swapon
from ptediff.dsl.parse import parse
from ptediff.judge.check import check, check_located
from ptediff.search.strategies import programs

scenarios = pytest.importorskip("test_scenarios")  # the models engineer's fix scenarios

SEQUENTIAL = {
    "cow-both-ways": """
        map   p0 0x1000 2 rw
        fault p0 0x1000 write 0x11
        fault p0 0x2000 read
        fork  p0 p1
        fault p1 0x1000 write 0x22
        fault p0 0x1000 read
        fault p1 0x2000 write 0x5
        fault p0 0x1000 write 0x33
        exit  p1
    """,
    "fork-skips-vmas-without-anon": """
        map   p0 0x1000 1 rw
        map   p0 0x2000 1 rw
        fault p0 0x1000 read
        fault p0 0x2000 write 0x1
        fork  p0 p1
        fault p1 0x1000 read
    """,
    "mprotect": """
        map      p0 0x1000 3 rw
        fault    p0 0x1000 write 0x1
        fault    p0 0x2000 write 0x2
        mprotect p0 0x2000 1 none
        fault    p0 0x2000 read
        mprotect p0 0x1000 1 r
        fault    p0 0x1000 write 0x3
        mprotect p0 0x1000 3 rw
        fault    p0 0x3000 write 0x4
        mprotect p0 0x3000 2 r
        munmap   p0 0x2000 1
        fault    p0 0x2000 read
    """,
    "map-errors": """
        map    p0 0x1000 2 r
        map    p0 0x2000 1 rw
        munmap p0 0x5000 1
        map    p0 0x5000 1 rw
    """,
    "swap-round-trip": """
        swapon  4
        map     p0 0x1000 2 rw
        fault   p0 0x1000 write 0x1
        fault   p0 0x2000 read
        pageout p0 0x1000
        pageout p0 0x2000
        fault   p0 0x1000 read
        fault   p0 0x1000 write 0x2
        pageout p0 0x1000
        fault   p0 0x1000 write 0x3
        pageout p0 0x7000
    """,
    "shared-swap": """
        swapon  2
        map     p0 0x1000 1 rw
        fault   p0 0x1000 write 0x9
        fork    p0 p1
        pageout p1 0x1000
        fault   p0 0x1000 read
        fault   p1 0x1000 write 0xa
        fault   p0 0x1000 write 0xb
        exit    p0
    """,
    "swap-full": """
        swapon  1
        map     p0 0x1000 2 rw
        fault   p0 0x1000 write 0x1
        fault   p0 0x2000 write 0x2
        pageout p0 0x1000
        fault   p0 0x1000 read
        pageout p0 0x2000
        pageout p0 0x1000
    """,
    "swap-priorities": """
        swapon  1
        swapon  2 prio=5
        swapon  2 prio=5
        swapon  0
        map     p0 0x1000 4 rw
        fault   p0 0x1000 write 0x1
        fault   p0 0x2000 write 0x2
        fault   p0 0x3000 write 0x3
        fault   p0 0x4000 write 0x4
        pageout p0 0x1000
        pageout p0 0x2000
        pageout p0 0x3000
        fault   p0 0x1000 read
        pageout p0 0x4000
    """,
    "migrate": """
        swapon  4
        map     p0 0x1000 2 rw
        migrate p0 0x1000 1
        fault   p0 0x1000 read
        migrate p0 0x1000 1
        fault   p0 0x1000 write 0x1
        fork    p0 p1
        migrate p1 0x1000 1
        migrate p1 0x1000 1
        fault   p0 0x1000 write 0x2
        migrate p0 0x5000 1
        pageout p1 0x1000
        migrate p1 0x1000 0
        fault   p1 0x1000 read
        migrate p1 0x1000 0
        fault   p1 0x1000 write 0x3
    """,
    "exit-keeps-shared-pages": """
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x42
        fork  p0 p1
        fork  p1 p2
        exit  p0
        exit  p1
        fault p2 0x1000 read
        fault p2 0x1000 write 0x43
    """,
}

PARALLEL = {
    "fork-racing-migrate": """
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x7
        fork  p0 p1
        parallel {
          thread { migrate p0 0x1000 1 }
          thread { fork p1 p2 }
        }
        fault p2 0x1000 write 0x9
        fault p1 0x1000 read
    """,
    "unlocked-migrate-racing-mprotect": """
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x7
        parallel {
          thread { migrate p0 0x1000 1 unlocked }
          thread { mprotect p0 0x1000 1 r }
        }
        fault p0 0x1000 read
    """,
    "faults-and-munmap": """
        map p0 0x1000 2 rw
        parallel {
          thread {
            fault p0 0x1000 write 0x1
            fault p0 0x2000 read
          }
          thread { munmap p0 0x2000 1 }
          thread { fault p0 0x1000 read }
        }
    """,
    "pageout-racing-cow": """
        swapon 4
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x1
        fork  p0 p1
        parallel {
          thread { pageout p0 0x1000 }
          thread { fault p1 0x1000 write 0x2 }
        }
        fault p0 0x1000 read
    """,
    "swapon-racing-exit": """
        map   p0 0x1000 1 rw
        fork  p0 p1
        parallel {
          thread {
            swapon 1
            fault p1 0x1000 write 0x3
          }
          thread { exit p0 }
        }
    """,
}

# A block to run under every schedule `thread 0 for k steps, then thread 1 (then 0 again)`.
RACES = {
    "wp-copy-racing-migration": """
        map      p0 0x1000 1 rw
        fault    p0 0x1000 write 0x1
        mprotect p0 0x1000 1 r
        mprotect p0 0x1000 1 rw
        parallel {
          thread { migrate p0 0x1000 1 }
          thread { fault p0 0x1000 write 0x2 }
        }
    """,
    "migrate-busy": """
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x1
        fork  p0 p1
        parallel {
          thread { migrate p0 0x1000 1 }
          thread { fault p1 0x1000 write 0x2 }
        }
    """,
    "wp-copy-racing-pageout": """
        swapon   4 prio=3
        swapon   4 prio=3
        map      p0 0x1000 1 rw
        fault    p0 0x1000 write 0x1
        mprotect p0 0x1000 1 r
        mprotect p0 0x1000 1 rw
        parallel {
          thread { pageout p0 0x1000 }
          thread { fault p0 0x1000 write 0x2 }
        }
        pageout  p0 0x1000
    """,
}


def with_schedule(program: Program, schedule: tuple[int, ...]) -> Program:
    steps = tuple(
        dataclasses.replace(s, schedule=schedule) if isinstance(s, Parallel) else s
        for s in program.steps
    )
    return dataclasses.replace(program, steps=steps)


def schedules() -> list[tuple[int, ...]]:
    return [tuple([0] * k + [1] * n + [0] * m) for k in range(10) for n in (1, 3, 5, 9)
            for m in (0, 4)]


@pytest.mark.parametrize("name", sorted(SEQUENTIAL))
def test_postfix_agrees_on_sequential_programs(name: str) -> None:
    judgement = check(parse(SEQUENTIAL[name]), "postfix")
    assert judgement.agrees, judgement.signatures
    assert judgement.allowances == frozenset()


@pytest.mark.parametrize("name", sorted(PARALLEL))
def test_postfix_agrees_on_parallel_programs_under_many_schedules(name: str) -> None:
    program = parse(PARALLEL[name])
    for schedule in [(), (1,), (2,), (1, 0), *schedules()[::3]]:
        judgement = check(with_schedule(program, schedule), "postfix")
        assert judgement.agrees, (schedule, judgement.signatures)


@pytest.mark.parametrize("allowance", sorted(RACES))
def test_postfix_needs_the_allowance_under_some_schedule(allowance: str) -> None:
    program = parse(RACES[allowance])
    used: set[str] = set()
    for schedule in [*schedules(), (1, 0, 0, 0, 0, 1, 1, 1, 1)]:
        judgement = check(with_schedule(program, schedule), "postfix")
        assert judgement.agrees, (schedule, judgement.signatures)
        used |= judgement.allowances
    assert allowance in used


# Races found by exhaustive exploration of the post-fix model, with the schedule that shows each.
FOUND_RACES = [
    (
        "migrate-stale-lookup",
        """
        swapon  4
        map     p0 0x1000 1 rw
        fault   p0 0x1000 write 0x1
        fork    p0 p1
        pageout p0 0x1000
        fault   p0 0x1000 read
        parallel {
          thread { migrate p0 0x1000 1 }
          thread { fault p1 0x1000 write 0x2 }
          thread { fault p0 0x1000 write 0x3 }
        }
        """,
        (0,) * 6 + (1,) * 2 + (0,) * 44 + (2,) * 7 + (1,) * 3,
    ),
    (
        "migrate-busy",
        """
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x1
        fork  p0 p1
        parallel {
          thread { migrate p0 0x1000 1 }
          thread { migrate p1 0x1000 1 }
        }
        """,
        (0, 0) + (1,) * 9,
    ),
    (
        "pageout-busy",
        """
        swapon 4
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x1
        fork  p0 p1
        parallel {
          thread { pageout p0 0x1000 }
          thread { fault p0 0x1000 write 0x2 }
        }
        """,
        (0, 0, 1, 1, 1, 1, 1),
    ),
]


FOUND_RACES.append((
    "access-after-fault",
    """
    map      p0 0x7000 2 rw
    fault    p0 0x7000 write 0x1
    parallel {
      thread {
        fault    p0 0x7000 read
        fork     p0 p1
      }
      thread {
        munmap   p0 0x7000 1
        fault    p0 0x8000 write 0x3
      }
    }
    """,
    (1,) * 8,
))

# Equally small explanations of one run: the differ reports one of them.
EQUIVALENT = {"pageout-busy": {"pageout-busy", "access-after-fault"}}


@pytest.mark.parametrize(("allowance", "text", "schedule"), FOUND_RACES,
                         ids=[race[0] for race in FOUND_RACES])
def test_postfix_races_found_by_exploration(allowance: str, text: str,
                                            schedule: tuple[int, ...]) -> None:
    judgement = check(with_schedule(parse(text), schedule), "postfix")
    assert judgement.agrees, judgement.signatures
    assert len(judgement.allowances) == 1
    assert judgement.allowances <= EQUIVALENT.get(allowance, {allowance})


# --- the fixes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "variant", "primary", "others"),
    [
        ("fix1_locked", "prefix-anon-vma-head", "kernel-bug:migration_entry_to_page@5",
         {"orphan-migration-entry@3", "result:fault@5"}),
        ("fix1_unlocked", "prefix-anon-vma-head", "kernel-bug:migration_entry_to_page@4",
         {"orphan-migration-entry@2", "result:fault@4"}),
        ("fix3_locked", "prefix-cow-fork-write", "shared-writable@3", {"data@5"}),
        ("fix3_unlocked", "prefix-cow-fork-write", "shared-writable@2", {"data@4"}),
    ],
)
@pytest.mark.parametrize("impl", ["single", "prefix"])
def test_race_fixes(program: str, variant: str, primary: str, others: set[str], impl: str) -> None:
    prog = getattr(scenarios, program)()
    assert check(prog, "postfix").agrees
    judgement = check_located(prog, variant if impl == "single" else "prefix")
    found = [str(s) for s in judgement.signatures]
    assert found[0] == primary
    assert others <= set(found)


def test_fix2_only_with_highpte() -> None:
    steps = (*scenarios.written_page(), Migrate("p0", 0x1000, 1), Fault("p0", 0x1000, False))
    with_highpte = Program(steps, Config(highpte=True))
    judgement = check(with_highpte, "prefix-pte-unmap-arg")
    assert [str(s) for s in judgement.signatures] == ["kmap-leak:remove_migration_pte@2"]
    assert check(with_highpte, "postfix").agrees
    assert check(Program(steps), "prefix-pte-unmap-arg").agrees


@pytest.mark.parametrize(("swap_bits", "allowed"), [(5, 30), (2, 2)])
def test_fix4(swap_bits: int, allowed: int) -> None:
    program = Program(tuple(Swapon(1) for _ in range(allowed + 1)), Config(swap_bits=swap_bits))
    assert check(program, "postfix").agrees
    judgement = check(program, "prefix-swapon-range")
    assert [str(s) for s in judgement.signatures[:2]] == [
        f"kernel-bug:sys_swapon@{allowed}", f"result:swapon@{allowed}"]


# --- generated programs ----------------------------------------------------------------


def _postfix_agrees(program: Program) -> None:
    judgement = check(program, "postfix")
    assert judgement.agrees, [str(s) for s in judgement.signatures]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(max_ops=10))
def test_postfix_agrees_on_generated_programs(program: Program) -> None:
    _postfix_agrees(program)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(max_ops=14))
def test_postfix_agrees_on_many_generated_programs(program: Program) -> None:
    _postfix_agrees(program)
