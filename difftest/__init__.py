"""difftest package."""
