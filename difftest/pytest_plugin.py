"""pytest plugin: every `.pte` file under the `pte_paths` directories is a set of tests.

One item per (file, implementation): the implementations named by the file's `expect` lines,
or every registered one when it has none. An item passes iff `ptediff.judge.verdict.evaluate`
passes: the verdict and signatures its `expect` line asks for, and every `=> RESULT`. A failing
item shows the verdict's messages and the divergence tables of `ptediff.report.divergence`, not a
traceback; a file that does not parse shows the DSL error.

Registered through the `pytest11` entry point `ptediff.pytest_plugin` (the module's own name,
so `-p ptediff.pytest_plugin` is harmless), so a plain `pytest` run picks it up.
The ini option `pte_paths` (default `tests/regressions`, relative to the ini file's directory)
lists the directories to collect from; a `.pte` file named on the command line, or under a
directory named on the command line, is collected wherever it is. Heavy imports (parser, spec,
models) wait until a `.pte` file is collected, so the plugin costs nothing to test runs that
have none.

Reporting: a file that does not parse is a collection error showing the DSL error (file:line:col,
caret, hint) and the session goes on with the other files; a model that raises fails its item as
`crash:<type>` with the place it raised; a tool limit (BudgetExceeded) fails its item as "no
verdict" with what to do; anything else unexpected shows a traceback cut to ptediff's frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ptediff.core.errors import BudgetExceeded, ModelCrash, PtediffError

if TYPE_CHECKING:
    from ptediff.core.program import Program
    from ptediff.judge.verdict import Verdict

DEFAULT_PTE_PATHS = ["tests/regressions"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "pte_paths",
        type="linelist",
        default=DEFAULT_PTE_PATHS,
        help="directories (relative to the ini file) whose .pte files are collected as tests",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".pte":
        return None
    session = parent.session
    if session.isinitpath(file_path):
        return PteFile.from_parent(parent, path=file_path)
    if file_path.name.startswith("."):  # hidden: an editor's or a killed save's temporary
        return None
    if (
        _under_command_line_paths(file_path, parent.config)
        or _under_pte_paths(file_path, parent.config)
    ):
        return PteFile.from_parent(parent, path=file_path)
    return None


def _under_command_line_paths(file_path: Path, config: pytest.Config) -> bool:
    """Under a directory the user named on the command line (not the ini's testpaths, which
    hold broken `.pte` files on purpose in some projects: those go by `pte_paths`)."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    resolved = file_path.resolve()
    for arg in config.args:
        directory = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if directory.is_dir() and resolved.is_relative_to(directory):
            return True
    return False


def pte_directories(config: pytest.Config) -> list[Path]:
    base = config.inipath.parent if config.inipath else config.rootpath
    return [(base / entry).resolve() for entry in config.getini("pte_paths")]


def _under_pte_paths(file_path: Path, config: pytest.Config) -> bool:
    resolved = file_path.resolve()
    return any(resolved.is_relative_to(directory) for directory in pte_directories(config))


