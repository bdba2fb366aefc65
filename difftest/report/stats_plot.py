"""The `stats` plot (PNG, matplotlib: the optional extra `ptediff[plot]`).

Three panels: distinct divergence classes against programs run, each class marked where it
first showed; the operation mix; the programs that reached each modelled kernel function
(unreached ones included, so the gaps show).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no display, whatever the environment says

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from ptediff.search.stats import CampaignStats


def draw(stats: CampaignStats, target: Path) -> None:
    functions = stats.coverage.rows()
    height = 6 + 0.16 * len(functions)
    figure = plt.figure(figsize=(12, height), layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=[5, 0.16 * len(functions) + 1])
    curve, mix, cover = (
        figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1]),
        figure.add_subplot(grid[1, :]),
    )
    if stats.curve:
        cases = [point[0] for point in stats.curve]
        classes = [point[2] for point in stats.curve]
        curve.step(cases, classes, where="post")
        for seen in stats.divergences:
            curve.annotate(seen.name, (seen.first_case, 0), rotation=60, fontsize=7,
                           xytext=(0, 4), textcoords="offset points")
            curve.axvline(seen.first_case, color="grey", linewidth=0.5, linestyle=":")
    curve.yaxis.set_major_locator(MaxNLocator(integer=True))
    curve.set_xlabel("programs run")
    curve.set_ylabel("divergence classes found")
    curve.set_title(f"divergences over {stats.cases} programs ({stats.seconds:.0f} s)")
    kinds = stats.ops.most_common()
    mix.bar([kind for kind, _ in kinds], [count for _, count in kinds])
    mix.set_title("operation mix")
    mix.set_ylabel("operations")
    mix.tick_params(axis="x", rotation=45)
    names = [f"{name} ({cited})" for name, cited, _, _ in functions]
    reached = [programs for _, _, programs, _ in functions]
    colours = ["tab:blue" if count else "tab:red" for count in reached]
    cover.barh(names, reached, color=colours)
    cover.invert_yaxis()
    cover.tick_params(axis="y", labelsize=7)
    for label, count in zip(cover.get_yticklabels(), reached, strict=True):
        if not count:
            label.set_color("tab:red")
    cover.set_xlabel("programs that reached the function (red: not exercised)")
    cover.set_title(
        f"kernel-function coverage: {len(functions) - len(stats.coverage.unreached)} of "
        f"{len(functions)} reached"
    )
    figure.savefig(target, dpi=90)
    plt.close(figure)
