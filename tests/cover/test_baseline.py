"""A search's baseline model: divergences the baseline shows too are not the searched model's.

`ptediff evaluate` searches each injected bug with postfix as baseline; postfix's documented
latent bug (tests/regressions/latent-unlocked-munmap.pte) must not pass for a mutant's bug.
"""

from __future__ import annotations

from pathlib import Path

from ptediff.dsl.parse import parse_file
from ptediff.impls import mutants
from ptediff.search.hunt import ANY_CLASS, hunt
from ptediff.search.property import DifferentialProperty, resolve_impls

LATENT = Path(__file__).parents[1] / "regressions" / "latent-unlocked-munmap.pte"
MUTANT = "mutant:unmap_drops_dirty"  # a swap bug: the latent race is not its bug


def test_a_divergence_the_baseline_shows_too_is_inherited() -> None:
    program = parse_file(LATENT)
    plain = DifferentialProperty(resolve_impls([MUTANT]))
    assert [run.cls for run in plain.runs(program)] == ["use-after-free:anon_vma"]
    (postfix,) = resolve_impls(["postfix"])
    based = DifferentialProperty(resolve_impls([MUTANT]), baseline=postfix)
    runs = based.runs(program)
    assert [run.cls for run in runs] == [None] and runs[0].inherited
    based(program)  # agrees: no DivergenceFound


def test_a_divergence_the_baseline_does_not_show_still_counts() -> None:
    witness = parse_file(mutants.witness("mutant:mprotect_keeps_write"))
    (postfix,) = resolve_impls(["postfix"])
    based = DifferentialProperty(resolve_impls(["mutant:mprotect_keeps_write"]), baseline=postfix)
    assert [run.cls for run in based.runs(witness)] == ["writable-in-readonly-vma"]


def test_a_hunt_with_a_baseline_skips_the_latent_bug() -> None:
    # Seed 1 reaches the latent race on this mutant after 67 examples without a baseline.
    until = {(MUTANT, ANY_CLASS)}
    plain = hunt([MUTANT], profile="dev", seed=1, max_examples=100, until=until)
    assert [f.signature for f in plain.findings] == ["use-after-free:anon_vma"]
    based = hunt([MUTANT], profile="dev", seed=1, max_examples=100, until=until,
                 baseline="postfix")
    assert "use-after-free:anon_vma" not in {f.signature for f in based.findings}
