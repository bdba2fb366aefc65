"""`--db redis://HOST:PORT/N` against a real redis-server this module starts on a free port of
127.0.0.1 and stops afterwards: hunts (and `--jobs` workers) sharing one database see each
other's findings.

`.ci/run` (and the README's test command) install redis-server; where it cannot be installed
the tests skip, saying so.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ptediff.cli.main import main
from ptediff.search.database import open_database
from ptediff.search.hunt import hunt
from test_report_schema import validate_report

redis = pytest.importorskip("redis", reason="the redis client is a test dependency: "
                                            "pip install -e '.[test]'")

FIX2 = ("prefix-pte-unmap-arg", "kmap-leak:remove_migration_pte")
SWAPON = ("prefix", "kernel-bug:sys_swapon")  # fix 4 on the all-fixes-reverted model


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs it with apt-get; "
                    "it could not be installed here)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    pytest.fail(f"redis-server exited with status {process.returncode}")
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer within 5 s")
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_two_hunts_sharing_one_redis_database_see_each_others_findings(redis_url: str) -> None:
    url = f"{redis_url}/1"
    first = hunt([FIX2[0]], max_examples=300, seed=1, profile="ci", database=open_database(url))
    second = hunt([SWAPON[0]], max_examples=2000, seed=1, profile="ci", until={SWAPON},
                  database=open_database(url))
    assert first.finding(*FIX2) is not None and second.finding(*SWAPON) is not None

    both = [FIX2[0], SWAPON[0]]
    for again_seed in (2, 3):  # either machine, with any seed: both findings at once
        again = hunt(both, max_examples=1, seed=again_seed, profile="ci",
                     database=open_database(url))
        for key in (FIX2, SWAPON):
            finding = again.finding(*key)
            assert finding is not None and finding.from_database, key
            assert finding.examples_to_first <= again.replayed


def test_jobs_workers_share_the_redis_database(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{redis_url}/2"
    code = main(["hunt", "--impl", FIX2[0], "--jobs", "2", "--max-examples", "200", "--seed",
                 "1", "--profile", "ci", "--db", url, "--no-progress", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    validate_report(document)
    assert code == 0 and document["jobs"] == 2
    assert [f["signature"] for f in document["findings"]] == [FIX2[1]]

    code = main(["hunt", "--impl", FIX2[0], "--max-examples", "1", "--db", url, "--no-progress",
                 "--format", "json", "--save", str(tmp_path)])
    document = json.loads(capsys.readouterr().out)
    [finding] = document["findings"]
    assert finding["from_database"] and finding["examples_to_first"] == 1
    assert Path(finding["saved"]).parent == tmp_path


def test_an_unreachable_redis_server_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["hunt", "--db", f"redis://127.0.0.1:{_free_port()}/0", "--max-examples", "1",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot use the Redis server" in err and "Traceback" not in err
