"""Hypothesis settings profiles for ptediff searches, registered on import.

* `ci`: derandomized, a bounded number of examples, no deadline, no example database: the same
  run every time, whatever the machine.
* `dev` (the default): a few hundred examples, the example database as a cache of earlier
  failures (`.hypothesis/`, never the durable record: that is the saved `.pte` files).
* `deep`: long campaigns, with hypothesis's target phase climbing toward the races
  (`ptediff.search.race.race_targets`).

No profile has a deadline: a run's cost depends on the program (a parallel block with many
steps is slower), and a timing failure would be noise, never a divergence. Health checks stay
on. Profiles are only registered, never loaded: the hunt engine and the tests ask for one by
name, so importing this module changes no other test's settings.
"""

from __future__ import annotations

from hypothesis import Phase, settings

# The target phase (hill climbing on `hypothesis.target` observations) pays off only in long
# campaigns; in short runs it spends most of the budget mutating a few examples. The explain
# phase re-runs a shrunk failure many times to annotate hypothesis's own report, which a hunt
# does not print (it simplifies and reports the failure itself).
_NO_TARGET = tuple(phase for phase in Phase if phase not in (Phase.target, Phase.explain))
_NO_EXPLAIN = tuple(phase for phase in Phase if phase is not Phase.explain)

PROFILES: dict[str, settings] = {
    "ci": settings(
        max_examples=200, derandomize=True, deadline=None, database=None, phases=_NO_TARGET
    ),
    "dev": settings(max_examples=500, deadline=None, phases=_NO_TARGET),
    "deep": settings(max_examples=20_000, deadline=None, phases=_NO_EXPLAIN),
}
DEFAULT_PROFILE = "dev"

for _name, _profile in PROFILES.items():
    settings.register_profile(_name, _profile)


def profile(name: str) -> settings:
    """The registered profile `name` (KeyError naming the known ones otherwise)."""
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    return settings.get_profile(name)
