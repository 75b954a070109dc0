"""Accuracy protocols and speed benchmarks, run as `python -m videostar_benchmarks.<name>`."""
