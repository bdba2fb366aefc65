"""Findings grouped by root cause: signature classes that are the same bug become one entry.

A hunt finds (implementation, primary class) pairs; one bug often shows as several of them (an
orphaned migration entry is `orphan-migration-entry` in the program that only leaves it, and
`kernel-bug:migration_entry_to_page` in the one that then touches it; a COW break is
`shared-writable`, and `pte-writable` where the other side's pte is not yet restored). Two
findings of one implementation are taken for the same bug when

* **one's minimal program also shows the other's class**: the class that ranks lower (in
  `ptediff.judge.signature.FAMILIES` order, most causal first) is a symptom of the bug whose
  minimal program shows both. A finding is attached to one such bug only, so a low-ranked
  class shown by two unrelated bugs' programs (`pte-writable` is a consequence of many bugs)
  does not chain them together: it goes to the bug whose primary first shows at the same
  operation in the same kernel function, else in the same kernel function, else to the first
  one found; or
* **they first show at the same operation in the same kernel function**: the same operation
  text, and the same function (the function a `kernel-bug:`, `bad-page-state:` or `kmap-leak:`
  class names, else the kernel entry point of the operation); or
* **they come from the same code change**: both minimal programs agree on `postfix` and diverge
  on the implementation (classification `fixed`), and the change is one: the implementation
  itself differs from the post-fix code by one change (a folded-fix variant, a catalogue
  mutant, a user's one-override class: the only class in its MRO that sets its own `REVERTS`),
  or, for an implementation built from several such changes (`prefix`), the one change among
  its single-change bases whose model alone diverges on the program. This is how a kernel
  developer bisects: revert one fix at a time.

A finding classified `latent` (postfix shows it too) is never grouped with one that is not: a
fix's minimal program may also show a latent class (the rss drift of copied migration
entries rides along many programs), which is still the bug the fix did not touch.

Each bug is led by its highest-ranked finding (ties: the first found); the other findings are
its symptoms, each with the reason it was grouped. Nothing is lost: the per-class findings stay
in the hunt report and its JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ptediff.core.program import Program
from ptediff.judge.signature import family_rank
from ptediff.search.findings import Finding

# Families whose detail names the kernel function where they happen (a BUG, a bad page state).
FUNCTION_FAMILIES = frozenset({"kernel-bug", "bad-page-state", "kmap-leak"})
SHOWN = "shown by the minimal program of"
SAME_SITE = "first shows at the same operation in the same kernel function as"
SAME_CHANGE = "comes from the same code change as"


@dataclass
class Bug:
    """One root cause: its lead finding and the other findings grouped under it."""

    impl: str
    lead: Finding
    members: list[Finding] = field(default_factory=list)  # lead first, then in found order
    reasons: dict[str, str] = field(default_factory=dict)  # member class -> why grouped
    cause: str | None = None  # the one code change behind it (a REVERTS text), when known

    @property
    def classes(self) -> list[str]:
        """The primary classes of its findings, lead first."""
        return [finding.signature for finding in self.members]

    @property
    def symptoms(self) -> list[str]:
        """Every class any of its minimal programs shows, most causal first (a stable order)."""
        seen: dict[str, int] = {}
        for finding in self.members:
            for cls in _classes(finding):
                seen.setdefault(cls, len(seen))
        return sorted(seen, key=lambda cls: (family_rank(cls), seen[cls]))

    @property
    def first(self) -> Finding:
        """The finding found first (fewest examples): the bug's time to failure."""
        return min(self.members, key=lambda f: (f.examples_to_first, f.seconds_to_first))


def group_findings(findings: Sequence[Finding]) -> list[Bug]:
    """The bugs behind `findings`, in the order their first finding appears."""
    bugs: list[Bug] = []
    for impl in dict.fromkeys(f.impl for f in findings):
        bugs.extend(_group_one(impl, [f for f in findings if f.impl == impl]))
    order = {id(f): i for i, f in enumerate(findings)}
    return sorted(bugs, key=lambda bug: min(order[id(f)] for f in bug.members))


def _group_one(impl: str, found: list[Finding]) -> list[Bug]:
    parent = list(range(len(found)))
    why: dict[int, str] = {}

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    def join(child: int, lead: int, reason: str) -> None:
        a, b = root(child), root(lead)
        if _latent(found[child]) != _latent(found[lead]):
            return  # a bug postfix shares is never a symptom of one a fix removed, nor back
        if a != b:
            parent[a] = b
            why.setdefault(child, f"{reason} {found[lead].signature}")

    # Same operation, same kernel function.
    for i in range(len(found)):
        for j in range(i):
            if _site(found[i]) is not None and _site(found[i]) == _site(found[j]):
                join(i, j, SAME_SITE)
    # Shown by another's minimal program: attach to one bug only.
    for i, finding in enumerate(found):
        hosts = [
            j for j, other in enumerate(found)
            if j != i and finding.signature in _classes(other) and _outranks(other, finding, j, i)
        ]
        if not hosts:
            continue
        join(i, min(hosts, key=lambda j: (_closeness(found[j], finding), j)), SHOWN)
    # Last, the same single code change (postfix agrees on both programs).
    causes = [_cause(impl, finding) for finding in found]
    for i in range(len(found)):
        for j in range(i):
            if causes[i] is not None and causes[i] == causes[j]:
                join(i, j, SAME_CHANGE)
    groups: dict[int, list[int]] = {}
    for i in range(len(found)):
        groups.setdefault(root(i), []).append(i)
    bugs = []
    for members in groups.values():
        lead = min(members, key=lambda i: (family_rank(found[i].signature), i))
        ordered = [lead, *(i for i in members if i != lead)]
        known = {causes[i] for i in members} - {None}
        bug = Bug(impl, found[lead], [found[i] for i in ordered],
                  cause=known.pop() if len(known) == 1 else None)
        for i in ordered[1:]:
            bug.reasons[found[i].signature] = why.get(i, f"grouped with {found[lead].signature}")
        bugs.append(bug)
    return bugs