class PteFile(pytest.File):
    """A `.pte` file: parsed once, one item per implementation it is checked against."""

    def collect(self) -> Iterator[PteItem]:
        from ptediff.dsl.parse import parse_file

        program = parse_file(self.path)
        expect_lines = {expect.impl: expect.pos for expect in program.expects}
        names = list(expect_lines) or _registered_names()
        for name in names:
            pos = expect_lines.get(name)
            yield PteItem.from_parent(
                self, name=name, program=program, impl=name, line=pos.line if pos else None
            )

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        # pytest.Collector.repr_failure takes `excinfo` only (the audit's INTERNALERROR)
        if isinstance(excinfo.value, PtediffError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _traceback_filter(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        return _ptediff_frames(super()._traceback_filter(excinfo))


class PteFailure(Exception):
    """An item whose verdict did not pass (carries it for the report)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__("; ".join(verdict.messages))
        self.verdict = verdict


class PteCrash(Exception):
    """An item whose model raised (carries the located crash for the report)."""

    def __init__(self, crash: ModelCrash) -> None:
        super().__init__(crash.describe())
        self.crash = crash


def _ptediff_frames(traceback: Any) -> Any:
    """The traceback without pytest's and pluggy's own frames: what is left is ptediff's (and
    a user model's) code, a screen rather than ~1000 lines."""
    kept = traceback.filter(
        lambda entry: not any(part in str(entry.path) for part in ("_pytest", "pluggy"))
    )
    return kept if len(kept) else traceback


class PteItem(pytest.Item):
    """One implementation checked against one `.pte` program's expectations."""

    def __init__(self, *, program: Program, impl: str, line: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.program = program
        self.impl = impl
        self.line = line  # of the `expect` line that asks for this item, if any

    def runtest(self) -> None:
        from ptediff.judge.verdict import evaluate

        try:
            verdict = evaluate(self.program, self.impl)
        except ModelCrash as crash:
            raise PteCrash(crash) from None
        if not verdict.passed:
            raise PteFailure(verdict)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        error = excinfo.value
        where = f"{self.path.name}:{self.line}" if self.line else self.path.name
        if isinstance(error, PteFailure):
            return self._describe(error.verdict)
        if isinstance(error, PteCrash):
            crash = error.crash
            return f"{where}: {self.impl} diverges: {crash.cls}: {crash.describe()}"
        if isinstance(error, BudgetExceeded):
            return f"{where}: no verdict for {self.impl}: {error}"
        if isinstance(error, PtediffError):
            return f"{self.nodeid}: {error}"
        return super().repr_failure(excinfo, style)

    def _traceback_filter(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        return _ptediff_frames(super()._traceback_filter(excinfo))

    def _describe(self, verdict: Verdict) -> str:
        from ptediff.report.divergence import format_divergence

        where = f"{self.path.name}:{self.line}" if self.line else self.path.name
        lines = [f"{where}: {self.impl} did not meet its expectation"]
        lines += [f"  {message}" for message in verdict.messages]
        lines += ["", format_divergence(self.program, verdict.judgement, self.impl).rstrip("\n")]
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.line - 1 if self.line else None  # pytest counts lines from 0
        # The domain is the item's name alone: pytest's verbose line appends it to the file's
        # node id after turning dots into `::`, which would garble `fix3.pte`.
        return self.path, line, self.name


def _registered_names() -> list[str]:
    from ptediff.dsl.values import registered_impls

    return list(registered_impls())


# --------------------------------------------------------------------------------------------
# Campaigns: the fuzz targets of ptediff.fuzz and the `ptediff-db` hypothesis profile.


def _register_campaign_profile() -> None:
    """`--hypothesis-profile ptediff-db`: hypothesis's default settings with the example
    database PTEDIFF_DB names (a directory or redis://HOST:PORT/N), for HypoFuzz and pytest."""
    import os
    import sys

    spec = os.environ.get("PTEDIFF_DB")
    if not spec:
        return
    from hypothesis import settings
    from ptediff.search.database import open_database

    try:
        settings.register_profile("ptediff-db", database=open_database(spec))
    except PtediffError as error:
        print(f"ptediff: PTEDIFF_DB: {error}", file=sys.stderr)


_register_campaign_profile()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Record each collected fuzz target's node id in the example database in force, so that
    `ptediff hunt --db` finds the key its failures are stored under (HypoFuzz and hypothesis
    derive it from the node id)."""
    targets = [item.nodeid for item in items if _is_fuzz_target(item)]
    if not targets:
        return
    from hypothesis import settings
    from ptediff.search.database import record_fuzz_target

    database = settings().database
    if database is not None:
        for node_id in targets:
            record_fuzz_target(database, node_id)


def _is_fuzz_target(item: pytest.Item) -> bool:
    """A test of ptediff.fuzz, however pytest imported the file (by path, the module may be
    named after the repository folder)."""
    if not isinstance(item, pytest.Function) or item.originalname != FUZZ_TEST:
        return False
    from ptediff import fuzz

    return item.path.resolve() == Path(fuzz.__file__).resolve()


FUZZ_TEST = "test_impl_agrees_with_spec"

