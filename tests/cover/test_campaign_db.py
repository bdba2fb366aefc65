"""Campaign databases (`--db PATH`): a hunt replays stored failures first, saves new ones, never
prunes; failures of the `ptediff.fuzz` targets (HypoFuzz's, or a pytest run's) replay too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, seed, settings
from ptediff import fuzz
from ptediff.cli.main import main
from ptediff.search.database import (
    DatabaseError,
    campaign_keys,
    database_key,
    open_database,
    record_fuzz_target,
    stored_programs,
)
from ptediff.search.hunt import hunt
from ptediff.search.property import DivergenceFound
from ptediff.search.strategies import programs

FIX2_IMPL = "prefix-pte-unmap-arg"
FIX2 = "kmap-leak:remove_migration_pte"


def test_a_second_hunt_finds_the_first_hunts_failure_at_its_first_example(tmp_path: Path) -> None:
    database = open_database(tmp_path / "db")
    first = hunt([FIX2_IMPL], max_examples=300, seed=1, profile="ci", database=database)
    found = first.finding(FIX2_IMPL, FIX2)
    assert found is not None and not found.from_database
    assert first.replayed == 0

    again = hunt([FIX2_IMPL], max_examples=1, seed=2, profile="ci", database=database)
    replayed = again.finding(FIX2_IMPL, FIX2)
    assert replayed is not None and replayed.from_database
    assert replayed.examples_to_first == 1
    assert again.replayed >= 1
    assert replayed.program == found.program  # the same minimal program, simplified again


def test_a_hunt_that_does_not_fail_on_a_stored_program_keeps_it(tmp_path: Path) -> None:
    database = open_database(tmp_path / "db")
    hunt([FIX2_IMPL], max_examples=300, seed=1, profile="ci", database=database)
    stored = stored_programs(database, campaign_keys(database))
    assert stored

    postfix = hunt(["postfix"], max_examples=1, seed=3, profile="ci", database=database)
    assert postfix.findings == [] and postfix.replayed == len(stored)
    assert stored_programs(database, campaign_keys(database)) == stored  # nothing pruned

    later = hunt([FIX2_IMPL], max_examples=1, seed=4, profile="ci", database=database)
    assert later.finding(FIX2_IMPL, FIX2) is not None


def test_a_fuzz_target_failure_replays_through_hunt_and_is_saved(tmp_path: Path) -> None:
    """What `hypothesis fuzz -- --pyargs ptediff.fuzz` leaves behind: a failure under the key
    HypoFuzz derives from the target's node id, and the node id the plugin records."""
    database = open_database(tmp_path / "db")
    node_id = f"difftest/fuzz.py::test_impl_agrees_with_spec[{FIX2_IMPL}]"
    inner = fuzz.test_impl_agrees_with_spec.hypothesis.inner_test
    inner._hypothesis_internal_add_digest = node_id.encode()  # as HypoFuzz sets it
    try:
        # the target's own test function, with a database instead of the suite's settings
        # (settings after seed: a seed alone turns the database off)
        target = settings(database=database, derandomize=False, max_examples=500)(
            seed(7)(given(program=programs())(inner)))
        with pytest.raises(DivergenceFound) as failure:
            target(impl=FIX2_IMPL)
    finally:
        del inner._hypothesis_internal_add_digest
    assert (failure.value.impl, failure.value.cls) == (FIX2_IMPL, FIX2)
    assert list(database.fetch(database_key(fuzz.test_impl_agrees_with_spec, node_id)))
    record_fuzz_target(database, node_id)

    saved = tmp_path / "saved"
    replayed = hunt([FIX2_IMPL], max_examples=1, seed=1, profile="ci", database=database,
                    save_dir=saved)
    finding = replayed.finding(FIX2_IMPL, FIX2)
    assert finding is not None and finding.from_database and finding.examples_to_first == 1
    assert finding.saved is not None and finding.saved.parent == saved
    assert f"expect {FIX2_IMPL} diverges {FIX2}" in finding.saved.read_text()


# Variables by which hypothesis knows it runs under CI, where its default profile has no
# example database (so a CI run would record nothing to look at).
CI_VARIABLES = ("CI", "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI", "TF_BUILD", "bamboo.buildKey",
                "BUILDKITE", "CIRCLECI", "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS",
                "GITLAB_CI", "HEROKU_TEST_RUN_ID", "TEAMCITY_VERSION")


def test_the_plugin_records_collected_fuzz_targets(tmp_path: Path) -> None:
    outside_ci = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "ptediff.fuzz", "--collect-only", "-q",
         "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False, env=outside_ci,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    database = open_database(tmp_path / ".hypothesis" / "examples")
    keys = campaign_keys(database)
    assert len(keys) == 1 + len(fuzz.impls.REGISTRY)  # the hunt's, then one per target


def test_bad_databases_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(DatabaseError, match="not a directory"):
        open_database(a_file)
    with pytest.raises(DatabaseError, match="directory path or redis"):
        open_database("http://example.invalid/db")
    with pytest.raises(DatabaseError, match="cannot use the Redis server"):
        open_database("redis://127.0.0.1:1/0")  # nothing listens on port 1
    code = main(["hunt", "--db", str(a_file), "--max-examples", "1", "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2 and "not a directory" in err and "Traceback" not in err


def test_the_ptediff_db_profile_points_pytest_and_hypofuzz_at_the_campaign_database(
    tmp_path: Path,
) -> None:
    campaign = tmp_path / "campaign-db"
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "ptediff.fuzz", "--collect-only", "-q",
         "-p", "no:cacheprovider", "--hypothesis-profile", "ptediff-db"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PTEDIFF_DB": str(campaign)},
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert len(campaign_keys(open_database(campaign))) == 1 + len(fuzz.impls.REGISTRY)
    assert not (tmp_path / ".hypothesis" / "examples").exists()  # not the default one
