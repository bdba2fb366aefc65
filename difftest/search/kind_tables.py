"""What the program generator's drawn integers mean: the operation kind tables (top level and
inside a thread), the focus and race-block tables, and the size limits of a program.

Kept apart from the drawing code (`ptediff.search.strategies`, which re-exports every name)
because the random peer (`ptediff.search.peer`) and the benchmarks read the same limits, and
because a change here is a change to what every seeded search draws: the tables' order is
their shrink order.
"""

from __future__ import annotations

from ptediff.core.program import OP_KINDS
from ptediff.search.generation import MLOCK_FAMILY, PIN_FAMILY, VARIANTS

# Kinds in shrink order: a drawn kind shrinks toward the front of this list.
KIND_ORDER: tuple[str, ...] = (
    "map",
    "fault",
    "migrate",
    "fork",
    "swapon",
    "pageout",
    "mprotect",
    "munmap",
    "exit",
    "madvise",
    "pin",  # also unpin, pinread and pinwrite of the pins made so far (generation.PIN_FAMILY)
    "mlock",  # also munlock (generation.MLOCK_FAMILY)
    "mremap",
    "swapoff",  # once some area is on (a variant of swapon and pageout)
)
# State checks (`expect PROC ADDR STATE`) are written by hand, never generated: the differ
# already compares every pte at the end, and a check's result only restates it.
NOT_GENERATED = frozenset({"expect"})
assert set(KIND_ORDER) | set(PIN_FAMILY) | set(MLOCK_FAMILY) == set(OP_KINDS) - NOT_GENERATED
# What a drawn kind value means at top level: migrations, forks and swapons (which only matter
# in numbers) get two values each. Values past the table open a parallel block.
KIND_TABLE: tuple[str, ...] = (*KIND_ORDER[:9], "migrate", "fork", "swapon")
KINDS_PARALLEL = 4  # about one top-level step in four is a parallel block
# Inside a thread the same values mean kinds that race with each other: above all migrations
# against forks and faults (map and swapon rarely race with anything).
THREAD_KIND_TABLE: tuple[str, ...] = (
    "migrate",
    "fork",
    "fault",
    "migrate",
    "fork",
    "migrate",
    "fork",
    "fault",
    "mprotect",
    "pageout",
    "munmap",
    "exit",
    "migrate",
    "fork",
    "map",
    "swapon",
)
# The newer kinds have no values of their own in either table (so that adding them left the
# searches for the seeded bugs as fast as before): they are drawn as a variant of the kind
# closest to them (`generation.VARIANTS`: an munmap may be an madvise, a fault a pin, an
# mprotect an mlock, a pageout an mremap, a swapon or pageout a swapoff), and
# directly when the swarm switches off every kind of a table value.
assert len(THREAD_KIND_TABLE) == len(KIND_TABLE) + KINDS_PARALLEL
assert set(KIND_TABLE) == set(THREAD_KIND_TABLE) == set(KIND_ORDER) - set(VARIANTS.values())

MAX_PROC_NUMBER = 5  # process choices are drawn as a number in 0..5 (p0..p5)
MAX_THREADS = 3
SCHEDULE_STEPS = 32  # steps of a block a drawn schedule covers; the rest falls back
MAX_THREAD_OPS = 2
MAX_BLOCK_OPS = 4  # the spec runs every interleaving of a block: keep blocks small
# The faithful 5 first, so configs shrink toward it; 2 twice: with few swap types, running out
# of them takes only a few swapons.
SWAP_BITS_CHOICES = (5, 2, 3, 2)
BASE_ORDER = tuple(kind for kind in KIND_ORDER if kind not in VARIANTS.values())

# Focus: 3 in 8 examples open with a race block right after the setup (`_draw_race`); 1 in
# 8 runs close to a limit (a few swapons first: with the small swap type fields `configs`
# draws half the time, the swap types run out); 2 in 8 are a swap cycle (a swapon, then steps
# read from the swap cycle tables below); the other 2 in 8 are drawn as above. The held-out bugs and
# the folded fixes alike sit in those corners: migration entries racing fork, COW, mprotect
# and teardown; allocators running out; and a page's swap entry outliving a swap-out, a
# swap-in, a write and another swap-out or a fork (the swap count and dirty bit each of them
# must carry). (Value 0 stays the general draw, so that choices shrink toward it.)
FOCUS_TABLE = ("general", "race", "limits", "race", "general", "race", "swap", "swap")
RACE_FIRST = ("migrate", "migrate", "pageout", "mprotect", "migrate", "munmap", "fork")
RACE_SECOND = ("fork", "fault", "migrate", "fork", "mprotect", "fault", "munmap", "exit",
               "pageout", "migrate")
# A race thread's optional second operation: half the values an access (a fault) to what its
# racing operation left behind. A race's damage is often visible only to a touch inside the
# other thread's window (a migration that fails and leaves its entries, a pte rewritten under
# a migration entry), and the window closes before a step after the block runs.
RACE_FOLLOW: tuple[str, ...] = (
    "fault", "migrate", "fault", "fork", "fault", "mprotect", "fault", "munmap",
    "fault", "pageout", "fault", "exit", "fault", "migrate", "fault", "fork",
)

# The swap cycle focus reads a top-level step's kind from one of two tables chosen by the state
# the program has reached (`generation.World.swapped`): while no written page is swapped out,
# half the values swap one out (a pageout), the rest change who holds it first (a fork, a
# write, a migration) or drop it; while one is, half bring it back in (a fault, read or
# write) and the rest share its swap entry (a fork), drop it (munmap, exit) or swap out
# another. The cycle's addresses always snap to a written or mapped page of the process
# (`steps`). The tables cover every kind value, so the cycle has no parallel blocks (the race
# focus draws those). Value 0 is the state's most likely next step: choices shrink to it.
SWAP_RESIDENT_TABLE: tuple[str, ...] = (
    "pageout", "fault", "pageout", "fork", "pageout", "migrate", "pageout", "fault",
    "pageout", "fork", "pageout", "munmap", "pageout", "migrate", "pageout", "exit",
)
SWAP_OUT_TABLE: tuple[str, ...] = (
    "fault", "fork", "fault", "pageout", "fault", "munmap", "fault", "fork",
    "fault", "migrate", "fault", "exit", "fault", "pageout", "fault", "swapon",
)
SWAP_CYCLE_SLOTS = (1, 4, 2)  # the cycle's swapon: one slot runs out soonest
assert len(SWAP_RESIDENT_TABLE) == len(SWAP_OUT_TABLE) == len(KIND_TABLE) + KINDS_PARALLEL
assert len(RACE_FOLLOW) == len(THREAD_KIND_TABLE)
