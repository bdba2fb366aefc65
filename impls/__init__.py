"""impls package."""