def _latent(finding: Finding) -> bool:
    return finding.classification == "latent"


def root_causes(bugs: Sequence[Bug]) -> list[int]:
    """For each bug, the number of its root cause (0, 1, ... in order of first appearance):
    bugs of different implementations are one root cause when they come from the same code
    change (`Bug.cause`), when their leads are the same latent class (postfix shows it too),
    or, with neither, when their leads are the same class shown by the same minimal program
    (code the implementations share)."""
    keys: dict[object, int] = {}
    roots = []
    for bug in bugs:
        if bug.cause is not None:
            key: object = ("cause", bug.cause)
        elif _latent(bug.lead):
            # postfix shows it too: one documented latent bug per class (Kernel.LATENT's unit),
            # whatever minimal program each model's hunt kept
            key = ("latent", bug.lead.signature)
        else:
            key = ("program", bug.lead.signature, bug.lead.program)
        roots.append(keys.setdefault(key, len(keys)))
    return roots


def _outranks(host: Finding, guest: Finding, host_index: int, guest_index: int) -> bool:
    """Whether `guest` may be a symptom of `host`: host's class ranks higher (ties: found
    earlier), so two bugs never take each other as a symptom."""
    return (family_rank(host.signature), host_index) < (family_rank(guest.signature), guest_index)


def _closeness(host: Finding, guest: Finding) -> int:
    """0: both first show at the same operation in the same kernel function; 1: in the same
    kernel function; 2: elsewhere."""
    host_site, guest_site = _site(host), _site(guest)
    if host_site is None or guest_site is None:
        return 2
    if host_site == guest_site:
        return 0
    return 1 if host_site[1] == guest_site[1] else 2


def _classes(finding: Finding) -> tuple[str, ...]:
    """The classes a finding's minimal program shows as evidence of its own bug: not those that
    only follow a kernel BUG (`Divergence.secondary`) or a use of freed memory, whose
    consequences (a walk over a reused anon_vma restoring the wrong ptes) can look like any
    other bug's symptom."""
    if finding.judgement is None or finding.judgement.divergence is None:
        return (finding.signature,)
    divergence = finding.judgement.divergence
    freed = [b.op for b in divergence.bugs if b.kind == "use-after-free" and b.op is not None]
    after = min(freed, default=None)
    return tuple(
        s.cls for s in divergence.signatures
        if s.cls == finding.signature or (
            s.cls not in divergence.secondary
            and (after is None or (s.op is not None and s.op < after))
        )
    )


def _site(finding: Finding) -> tuple[str, str] | None:
    """(operation text, kernel function) where the finding's primary class first shows."""
    from ptediff.dsl.printer import format_op
    from ptediff.impls.base import entry_function

    if finding.op is None:
        return None
    ops = finding.program.ops()
    if not 0 <= finding.op < len(ops):
        return None
    op = ops[finding.op]
    family, _, detail = finding.signature.partition(":")
    function = detail if family in FUNCTION_FAMILIES else _reporting_function(finding)
    return format_op(op, with_expect=False), function or entry_function(op)


def _reporting_function(finding: Finding) -> str | None:
    """The kernel function of the report behind a use-after-free class (its detail names the
    object, not where it was touched)."""
    if finding.judgement is None or finding.judgement.divergence is None:
        return None
    for report in finding.judgement.divergence.bugs:
        if report.signature_class == finding.signature:
            return report.function
    return None


def _own_changes(cls: type) -> list[type]:
    """The classes of `cls`'s MRO that set their own REVERTS: the code changes it is made of."""
    return [c for c in cls.__mro__ if c.__dict__.get("REVERTS")]


def _cause(impl: str, finding: Finding) -> str | None:
    """The one code change a finding comes from (its REVERTS text), or None when that is not
    known: postfix shows it too, it is not a model with REVERTS, or the program diverges on
    none or on several of the single changes it is built from."""
    from ptediff import impls
    from ptediff.core.errors import ModelCrash, PtediffError

    if finding.classification not in (None, "fixed"):
        return None
    try:
        changes = _own_changes(impls.load(impl))
        if not changes:
            return None
        if finding.classification is None and _diverges(finding.program, impls.load("postfix")):
            return None  # no postfix in the hunt to classify it: postfix shows it too
        if len(changes) == 1:
            return str(changes[0].__dict__["REVERTS"])
        singles = [c for c in changes[1:] if len(_own_changes(c)) == 1]
        shown = {c: _primary(finding.program, c) for c in singles}
    except (PtediffError, ModelCrash):  # unknown model, a budget, a crash: no attribution
        return None
    # the change that alone shows the finding's class; else the one that alone diverges
    for showing in ([c for c, cls in shown.items() if cls == finding.signature],
                    [c for c, cls in shown.items() if cls is not None]):
        if len(showing) == 1:
            return str(showing[0].__dict__["REVERTS"])
    return None


def _primary(program: Program, cls: type) -> str | None:
    from ptediff.judge.check import check

    divergence = check(program, cls, check_invariants=False).divergence
    return None if divergence is None else divergence.primary.cls


def _diverges(program: Program, cls: type) -> bool:
    return _primary(program, cls) is not None
