"""Campaign benchmarks: `hunt --jobs N` scaling and the cost of kernel-function coverage.

    python -m bench.jobs                       # N = 1 and 2, 60 s hunts, seeds 1 and 2
    python -m bench.jobs --seconds 20 --seeds 1
    python -m bench.jobs --coverage-only

Scaling: a hunt of every registered model under each `--jobs N`, the same seeds; examples/s
(all workers together) and the seconds to the first failure of each folded fix on `prefix`
and on its own variant. Coverage: the same drawn programs through the differential property
(spec and every model, four schedule variants) with and without the call counter, and the
models alone, counted and plain, in CPU time (less sensitive to the machine's load than wall
clock). Figures depend on the machine and its load: say which.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Sequence

from hypothesis import Phase, given, settings
from hypothesis import seed as with_seed
from ptediff import impls
from ptediff.core.program import Program
from ptediff.impls.coverage import counted
from ptediff.judge.check import clear_cache
from ptediff.search.coverage import KernelCoverage
from ptediff.search.jobs import Campaign, run_campaign
from ptediff.search.property import DifferentialProperty, resolve_impls
from ptediff.search.strategies import programs

ROUNDS = 5  # alternating passes; the minimum of each kind is reported
# (implementation, class): each folded fix where README's hunt table shows it
FIXES = {
    "fix 1": [("prefix", "orphan-migration-entry"),
              ("prefix-anon-vma-head", "orphan-migration-entry")],
    "fix 2": [("prefix", "kmap-leak:remove_migration_pte"),
              ("prefix-pte-unmap-arg", "kmap-leak:remove_migration_pte")],
    "fix 3": [("prefix", "shared-writable"), ("prefix-cow-fork-write", "shared-writable")],
    "fix 4": [("prefix", "kernel-bug:sys_swapon"),
              ("prefix-swapon-range", "kernel-bug:sys_swapon")],
}


def scaling(jobs: Sequence[int], seconds: float, seeds: Sequence[int]) -> None:
    """Each seed under every N in turn (so a change in the machine's load hits all N alike)."""
    print(f"hunt of every registered model, {seconds:g} s, seeds {list(seeds)}; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    columns = [(name, impl, cls) for name, fix in FIXES.items() for impl, cls in fix]
    print(f"{'jobs':>4}  {'seed':>4}  {'examples':>8}  {'ex/s':>6}  {'cpu s':>6}  "
          f"{'ex/cpu s':>8}  " + "  ".join(f"{name} {impl}" for name, impl, _ in columns))
    rates: dict[int, list[float]] = {}
    per_cpu: dict[int, list[float]] = {}
    ttf: dict[tuple[int, str, str], list[float]] = {}
    for seed in seeds:
        for n in jobs:
            campaign = Campaign(impls=None, max_examples=None, seconds=seconds, seed=seed,
                                profile="dev", save_dir=None, check_invariants=False,
                                database=None, observe=None)
            cpu_before = _cpu_seconds()
            report = run_campaign(n, campaign)
            cpu = _cpu_seconds() - cpu_before
            rates.setdefault(n, []).append(report.examples / report.seconds)
            per_cpu.setdefault(n, []).append(report.examples / cpu)
            cells = []
            for _, impl, cls in columns:
                found = report.finding(impl, cls)
                value = found.seconds_to_first if found else float("inf")
                ttf.setdefault((n, impl, cls), []).append(value)
                cells.append(_fmt(value))
            print(f"{n:>4}  {seed:>4}  {report.examples:>8}  {rates[n][-1]:>6.1f}  {cpu:>6.1f}  "
                  f"{per_cpu[n][-1]:>8.1f}  " + "  ".join(cells), flush=True)
    print(f"\nmedians (load average {os.getloadavg()[0]:.1f} at the end)")
    for n in jobs:
        medians = ", ".join(
            f"{name} {impl}: {_fmt(statistics.median(ttf[(n, impl, cls)]))}"
            for name, impl, cls in columns
        )
        print(f"jobs {n}: {statistics.median(rates[n]):.1f} examples/s, "
              f"{statistics.median(per_cpu[n]):.1f} per CPU second; seconds to first: {medians}")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _fmt(value: float) -> str:
    return "> budget" if value == float("inf") else f"{value:.1f}"


def drawn_programs(count: int, seed: int = 20_060_623) -> list[Program]:
    drawn: list[Program] = []

    @with_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate])
    @given(programs())
    def draw(program: Program) -> None:
        drawn.append(program)

    draw()
    return drawn


def coverage_overhead(count: int) -> None:
    drawn = drawn_programs(count)
    named = resolve_impls(list(impls.REGISTRY))
    kernels = [kernel for _, kernel in named]

    def check(coverage: KernelCoverage | None) -> float:
        clear_cache()  # the spec's outcomes too, as for a newly generated program
        prop = DifferentialProperty(named, schedule_variants=4, coverage=coverage)
        started = time.process_time()
        for program in drawn:
            prop.runs(program)
        return time.process_time() - started

    def models(wrap: bool) -> float:
        started = time.process_time()
        for program in drawn:
            for kernel in kernels:
                impls.run(counted(kernel) if wrap else kernel, program, check_invariants=False)
        return time.process_time() - started

    check(None)  # warm up once; then alternate the passes so load hits both alike
    samples: dict[str, list[float]] = {"plain": [], "coverage": [], "bare": [], "wrapped": []}
    for _ in range(ROUNDS):
        samples["plain"].append(check(None))
        samples["coverage"].append(check(KernelCoverage.of(kernels)))
        samples["bare"].append(models(False))
        samples["wrapped"].append(models(True))
    plain, with_coverage, bare, wrapped = (min(samples[k]) for k in samples)
    print(f"{len(drawn)} programs, {len(kernels)} models (load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"differential property: {plain / len(drawn) * 1e3:.2f} ms/program plain, "
          f"{with_coverage / len(drawn) * 1e3:.2f} with coverage "
          f"(+{(with_coverage / plain - 1) * 100:.1f}%)")
    print(f"models alone: {bare / len(drawn) * 1e3:.2f} ms/program plain, "
          f"{wrapped / len(drawn) * 1e3:.2f} counted (+{(wrapped / bare - 1) * 100:.1f}%)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__)
    parser.add_argument("--jobs", type=int, action="append", help="N to measure (repeatable)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--programs", type=int, default=300, help="for the coverage figure")
    parser.add_argument("--coverage-only", action="store_true")
    args = parser.parse_args(argv)
    coverage_overhead(args.programs)
    if not args.coverage_only:
        print()
        scaling(args.jobs or [1, 2], args.seconds, range(1, args.seeds + 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
