"""Benchmarks: each compares a measurement with a floor measured in the same run."""
