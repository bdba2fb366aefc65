"""Shared types at the bottom of ptediff: the program AST, outcomes, errors, frame renaming.

Nothing here imports any other part of ptediff; the spec, the kernel models, the DSL, the judge,
the search and the reports all build on these modules.
"""
