"""The mutant catalogue: kept out of the registry, each mutant a small documented override of
the post-fix model, each observable one shown by its witness program while postfix agrees."""

from __future__ import annotations

import inspect

import pytest
from ptediff.core.errors import ImplLoadError
from ptediff.dsl.parse import parse_file
from ptediff.impls import REGISTRY, Kernel, load, mutants
from ptediff.judge.check import check

AREAS = {"fork", "mprotect", "fault", "rmap", "swap", "migration", "mremap"}


def test_the_catalogue_has_at_least_25_observable_mutants_in_every_area() -> None:
    assert len(mutants.CATALOGUE) >= 25
    assert {cls.AREA for cls in mutants.CATALOGUE.values()} == AREAS


def test_mutants_stay_out_of_the_registry_but_load_by_name() -> None:
    assert not set(mutants.MUTANTS) & set(REGISTRY)
    for name, cls in mutants.MUTANTS.items():
        assert load(name) is cls
    with pytest.raises(ImplLoadError, match="unknown mutant 'mutant:nope'"):
        load("mutant:nope")


@pytest.mark.parametrize("name", sorted(mutants.MUTANTS))
def test_each_mutant_is_a_small_documented_override(name: str) -> None:
    cls = mutants.MUTANTS[name]
    assert cls.__bases__ == (mutants.Mutant,) and issubclass(cls, Kernel)
    assert cls.__doc__ and cls.REVERTS and cls.FUNCTION and cls.FILE.startswith(("mm/", "incl"))
    assert cls.AREA in AREAS
    overrides = [
        member for attr, member in vars(cls).items()
        if inspect.isfunction(member) and hasattr(Kernel, attr)
    ]
    assert 1 <= len(overrides) <= 2, f"{name} overrides {len(overrides)} kernel functions"
    for member in overrides:
        assert member.__doc__ and "()" in member.__doc__, f"{name}.{member.__name__}"
        # The override keeps the post-fix function's parameters: callers pass them all.
        base = getattr(Kernel, member.__name__)
        assert list(inspect.signature(member).parameters) == list(
            inspect.signature(base).parameters
        ), f"{name}.{member.__name__} drifted from Kernel.{member.__name__}"


@pytest.mark.parametrize("name", sorted(mutants.CATALOGUE))
def test_the_witness_shows_the_mutant_and_postfix_agrees(name: str) -> None:
    program = parse_file(mutants.witness(name))
    expected = {e.impl: e for e in program.expects}
    assert expected["postfix"].verdict == "agrees"
    wanted = expected[name]
    assert wanted.verdict == "diverges" and len(wanted.signatures) == 1
    assert check(program, load("postfix"), check_invariants=True).divergence is None
    judgement = check(program, mutants.CATALOGUE[name], check_invariants=False)
    assert judgement.divergence is not None
    assert judgement.divergence.primary.cls == wanted.signatures[0]


@pytest.mark.parametrize("name", sorted(mutants.EQUIVALENT))
def test_an_equivalent_mutant_says_why_and_has_no_witness(name: str) -> None:
    assert len(mutants.EQUIVALENT[name].EQUIVALENT) > 40
    assert not mutants.witness(name).exists()
