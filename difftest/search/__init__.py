"""Search: generate programs and schedules with hypothesis, hunt, shrink, explore, save findings.

Determinism: hypothesis (since about 6.130) mixes into its draws constants it finds in the source
of every *local* module loaded so far (`_get_local_constants`). Which ptediff modules (and which
user models) a process happens to have imported then changes what a seeded or derandomized search
draws: the same hunt gives different programs after a lazy import, after an earlier test, or
between an editable and a wheel install. ptediff promises that the same program, schedule, seed
and settings give the same result, so the search switches that pool off (hypothesis's built-in
constants stay). The hook is internal to hypothesis: where it does not exist nothing is changed.
"""

from __future__ import annotations


def _without_local_constants() -> None:
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a hypothesis without the module
        return
    constants = getattr(providers, "Constants", None)
    if constants is None or not hasattr(providers, "_get_local_constants"):
        return
    empty = constants()
    providers._get_local_constants = lambda: empty


_without_local_constants()
