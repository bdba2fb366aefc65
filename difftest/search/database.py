"""Campaign example databases: `--db PATH` or `--db redis://HOST:PORT/N`, shared by every hunt,
worker and HypoFuzz process that names it.

The storage is hypothesis's own: `DirectoryBasedExampleDatabase` for a path,
`hypothesis.extra.redis.RedisExampleDatabase` for a Redis URL (the `redis` client is the optional
extra `ptediff[redis]`). What this module adds is the campaign's use of it:

* **Keys.** A hunt saves the failures it finds under its property's key (hypothesis's digest of
  the hunt test). The HypoFuzz targets of `ptediff.fuzz` save theirs under keys that depend on
  their pytest node ids, so the pytest plugin records each fuzz target's node id under
  `FUZZ_TARGETS_KEY` when it collects one; `campaign_keys` turns those back into keys.
* **Replay first.** `stored_programs` decodes every stored failure (hypothesis's choice
  sequences) into the program it generates; the hunt runs those before generating anything.
  The hunt itself never prunes a shared database: hypothesis deletes entries that no longer
  fail in its reuse phase, and a program that does not fail on this hunt's implementations may
  well fail on another machine's, so the hunt's chunks run without that phase and only add.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from hypothesis import Phase
from hypothesis import strategies as st
from hypothesis.control import BuildContext
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    choices_from_bytes,
)
from hypothesis.errors import StopTest
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.internal.reflection import function_digest
from ptediff.core.errors import PtediffError
from ptediff.core.program import Program

FUZZ_TARGETS_KEY = b"ptediff.fuzz-targets"  # values: node ids of collected ptediff.fuzz tests
DB_ENVIRONMENT = "PTEDIFF_DB"  # the database the `ptediff-db` hypothesis profile uses
# Redis entries expire unless touched; a campaign keeps its findings for a quarter.
REDIS_EXPIRY = timedelta(days=90)


class DatabaseError(PtediffError):
    """A `--db` that cannot be opened: a bad URL, a missing client or an unreachable server."""


def open_database(spec: str | os.PathLike[str]) -> ExampleDatabase:
    """The example database `spec` names: a directory path, or `redis://HOST:PORT/N`."""
    text = os.fspath(spec)
    if text.startswith(("redis://", "rediss://", "unix://")):
        return _redis_database(text)
    if "://" in text:
        raise DatabaseError(f"--db {text}: use a directory path or redis://HOST:PORT/N")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise DatabaseError(f"--db {text}: not a directory")
    return DirectoryBasedExampleDatabase(path)


def _redis_database(url: str) -> ExampleDatabase:
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise DatabaseError(
            f"--db {url}: the redis client is not installed (pip install 'ptediff[redis]')"
        ) from None
    parsed = urlparse(url)
    if parsed.scheme.startswith("redis") and not parsed.hostname:
        raise DatabaseError(f"--db {url}: no host (use redis://HOST:PORT/N)")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as error:
        raise DatabaseError(f"--db {url}: cannot use the Redis server: {error}") from None
    return RedisExampleDatabase(client, expire_after=REDIS_EXPIRY)


def without_reuse(phases: Sequence[Phase]) -> tuple[Phase, ...]:
    """Phases for a hunt chunk on a shared database: save failures, never replay or prune."""
    return tuple(phase for phase in phases if phase is not Phase.reuse)


def database_key(test: object, node_id: str | None = None) -> bytes:
    """The database key hypothesis (or HypoFuzz, which passes the node id) gives a @given test."""
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]
    had = hasattr(inner, "_hypothesis_internal_add_digest")
    old = getattr(inner, "_hypothesis_internal_add_digest", None)
    try:
        if node_id is not None:
            inner._hypothesis_internal_add_digest = node_id.encode()
        elif had:
            del inner._hypothesis_internal_add_digest
        return function_digest(inner)
    finally:
        if had:
            inner._hypothesis_internal_add_digest = old
        elif hasattr(inner, "_hypothesis_internal_add_digest"):
            del inner._hypothesis_internal_add_digest


def hunt_key() -> bytes:
    """The key the hunt's chunks save their failures under."""
    from ptediff.search.property import differential_test

    return database_key(differential_test(()))


def record_fuzz_target(database: ExampleDatabase, node_id: str) -> None:
    database.save(FUZZ_TARGETS_KEY, node_id.encode())


def campaign_keys(database: ExampleDatabase) -> list[bytes]:
    """The hunt's key, then the key of every fuzz target recorded in `database`."""
    keys = [hunt_key()]
    node_ids = sorted(value.decode() for value in database.fetch(FUZZ_TARGETS_KEY))
    if node_ids:
        from ptediff import fuzz

        keys.extend(database_key(fuzz.test_impl_agrees_with_spec, node_id) for node_id in node_ids)
    return keys


def stored_programs(
    database: ExampleDatabase,
    keys: Iterable[bytes],
    strategy: st.SearchStrategy[Program] | None = None,
) -> list[Program]:
    """Every failure stored under `keys`, as the program it generates (each program once, the
    simplest first: hypothesis's shortlex order on the choice sequences)."""
    from ptediff.search.strategies import programs

    strategy = strategy if strategy is not None else programs()
    entries = sorted(
        {entry for key in keys for entry in database.fetch(key)}, key=lambda e: (len(e), e)
    )
    seen: dict[Program, None] = {}
    for entry in entries:
        choices = choices_from_bytes(entry)
        if choices is None:
            continue
        data = ConjectureData.for_choices(choices)
        try:
            with BuildContext(data, wrapped_test=stored_programs):
                program = data.draw(strategy)
        except (StopTest, Exception):  # an entry of another strategy's choices, or cut short
            continue
        if isinstance(program, Program):
            seen.setdefault(program, None)
    return list(seen)
