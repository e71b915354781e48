"""Benchmarks and fault drills (not part of the service)."""
