"""Benchmarks of the helpers and the sandbox against their targets: ``python -m bench``."""
