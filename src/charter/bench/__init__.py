"""Benchmarks run by `charter bench ...`; they print figures, never assert timings."""
