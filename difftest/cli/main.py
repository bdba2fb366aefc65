"""The `ptediff` command: argument parsing, one function per subcommand, exit codes.

Exit codes: 0 nothing unexpected; 1 an unexpected divergence or a failed expectation (or, for
`fmt --check`, a file that would change); 2 a usage, parse or validation error. User mistakes
surface as `ptediff.core.errors` exceptions and are printed as such, never as a traceback.

The search and exploration engines are imported inside their commands: they pull in hypothesis,
and `fmt`/`check` run from editors and CI hooks where start-up time matters.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from ptediff.core.errors import DslError, PtediffError, SpecError
from ptediff.core.program import Program
from ptediff.judge.signature import Signature
from ptediff.report import report, report_json
from ptediff.search.explore import ImplReport

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_ERROR = 2

FORMATS = ("plain", "markdown", "json")
DEFAULT_HUNT_SECONDS = 60.0
DEFAULT_PCT_DEPTH = 2
DEFAULT_PCT_SEED = 0


class UsageError(PtediffError):
    """A command-line argument that cannot be acted on (missing file, conflicting options)."""


Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2); argparse printed it
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    command: Command = args.run
    try:
        return command(args)
    except PtediffError as error:
        print_error(error)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ptediff: interrupted", file=sys.stderr)
        return 130  # the shell's convention for a SIGINT death
    except BrokenPipeError:  # `ptediff ... | head`: the reader left, nothing more to say
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptediff",
        description="Differential testing of Linux page-table code against an executable spec.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    hunt = commands.add_parser("hunt", help="search for divergences with generated programs")
    _add_impl_option(hunt, "implementation to search (repeatable; default: every registered one)")
    budget = hunt.add_mutually_exclusive_group()
    budget.add_argument("--max-examples", type=_positive_int, metavar="N",
                        help="generated programs to run, each on every chosen implementation")
    budget.add_argument("--seconds", type=_positive_float, metavar="S",
                        help=f"time budget (default: {DEFAULT_HUNT_SECONDS:g} s)")
    hunt.add_argument("--seed", type=int, help="make the search reproducible")
    hunt.add_argument("--save", type=Path, metavar="DIR",
                      help="write each new minimal divergence there as a .pte file")
    hunt.add_argument("--profile", default="dev",
                      help="hypothesis settings profile: ci, dev (default) or deep")
    hunt.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    hunt.add_argument("--invariants", action="store_true",
                      help="also report kernel invariant violations (slower)")
    _add_format_option(hunt)
    hunt.set_defaults(run=cmd_hunt)

    run = commands.add_parser("run", help="run .pte files on the spec and implementations")
    _add_paths_argument(run)
    _add_impl_option(run, "implementation to run (repeatable; default: the file's expect lines, "
                          "else every registered one)")
    _add_format_option(run)
    run.set_defaults(run=cmd_run)

    explore = commands.add_parser("explore", help="explore the schedules of a .pte file")
    explore.add_argument("file", type=Path, metavar="FILE")
    _add_impl_option(explore, "implementation to explore (repeatable; default: the file's expect "
                              "lines, else every registered one)")
    bound = explore.add_mutually_exclusive_group()
    bound.add_argument("--preemptions", type=_natural_int, default=2, metavar="N",
                       help="exhaustive up to N preemptions (default 2)")
    bound.add_argument("--unbounded", action="store_true", help="exhaustive, every schedule")
    bound.add_argument("--pct", type=_positive_int, metavar="RUNS",
                       help="PCT random schedules instead of enumeration")
    explore.add_argument("--depth", type=_positive_int, metavar="D",
                         help=f"PCT bug depth (default {DEFAULT_PCT_DEPTH})")
    explore.add_argument("--seed", type=int, help=f"PCT seed (default {DEFAULT_PCT_SEED})")
    _add_format_option(explore)
    explore.set_defaults(run=cmd_explore)

    fmt = commands.add_parser("fmt", help="rewrite .pte files in canonical form")
    _add_paths_argument(fmt)
    fmt.add_argument("--check", action="store_true",
                     help="change nothing; exit 1 listing the files that would change")
    fmt.set_defaults(run=cmd_fmt)

    check = commands.add_parser("check", help="parse and validate .pte files")
    _add_paths_argument(check)
    _add_format_option(check)
    check.set_defaults(run=cmd_check)

    impls = commands.add_parser("impls", help="list the registered implementations")
    _add_format_option(impls)
    impls.set_defaults(run=cmd_impls)
    return parser


def _add_paths_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="PATH",
                        help="a .pte file, or a directory standing for every .pte file under it")


def _add_impl_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--impl", action="append", dest="impls", metavar="NAME", help=help_text
                        + "; a registered name or package.module:Class")


def _add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="plain",
                        help="plain (terminal), markdown (reviews, CI summaries) or json (scripts)")


def _positive_int(text: str) -> int:
    value = _natural_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _natural_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("must be finite: stop a hunt early with Ctrl-C")
    return value


# ---------------------------------------------------------------------------------------------
# fmt, check, impls
# ---------------------------------------------------------------------------------------------


def cmd_fmt(args: argparse.Namespace) -> int:
    from ptediff.dsl.printer import format_program

    changed: list[Path] = []
    failed = False
    for path in expand_paths(args.files):
        try:
            text = read_source(path)
            canonical = format_program(parse_source(text, path))
        except PtediffError as error:
            print_error(error)
            failed = True
            continue
        if canonical == text:
            continue
        changed.append(path)
        if args.check:
            print(f"would reformat {path}")
        else:
            write_atomically(path, canonical)
            print(f"reformatted {path}")
    if failed:
        return EXIT_ERROR
    return EXIT_UNEXPECTED if args.check and changed else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    checked: list[report.CheckedFile] = []
    for path in expand_paths(args.files):
        try:
            checked.append(report.CheckedFile(str(path), parse_source(read_source(path), path)))
        except PtediffError as error:
            print_error(error)
            checked.append(report.CheckedFile(str(path), None, error))
    emit(args.format, report.check_blocks(checked), lambda: report_json.check_json(checked))
    return EXIT_ERROR if any(c.program is None for c in checked) else EXIT_OK


def cmd_impls(args: argparse.Namespace) -> int:
    from ptediff.impls import REGISTRY

    emit(args.format, report.impls_blocks(REGISTRY), lambda: report_json.impls_json(REGISTRY))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Files and output
# ---------------------------------------------------------------------------------------------


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a directory stands for every `.pte` file under it, in sorted order."""
    expanded: list[Path] = []
    for path in paths:
        if not path.is_dir():
            expanded.append(path)
            continue
        found = sorted(path.rglob("*.pte"))
        if not found:
            raise UsageError(f"{path}: a directory without .pte files")
        expanded.extend(found)
    return expanded


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a .pte file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (it is not valid UTF-8)") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read it: {error.strerror}") from None


