"""The test suite runs hypothesis derandomized: the same examples on every run and machine."""

from hypothesis import settings

settings.register_profile("ptediff-tests", derandomize=True, deadline=None, database=None)
settings.load_profile("ptediff-tests")
