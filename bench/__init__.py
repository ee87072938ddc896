"""Benchmarks: ratios against a baseline measured in the same run (docs/performance.md)."""
