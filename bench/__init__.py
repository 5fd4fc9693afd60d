"""Benchmarks: each prints JSON lines with its figures and the ratio to a same-run baseline."""
