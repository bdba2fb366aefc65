"""The task-bucket chart of `ptediff evaluate`: per strategy, how many tasks its median trial
solves within 0.1, 1, 10 and 60 s, as a PNG (matplotlib, the `plot` extra)."""

from __future__ import annotations

from pathlib import Path

from ptediff.core.errors import PtediffError
from ptediff.search.evaluate import BUCKETS, Evaluation

COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59")  # fast .. slow; unsolved is grey


class ChartUnavailable(PtediffError):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    """Fail before a long evaluation, not after it, when the chart cannot be drawn."""
    try:
        import matplotlib
    except ImportError:
        raise ChartUnavailable(
            "the task-bucket chart needs matplotlib: pip install 'ptediff[plot]' "
            "(or leave out --chart)"
        ) from None
    matplotlib.use("Agg")  # files only: never a window


def write_chart(ev: Evaluation, path: str | Path) -> Path:
    """Stacked horizontal bars, one per strategy: tasks solved within each bucket (the newly
    solved ones per bucket), then the unsolved rest."""
    require_matplotlib()
    import matplotlib.pyplot as plt
    counts = ev.buckets()
    total = len(ev.tasks)
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.5 * len(ev.strategies)))
    labels = [f"<= {b:g} s" for b in BUCKETS]
    for row, strategy in enumerate(ev.strategies):
        left = 0
        previous = 0
        for index, cumulative in enumerate(counts[strategy]):
            width = cumulative - previous
            ax.barh(row, width, left=left, color=COLOURS[index],
                    label=labels[index] if row == 0 else None)
            left += width
            previous = cumulative
        ax.barh(row, total - left, left=left, color="#d9d9d9",
                label="unsolved" if row == 0 else None)
    ax.set_yticks(range(len(ev.strategies)), list(ev.strategies))
    ax.invert_yaxis()
    ax.set_xlim(0, total)
    ax.set_xlabel(f"tasks ({total}: catalogue mutants, folded-fix variants, prefix)")
    ax.set_title(f"ptediff evaluate: tasks solved within (median of {len(ev.seeds)} seed(s), "
                 f"{ev.budget:g} s budget)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    out = Path(path)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
