"""Exact-match lookup: the allowed outcome a clean model outcome equals, without the differ.

Nearly every judged run agrees with the spec, and the differ's full comparison (every pte of
every allowed outcome, sharing groups on both sides) costs more than the model run itself. An
agreeing run only needs to find the first allowed outcome at distance zero, so each side is
reduced once to a *match key* — results with their types, and every non-none pte's compared
fields with its frame replaced by a canonical label — and the allowed outcomes are indexed by
key, once per list (the spec's list is shared by every model judged against it).

The key is exactly the differ's distance-zero relation at level `all`: two outcomes have equal
keys iff `compare_results` and `compare_states` find no row. That needs every pte of a kind with
a frame to carry one (the differ compares the sharing of such a pte only when the spec side has
a frame); an outcome where one does not gets no key, and the caller falls back to the differ.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from ptediff.core.outcome import Outcome

# The fields `compare_states` compares per kind (its `_FIELDS_BY_KIND`), sharing aside: the
# canonical label stands for it. `none` ptes are left out: a missing key counts as none.
_FIELDS: dict[str, tuple[str, ...]] = {
    "present": ("writable", "node", "data"),
    "swap": ("data", "swap"),
    "migration": ("writable",),
}
# Kinds whose frame is a page frame or a swap slot (`ptediff.core.canon.frame_space`).
_SPACE = {"present": "P", "migration": "P", "swap": "S"}


def match_key(outcome: Outcome) -> Hashable | None:
    """The outcome's match key, or None when a pte that should have a frame has none."""
    # (the differ counts a None result as a missing one, and tells 1 from True)
    results = tuple(sorted((op, type(r), r) for op, r in outcome.results.items()
                           if r is not None))
    labels: dict[tuple[str, int], int] = {}
    rows: list[Hashable] = []
    state = outcome.state
    for key in sorted(state):
        pte = state[key]
        kind = pte.kind
        if kind == "none":
            continue
        fields = _FIELDS.get(kind)
        if fields is None:  # a kind the differ compares by kind alone
            rows.append((key, kind))
            continue
        if pte.frame is None:
            return None
        frame = (_SPACE[kind], pte.frame)
        label = labels.get(frame)
        if label is None:
            label = labels[frame] = len(labels)
        rows.append((key, kind, label, *(getattr(pte, name) for name in fields)))
    return (results, tuple(rows))


class MatchIndex:
    """For a list of allowed outcomes: match key -> index of the one the differ would pick
    among those at distance zero (fewest allowances, then first in the list)."""

    def __init__(self, allowed: Sequence[Outcome]) -> None:
        self.allowed = allowed
        self.usable = True
        self.by_key: dict[Hashable, int] = {}
        for index, candidate in enumerate(allowed):
            key = match_key(candidate)
            if key is None:  # the differ's sharing rule differs for it: no shortcut at all
                self.usable = False
                return
            best = self.by_key.get(key)
            if best is None or len(candidate.allowances) < len(allowed[best].allowances):
                self.by_key[key] = index

    def find(self, outcome: Outcome) -> int | None:
        """The index of the allowed outcome `outcome` equals, None if none (or unknown)."""
        if not self.usable:
            return None
        key = match_key(outcome)
        return None if key is None else self.by_key.get(key)


_last: MatchIndex | None = None


def index_of(allowed: Sequence[Outcome]) -> MatchIndex:
    """The index of `allowed`, reused while the same list object is judged against."""
    global _last
    if _last is None or _last.allowed is not allowed or len(_last.allowed) != len(allowed):
        _last = MatchIndex(allowed)
    return _last
