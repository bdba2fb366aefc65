"""Shapes the generator's focus draws often enough to matter: swap cycles (a page swapped
out, faulted back in and swapped out again, or shared by a fork while out), race threads that
touch the page after their racing operation, and ranges that stay inside their mapping."""

from __future__ import annotations

from hypothesis import given, settings
from ptediff.core.program import (
    PAGE_SIZE,
    Config,
    Fault,
    Fork,
    Map,
    Mprotect,
    Pageout,
    Parallel,
    Program,
    Prot,
    Swapon,
)
from ptediff.search.generation import ADDRESS_PAGES, Choice, View, World, make_op
from ptediff.search.strategies import programs

# Enough draws that the counts below do not hang on a few lucky ones (hypothesis's early,
# derandomized draws are far from uniform: the rates are well under the tables' own).
DRAWS = settings(max_examples=1000, database=None, deadline=None, derandomize=True)


def draw_many() -> list[Program]:
    drawn: list[Program] = []

    @DRAWS
    @given(programs())
    def collect(program: Program) -> None:
        drawn.append(program)

    collect()
    return drawn


def swap_cycle(program: Program) -> bool:
    """A swapon, then a page swapped out, touched again, and swapped out again or forked
    while out: the sequences whose swap counts and dirty bits the swap code must carry."""
    steps = [s for s in program.steps if not isinstance(s, Parallel)]
    if not any(isinstance(s, Swapon) for s in steps):
        return False
    for i, out in enumerate(steps):
        if not isinstance(out, Pageout):
            continue
        page = (out.proc, out.addr)
        later = steps[i + 1 :]
        touch = next((k for k, s in enumerate(later)
                      if isinstance(s, Fault) and (s.proc, s.addr) == page), None)
        if touch is not None and any(
            isinstance(s, Pageout) and s.addr == out.addr for s in later[touch + 1 :]
        ):
            return True
        if touch is not None and any(isinstance(s, Fork) for s in later[:touch]):
            return True
    return False


def test_swap_cycles_are_common() -> None:
    drawn = draw_many()
    cycles = sum(swap_cycle(p) for p in drawn)
    # The swap focus is 2 draws in 8, and a share of its draws hold a full cycle (24 of these
    # 1000 draws; the general draws hardly ever do).
    assert cycles >= len(drawn) // 100, cycles


def test_race_threads_often_touch_the_page_after_racing() -> None:
    drawn = draw_many()
    touching = 0
    for program in drawn:
        for block in program.blocks():
            if any(len(t.ops) == 2 and isinstance(t.ops[1], Fault) for t in block.threads):
                touching += 1
                break
    assert touching >= len(drawn) // 60, touching  # 43 of these 1000 draws


def test_a_two_page_range_snapped_to_the_last_written_page_stays_inside_the_mapping() -> None:
    world = World(Config())
    for op in (Map("p0", PAGE_SIZE, 2, Prot.RW), Fault("p0", PAGE_SIZE, True, 1),
               Fault("p0", 2 * PAGE_SIZE, True, 2)):
        world.apply(op)
    view = View(world, frozenset({"p0"}))
    # `where` 2 is page 3, snapped to the next written page, 2 (the last); `what` 1 is two pages
    # to read-only. The range would run past the mapping; it starts at page 1 instead.
    made = make_op("mprotect", Choice(kind=0, who=0, where=2, what=1), view, ("mprotect",))
    assert made == Mprotect("p0", PAGE_SIZE, 2, Prot.R)
    # One page stays where it snapped; a raw address (the top quarter of `where`) stays raw.
    one = make_op("mprotect", Choice(kind=0, who=0, where=2, what=0), view, ("mprotect",))
    assert one == Mprotect("p0", 2 * PAGE_SIZE, 1, Prot.R)
    raw = make_op("mprotect", Choice(0, 0, 3 * ADDRESS_PAGES + 1, 1), view, ("mprotect",))
    assert raw == Mprotect("p0", 2 * PAGE_SIZE, 2, Prot.R)
