"""Classifying a divergence across the post-fix and a pre-fix model: fixed / fix-incomplete /
latent / spec-gap / agree."""

from __future__ import annotations

from ptediff.core.canon import outcome_key
from ptediff.core.outcome import Outcome
from ptediff.judge.differ import Judgement


def same_outcome(a: Outcome, b: Outcome) -> bool:
    """Whether two runs produced the same observable outcome (frames up to renaming)."""
    return outcome_key(a) == outcome_key(b)


# Families a model reports about itself (a BUG, a memory error, a broken invariant, a stuck
# task, a state no kernel may reach): when both models show one, the code is at fault, not the
# spec.
SELF_EVIDENT_FAMILIES = frozenset({
    "kernel-bug", "use-after-free", "bad-page-state", "kmap-leak", "orphan-migration-entry",
    "shared-writable", "writable-in-readonly-vma", "deadlock", "invariant",
})


def classify(
    spec_vs_post: Judgement,
    spec_vs_pre: Judgement,
    post_vs_pre_equal: bool | None = None,
    *,
    cls: str | None = None,
) -> str:
    """`fixed`: spec = post-fix ≠ pre-fix. `fix-incomplete`: the post-fix model diverges from
    the spec and the pre-fix one behaves differently (the fix changed something, not enough).
    `latent`: both models behave the same and the divergence is one the model shows about
    itself (a BUG, a use-after-free, a broken invariant...): a bug present before and after
    the patch. `spec-gap`: both behave the same and the spec disagrees on plain results or
    state only (the spec is likely wrong or too strict). `agree`: all three agree.

    `post_vs_pre_equal` defaults to comparing the two judged outcomes.

    `cls`: classify one divergence class (a hunt finding's) rather than the whole outcome: the
    fix is `fixed` for it when the post-fix model does not show it, `latent` when both models
    show it and it is a class the models show about themselves, so that an unrelated latent
    divergence of the post-fix model (the rss drift of I8, say) does not make every fix of the
    same program look incomplete.
    """
    if cls is not None:
        post_has = cls in spec_vs_post.signatures_classes
        pre_has = cls in spec_vs_pre.signatures_classes
        if not post_has and pre_has:
            return "fixed"
        if post_has and pre_has:
            if cls.split(":", 1)[0] in SELF_EVIDENT_FAMILIES:
                return "latent"
            equal = (same_outcome(spec_vs_post.outcome, spec_vs_pre.outcome)
                     if post_vs_pre_equal is None else post_vs_pre_equal)
            return "spec-gap" if equal else "fix-incomplete"
        if post_has:
            return "fix-incomplete"
    if post_vs_pre_equal is None:
        post_vs_pre_equal = same_outcome(spec_vs_post.outcome, spec_vs_pre.outcome)
    if spec_vs_post.agrees:
        return "agree" if spec_vs_pre.agrees else "fixed"
    if not post_vs_pre_equal:
        return "fix-incomplete"
    assert spec_vs_post.divergence is not None
    if any(s.family in SELF_EVIDENT_FAMILIES for s in spec_vs_post.divergence.signatures):
        return "latent"
    return "spec-gap"
