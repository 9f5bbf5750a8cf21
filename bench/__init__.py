"""Benchmarks: synthetic data generators and timed runs, each figure next to its floor."""