def parse_source(text: str, path: Path) -> Program:
    from ptediff.dsl.parse import parse

    return parse(text, str(path))


def load_program(path: Path) -> Program:
    return parse_source(read_source(path), path)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` so that a reader sees the old file or the new one, never half."""
    mode = path.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def emit(
    fmt: str,
    blocks: Sequence[report.Block],
    document: Callable[[], dict[str, Any]],
    out: TextIO | None = None,
) -> None:
    """Print a report in the chosen format: text from blocks, or the JSON document."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(json.dumps(document(), indent=2, sort_keys=False) + "\n")
    else:
        out.write(report.render(blocks, "markdown" if fmt == "markdown" else "plain"))


def print_error(error: PtediffError) -> None:
    """A DSL error already names file:line:col and shows the caret; others get a prefix."""
    print(error if isinstance(error, DslError) else f"ptediff: error: {error}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# run, explore
# ---------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from ptediff.judge.verdict import evaluate

    chosen = resolve_impls(args.impls)
    files: list[report.RunFile] = []
    unreadable: list[PtediffError] = []
    for path in expand_paths(args.files):
        try:
            program = load_program(path)
        except PtediffError as error:
            print_error(error)
            unreadable.append(error)
            continue
        try:
            verdicts = [evaluate(program, impl) for impl in chosen or default_impls(program)]
        except SpecError as error:
            files.append(report.RunFile(str(path), program, (), str(error)))
            continue
        files.append(report.RunFile(str(path), program, tuple(verdicts)))
    emit(args.format, report.run_blocks(files), lambda: report_json.run_json(files, unreadable))
    if unreadable:
        return EXIT_ERROR
    return EXIT_UNEXPECTED if any(not f.passed for f in files) else EXIT_OK


def cmd_explore(args: argparse.Namespace) -> int:
    from ptediff.search.explore import explore
    from ptediff.search.pct import pct

    if args.pct is None and (args.depth is not None or args.seed is not None):
        raise UsageError("--depth and --seed choose PCT schedules: use them with --pct RUNS")
    chosen = resolve_impls(args.impls)
    program = load_program(args.file)
    names = chosen or default_impls(program)
    if args.pct is not None:
        depth = DEFAULT_PCT_DEPTH if args.depth is None else args.depth
        seed = DEFAULT_PCT_SEED if args.seed is None else args.seed
        exploration = pct(program, names, runs=args.pct, depth=depth, seed=seed)
    else:
        bound = None if args.unbounded else args.preemptions
        exploration = explore(program, names, preemption_bound=bound)
    unexpected = {
        impl.impl: reason
        for impl in exploration.impls
        if (reason := exploration_surprise(program, impl)) is not None
    }
    path = str(args.file)
    emit(
        args.format,
        report.explore_blocks(path, program, exploration, unexpected),
        lambda: report_json.explore_json(path, program, exploration, unexpected),
    )
    return EXIT_UNEXPECTED if unexpected else EXIT_OK


def exploration_surprise(program: Program, impl: ImplReport) -> str | None:
    """Why an implementation's explored schedules contradict its expectation, if they do.

    Same rules as `ptediff.judge.verdict`, over every schedule: an implementation expected to agree
    must agree in all of them; one expected to diverge must show each listed signature class
    in at least one.
    """
    from ptediff.judge.signature import matches
    from ptediff.judge.verdict import POSTFIX, expectation_for

    expect = expectation_for(program, impl.impl)
    if expect is None and impl.impl != POSTFIX:
        return None
    if expect is None or expect.verdict == "agrees":
        diverging = impl.schedules - impl.agreeing
        return f"diverges in {diverging} of {impl.schedules} schedules" if diverging else None
    shown = [Signature(cls) for cls in impl.classes]
    missing = [name for name in expect.signatures if not any(matches(name, s) for s in shown)]
    if not impl.classes:
        return "expected to diverge, agrees in every schedule"
    return f"never shows {', '.join(missing)}" if missing else None


def resolve_impls(names: Sequence[str] | None) -> list[str]:
    """The `--impl` names, each checked to load (ImplLoadError otherwise); [] when none given."""
    from ptediff import impls

    for name in names or ():
        impls.load(name)
    return list(dict.fromkeys(names or ()))


def default_impls(program: Program) -> list[str]:
    """Without `--impl`: the implementations the file's `expect` lines name, else all."""
    from ptediff import impls

    named = list(dict.fromkeys(expect.impl for expect in program.expects))
    return named or list(impls.REGISTRY)


# ---------------------------------------------------------------------------------------------
# hunt
# ---------------------------------------------------------------------------------------------


class ProgressLine:
    """The hunt's progress on stderr: examples run, divergences found, time left.

    On a terminal one line is redrawn in place, with a bar; otherwise (CI logs, pipes) a plain
    line is written only when the progress crosses a tenth of the budget or a divergence is
    found, so a log stays short. It only displays what the engine reports: no clock of its own.
    """

    WIDTH = 24

    def __init__(
        self, stream: TextIO, *, max_examples: int | None, seconds: float | None, tty: bool
    ) -> None:
        self.stream = stream
        self.max_examples = max_examples
        self.seconds = seconds
        self.tty = tty
        self.last_tenth = -1
        self.last_divergences = -1
        self.drawn = False

    def __call__(self, examples: int, divergences: int, seconds_left: float | None) -> None:
        fraction = self.fraction(examples, seconds_left)
        if not self.tty:
            tenth = int(fraction * 10) if fraction is not None else examples // 100
            if tenth == self.last_tenth and divergences == self.last_divergences:
                return
            self.last_tenth, self.last_divergences = tenth, divergences
        self._show(examples, divergences, seconds_left, fraction)

    def finish(self, examples: int, divergences: int) -> None:
        """The final counts (shrinking runs examples past the budget), then end the line."""
        self._show(examples, divergences, None, 1.0)
        self.close()

    def _show(
        self, examples: int, divergences: int, seconds_left: float | None, fraction: float | None
    ) -> None:
        counts = f"{examples} examples, {divergences} divergence{'s' * (divergences != 1)}"
        left = f", {seconds_left:.0f} s left" if seconds_left is not None else ""
        if self.tty:
            filled = round(fraction * self.WIDTH) if fraction is not None else 0
            bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] " if fraction is not None else ""
            self.stream.write(f"\rhunt {bar}{counts}{left}\033[K")
            self.drawn = True
        else:
            self.stream.write(f"hunt: {counts}{left}\n")
        self.stream.flush()

    def fraction(self, examples: int, seconds_left: float | None) -> float | None:
        if self.seconds and seconds_left is not None:
            return min(max(1 - seconds_left / self.seconds, 0.0), 1.0)
        if self.max_examples:
            return min(examples / self.max_examples, 1.0)
        return None

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def cmd_hunt(args: argparse.Namespace) -> int:
    from ptediff.search.hunt import hunt
    from ptediff.search.profiles import PROFILES

    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}: use one of {', '.join(PROFILES)}")
    if args.save is not None and args.save.exists() and not args.save.is_dir():
        raise UsageError(f"--save {args.save}: not a directory")
    chosen = resolve_impls(args.impls)
    seconds = args.seconds
    if seconds is None and args.max_examples is None:
        seconds = DEFAULT_HUNT_SECONDS
    progress = None
    if not args.no_progress:
        progress = ProgressLine(sys.stderr, max_examples=args.max_examples, seconds=seconds,
                                tty=sys.stderr.isatty())
    try:
        found = hunt(
            chosen or None,
            max_examples=args.max_examples,
            seconds=seconds,
            seed=args.seed,
            profile=args.profile,
            save_dir=args.save,
            progress=progress,
            check_invariants=args.invariants,
        )
    except BaseException:
        if progress is not None:
            progress.close()
        raise
    if progress is not None:
        progress.finish(found.examples, len(found.findings))
    for error in found.errors:
        print(f"ptediff: hunt: {error}", file=sys.stderr)
    findings = [report.HuntFinding.of(f, expected=reverts_something(f.impl))
                for f in found.findings]
    emit(
        args.format,
        report.hunt_blocks(found, findings, saving=args.save is not None),
        lambda: report_json.hunt_json(found, findings),
    )
    surprises = [f for f in findings if not f.expected]
    return EXIT_UNEXPECTED if surprises or found.errors else EXIT_OK


def reverts_something(impl: str) -> bool:
    """Whether divergences of `impl` are expected: it reverts a fix (a non-empty REVERTS).

    `postfix`, and a user's class that reverts nothing, should agree with the spec.
    """
    from ptediff import impls

    return bool(getattr(impls.load(impl), "REVERTS", ""))
