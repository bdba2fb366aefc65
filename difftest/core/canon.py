"""Frames up to renaming.

The spec names pages by logical ids and a kernel model by pfns; swap slots by whatever each side
likes. Only *sharing* is meaningful: which ptes map the same page, which swap ptes hold the same
slot. Two name spaces are kept apart — page frames (present and migration ptes) and swap slots
(swap ptes) — because a pfn and a slot id may collide as numbers without meaning anything.

Canonical labels number the frames by first appearance in sorted key order (`P0, P1...` for
pages, `S0, S1...` for slots), so equal sharing gives equal labels.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

from ptediff.core.outcome import Key, Outcome, PteState

PAGE_SPACE = "P"
SLOT_SPACE = "S"


def frame_space(pte: PteState) -> str | None:
    """The name space of a pte's frame, or None when it has none."""
    if pte.frame is None:
        return None
    if pte.kind in ("present", "migration"):
        return PAGE_SPACE
    if pte.kind == "swap":
        return SLOT_SPACE
    return None


def sorted_keys(keys: Iterable[Key]) -> list[Key]:
    return sorted(keys, key=lambda key: (key[0], key[1]))


def canonical_labels(state: Mapping[Key, PteState]) -> dict[Key, str]:
    """A label per key with a frame: `P<n>` / `S<n>` by first appearance in sorted key order."""
    numbering: dict[tuple[str, int], str] = {}
    counts = {PAGE_SPACE: 0, SLOT_SPACE: 0}
    labels: dict[Key, str] = {}
    for key in sorted_keys(state):
        pte = state[key]
        space = frame_space(pte)
        if space is None:
            continue
        frame = (space, pte.frame)
        if frame not in numbering:
            numbering[frame] = f"{space}{counts[space]}"  # type: ignore[index]
            counts[space] += 1
        labels[key] = numbering[frame]  # type: ignore[index]
    return labels


def canonical_state(state: Mapping[Key, PteState]) -> tuple[tuple[Key, PteState], ...]:
    """The state as a sorted tuple with frames replaced by canonical numbers (hashable)."""
    labels = canonical_labels(state)
    rows = []
    for key in sorted_keys(state):
        pte = state[key]
        label = labels.get(key)
        frame = int(label[1:]) if label is not None else None
        rows.append((key, _with_frame(pte, frame)))
    return tuple(rows)


def _with_frame(pte: PteState, frame: int | None) -> PteState:
    return PteState(pte.kind, pte.writable, frame, pte.node, pte.data, pte.swap)


def sharing_groups(
    state: Mapping[Key, PteState], keys: Iterable[Key] | None = None
) -> dict[Key, frozenset[Key]]:
    """For each key (of `keys`, default all), the other keys whose pte has the same frame.

    Restricting `keys` lets the differ compare sharing only among ptes both sides agree are of
    the same kind, so one wrong pte kind is not also reported as a sharing change elsewhere.
    """
    chosen = list(state) if keys is None else [k for k in keys if k in state]
    by_frame: dict[tuple[str, Hashable], set[Key]] = {}
    for key in chosen:
        space = frame_space(state[key])
        if space is not None:
            by_frame.setdefault((space, state[key].frame), set()).add(key)
    groups: dict[Key, frozenset[Key]] = {}
    for key in chosen:
        space = frame_space(state[key])
        if space is None:
            groups[key] = frozenset()
        else:
            groups[key] = frozenset(by_frame[(space, state[key].frame)] - {key})
    return groups


def outcome_key(outcome: Outcome, *, with_checkpoints: bool = False) -> Hashable:
    """Everything observable about an outcome, frames canonical: equal keys = same outcome.

    The trace and the allowances used are not part of it (they say how, not what).
    """
    bugs = tuple(sorted((b.kind, b.function, b.reason, _op(b.op)) for b in outcome.bugs))
    violations = tuple(sorted((v.name, _op(v.op)) for v in outcome.violations))
    checkpoints: Hashable = None
    if with_checkpoints and outcome.checkpoints is not None:
        checkpoints = tuple(canonical_state(c) for c in outcome.checkpoints)
    return (
        tuple(sorted(outcome.results.items())),
        canonical_state(outcome.state),
        tuple(sorted(outcome.vma_prot.items())),
        bugs,
        violations,
        outcome.deadlock is not None,
        checkpoints,
    )


def _op(op: int | None) -> int:
    return -1 if op is None else op
