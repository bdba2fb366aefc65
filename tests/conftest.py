"""The test suite runs hypothesis derandomized: the same examples on every run and machine."""

from hypothesis import settings

settings.register_profile("ptediff-tests", derandomize=True, deadline=None, database=None)
settings.load_profile("ptediff-tests")

# Broken `.pte` files kept on purpose as inputs of the DSL-error tests: never test items, even
# when `pytest tests/cover` names their directory on the command line.
collect_ignore_glob = ["cover/dsl_errors/*.pte", "cover/reliability/*.pte"]
